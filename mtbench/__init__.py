"""mtbench: a benchmark of parameter-efficient fine-tuning for multi-task dense prediction.

Importing mtbench registers every fine-tuning method (``mtbench.registry.METHODS``).
"""
__version__ = '0.1.0'

from . import methods  # noqa: E402,F401  (registers the method plug-ins)

__all__ = ['__version__', 'methods']
