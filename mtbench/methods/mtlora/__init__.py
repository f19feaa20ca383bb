"""MTLoRA: shared + task-specific low-rank adaptation with per-task stage features."""
from .blocks import MTLoRABlock, MTLoRAStage
from .convert import convert_mtlora_checkpoint, mtlora_key_map, to_mtlora_reference
from .layer import MTLoRALinear
from .mtlora import MTLoRA

__all__ = ['MTLoRA', 'MTLoRABlock', 'MTLoRALinear', 'MTLoRAStage', 'convert_mtlora_checkpoint',
           'mtlora_key_map', 'to_mtlora_reference']
