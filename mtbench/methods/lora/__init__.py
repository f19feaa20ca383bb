"""LoRA: a low-rank update of chosen Linear layers, shared by all tasks."""
from .layer import LoRALinear
from .lora import LoRA

__all__ = ['LoRA', 'LoRALinear']
