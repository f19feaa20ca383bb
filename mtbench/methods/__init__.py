"""Fine-tuning methods as plug-ins (one package per method, registered in METHODS).

Every sub-package of ``mtbench/methods/`` is imported here, so that a new method is one new
package plus its ``@METHODS.register_module()`` decorator: nothing else in mtbench changes.
"""
import importlib
import pkgutil

from .adapter import BottleneckAdapter
from .base import BaseMethod
from .bitfit import BitFit
from .decoder_only import DecoderOnly
from .full_ft import FullFineTuning
from .lora import LoRA
from .single_task import SingleTaskFineTuning
from .vpt import VPT

__all__ = ['BaseMethod', 'FullFineTuning', 'SingleTaskFineTuning', 'DecoderOnly', 'LoRA',
           'BottleneckAdapter', 'VPT', 'BitFit', 'method_packages']


def method_packages() -> list:
    """Names of the method packages under ``mtbench/methods/`` (each one registers a method)."""
    return sorted(info.name for info in pkgutil.iter_modules(__path__) if info.ispkg)


for _name in method_packages():
    importlib.import_module(f'{__name__}.{_name}')
