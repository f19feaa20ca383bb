"""Houlsby-style bottleneck adapters, with dense or low-rank projection weights."""
from .adapter import BottleneckAdapter
from .layer import Adapter, AdaptedLinear, LowRankLinear

__all__ = ['BottleneckAdapter', 'Adapter', 'AdaptedLinear', 'LowRankLinear']
