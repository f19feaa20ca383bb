"""Fine-tuning methods as plug-ins (one package per method, registered in METHODS)."""
from .base import BaseMethod
from .decoder_only import DecoderOnly
from .full_ft import FullFineTuning
from .single_task import SingleTaskFineTuning

__all__ = ['BaseMethod', 'FullFineTuning', 'SingleTaskFineTuning', 'DecoderOnly']
