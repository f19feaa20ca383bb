"""VL-Adapter: bottleneck adapters shared across tasks (arXiv 2112.06825)."""
from .layer import SHARED_HALVES, TaskAdaptedLinear
from .vl_adapter import SHARING_MODES, VLAdapter

__all__ = ['VLAdapter', 'TaskAdaptedLinear', 'SHARING_MODES', 'SHARED_HALVES']
