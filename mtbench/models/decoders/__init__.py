"""Per-task decoders."""
from .hrnet_head import HRNetFusionHead
from .sinewich_group import SinewichDecoderGroup
from .task_spectral import TaskSpectralPyramidalDecoder

__all__ = ['HRNetFusionHead', 'SinewichDecoderGroup', 'TaskSpectralPyramidalDecoder']
