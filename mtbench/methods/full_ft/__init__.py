"""Multi-task full fine-tuning: every parameter trains."""
from .full_ft import FullFineTuning

__all__ = ['FullFineTuning']
