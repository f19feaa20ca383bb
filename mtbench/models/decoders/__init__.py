"""Per-task decoders."""
from .hrnet_head import HRNetFusionHead

__all__ = ['HRNetFusionHead']
