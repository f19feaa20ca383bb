"""Decoder-only tuning: the backbone is frozen, the per-task decoders train."""
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.registry import METHODS

__all__ = ['DecoderOnly']


@METHODS.register_module()
class DecoderOnly(BaseMethod):
    """Freeze the whole backbone; train only the decoders.

    As in the reference code the frozen backbone stays in train mode (drop-path active) unless
    ``frozen_norms_eval`` is set; Swin has no batch statistics, so only drop-path is affected.
    Trainable parameters: ``sum_t fusion_head_params(t)`` (1,946,624 on Swin-T, four PASCAL
    tasks).

    Args:
        backbone_eval: run the frozen backbone in eval mode (disables drop-path).
    """

    method_id = 'decoder_only'

    def __init__(self, backbone_eval: bool = False):
        self.backbone_eval = backbone_eval

    def train_mode_hook(self, model: nn.Module, mode: bool) -> None:
        if mode and self.backbone_eval:
            model.backbone.eval()

    def num_trainable(self, model: nn.Module) -> int:
        return decoders_formula(model)

    def extra_repr(self) -> str:
        return f'backbone_eval={self.backbone_eval}'
