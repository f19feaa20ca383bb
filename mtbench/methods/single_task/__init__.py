"""Single-task full fine-tuning: one model per task."""
from .single_task import SingleTaskFineTuning

__all__ = ['SingleTaskFineTuning']
