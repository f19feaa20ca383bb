"""Relative-position-bias tuning: only Swin's relative-position bias tables train."""
from .relative_bias import RelativeBiasTuning

__all__ = ['RelativeBiasTuning']
