"""Multi-task full fine-tuning."""
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import backbone_formula, decoders_formula
from mtbench.registry import METHODS

__all__ = ['FullFineTuning']


@METHODS.register_module()
class FullFineTuning(BaseMethod):
    """All backbone and decoder parameters train (the "MTL - full FT" baseline).

    Trainable parameters: ``swin_num_params(backbone) + sum_t fusion_head_params(t)``; on Swin-T
    with the four PASCAL tasks 27,517,818 + 1,946,624 = 29,464,442.
    """

    method_id = 'full_ft'

    def keep_pretrained_trainable(self, name: str) -> bool:
        return True

    def num_trainable(self, model: nn.Module) -> int:
        return backbone_formula(model.backbone) + decoders_formula(model)
