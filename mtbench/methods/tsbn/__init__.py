"""TSBN / TSσBN: task-specific normalisation layers with one stream per task."""
from .backbone import TaskNormSwinTransformer
from .norm import MODES, TaskLayerNorm
from .tsbn import SITES, TSBN

__all__ = ['TSBN', 'TaskLayerNorm', 'TaskNormSwinTransformer', 'MODES', 'SITES']
