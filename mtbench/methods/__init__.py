"""Fine-tuning methods as plug-ins (one package per method, registered in METHODS)."""
from .adapter import BottleneckAdapter
from .base import BaseMethod
from .bitfit import BitFit
from .decoder_only import DecoderOnly
from .full_ft import FullFineTuning
from .lora import LoRA
from .mtlora import MTLoRA  # noqa: F401
from .progressive import ProgressiveTaskAdapters  # noqa: F401
from .single_task import SingleTaskFineTuning
from .tadformer import TADFormer  # noqa: F401
from .vpt import VPT

__all__ = ['BaseMethod', 'FullFineTuning', 'SingleTaskFineTuning', 'DecoderOnly', 'LoRA',
           'BottleneckAdapter', 'VPT', 'BitFit']
