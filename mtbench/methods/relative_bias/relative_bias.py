"""Relative-position-bias tuning, a baseline of the Polyhistor / MTLoRA tables."""
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.registry import METHODS

__all__ = ['RelativeBiasTuning']


@METHODS.register_module()
class RelativeBiasTuning(BaseMethod):
    """Train only the relative-position bias tables of the backbone (and the decoders).

    Every window attention holds a table of ``(2w - 1)^2`` rows (one per relative offset inside
    a ``w x w`` window) and one column per head; the tables are shared by all tasks. Nothing is
    added, so the model computes the pretrained function at step 0.

    Trainable parameters: ``sum over stages of depth * (2 w - 1)^2 * heads`` plus the decoders
    (23,322 + 1,946,624 on Swin-T / PASCAL-Context at 448).
    """

    method_id = 'relative-bias'
    identity_at_init = True

    def keep_pretrained_trainable(self, name: str) -> bool:
        return name.endswith('relative_position_bias_table')

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        tables = sum(depth * (2 * window - 1) ** 2 * heads
                     for depth, window, heads in zip(bb.depths, bb.window_sizes, bb.num_heads))
        return tables + decoders_formula(model)
