"""LoRA (Hu et al., 2021) applied to the shared Swin backbone."""
from typing import Sequence

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.methods.lora.layer import LoRALinear
from mtbench.methods.targets import find_modules, replace_module
from mtbench.registry import METHODS

__all__ = ['LoRA']


@METHODS.register_module()
class LoRA(BaseMethod):
    """One low-rank update per targeted Linear layer, shared by all tasks; backbone frozen.

    Trainable parameters: ``sum over targeted layers of r * (d_in + d_out)`` plus the decoders.
    With the default ``targets=('qkv',)`` that is ``4 r C`` per block of width C, i.e.
    ``17,664 r`` on Swin-T (70,656 at r = 4); on all four sites qkv/proj/fc1/fc2 ``70,656 r``.

    Args:
        rank: rank ``r``.
        alpha: scale numerator (update scaled by ``alpha / r``); defaults to ``r`` (scale 1).
        dropout: dropout on the LoRA input.
        targets: module-name patterns of the Linear layers to adapt (``'qkv'``, ``'proj'``,
            ``'fc1'``, ``'fc2'``, globs, or ``re:`` regexes; see
            :func:`mtbench.methods.targets.find_modules`).

    Example:
        >>> method = dict(type='LoRA', rank=4, targets=('qkv', 'proj'))
    """

    method_id = 'lora'
    param_prefix = 'lora_'
    supports_merge = True
    merge_layer = LoRALinear
    identity_at_init = True

    def __init__(self, rank: int = 4, alpha: float = None, dropout: float = 0.0,
                 targets: Sequence[str] = ('qkv',)):
        if not isinstance(rank, int) or rank < 1:
            raise ValueError(f'LoRA rank must be a positive integer, got {rank!r}')
        self.rank = rank
        self.alpha = alpha
        self.dropout = dropout
        self.targets = tuple([targets] if isinstance(targets, str) else targets)
        self.target_shapes = []

    def add_modules(self, model: nn.Module) -> None:
        found = find_modules(model.backbone, self.targets)
        self.target_shapes = [(m.in_features, m.out_features) for m in found.values()]
        for name, linear in found.items():
            replace_module(model.backbone, name,
                           LoRALinear(linear, self.rank, self.alpha, self.dropout))

    def num_trainable(self, model: nn.Module) -> int:
        return sum(self.rank * (i + o) for i, o in self.target_shapes) + decoders_formula(model)

    def extra_repr(self) -> str:
        return f'rank={self.rank}, alpha={self.alpha}, targets={self.targets}'
