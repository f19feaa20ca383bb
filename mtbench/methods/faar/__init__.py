"""FAAR: DoRA adapters with performance-driven rank shrinking (PDRS) for multi-task Swin."""
from .adapter import MASKED_SCORES, DoRAAdapter, prefix_length
from .faar import FAAR, TRAINABLE_EXTRAS
from .layer import DoRALinear
from .pdrs import PDRSHook, coverage_keep

__all__ = ['FAAR', 'DoRAAdapter', 'DoRALinear', 'PDRSHook', 'MASKED_SCORES', 'TRAINABLE_EXTRAS',
           'coverage_keep', 'prefix_length']
