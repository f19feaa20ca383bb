"""Houlsby-style bottleneck adapters."""
from .adapter import BottleneckAdapter
from .layer import Adapter, AdaptedLinear

__all__ = ['BottleneckAdapter', 'Adapter', 'AdaptedLinear']
