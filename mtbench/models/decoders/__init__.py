"""Per-task decoders."""
from .hrnet_head import HRNetFusionHead
from .sinewich_group import SinewichDecoderGroup

__all__ = ['HRNetFusionHead', 'SinewichDecoderGroup']
