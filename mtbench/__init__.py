"""mtbench: a benchmark of parameter-efficient fine-tuning for multi-task dense prediction."""
__version__ = '0.1.0'

__all__ = ['__version__']
