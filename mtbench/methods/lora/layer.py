"""The LoRA-wrapped Linear layer."""
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout

__all__ = ['LoRALinear']


class LoRALinear(nn.Module):
    """``y = W x + b + (alpha / r) * B A dropout(x)`` around a frozen ``nn.Linear``.

    ``A`` is Kaiming-uniform initialised (a = sqrt(5)) and ``B`` is zero, so the layer equals the
    base layer at initialisation. :meth:`merge` folds ``(alpha / r) B A`` into ``W`` (and
    :meth:`unmerge` removes it again).

    Args:
        base_layer: the pretrained linear layer (kept as ``base_layer``).
        rank: rank ``r`` of the update.
        alpha: scaling numerator; the update is scaled by ``alpha / rank``.
        dropout: dropout on the LoRA input.
    """

    def __init__(self, base_layer: nn.Linear, rank: int, alpha: float = None,
                 dropout: float = 0.0):
        super().__init__()
        width = min(base_layer.in_features, base_layer.out_features)
        if not isinstance(rank, int) or rank < 1 or rank > width:
            raise ValueError(f'LoRA rank must be an integer in [1, {width}] for a '
                             f'{base_layer.in_features}->{base_layer.out_features} layer, '
                             f'got {rank!r}')
        self.base_layer = base_layer
        self.rank = rank
        self.alpha = float(rank if alpha is None else alpha)
        self.scaling = self.alpha / rank
        self.lora_A = nn.Parameter(torch.empty(rank, base_layer.in_features))
        self.lora_B = nn.Parameter(torch.zeros(base_layer.out_features, rank))
        nn.init.kaiming_uniform_(self.lora_A, a=math.sqrt(5))
        self.lora_dropout = LowRankDropout(dropout)
        self.merged = False

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def delta_weight(self) -> torch.Tensor:
        """The dense update ``(alpha / r) B A`` (out x in)."""
        return self.scaling * (self.lora_B @ self.lora_A)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        if self.merged:
            return out
        update = F.linear(self.lora_dropout(x, self.lora_A), self.lora_B)
        return out + self.scaling * update

    @torch.no_grad()
    def merge(self) -> None:
        if not self.merged:
            self.base_layer.weight += self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        if self.merged:
            self.base_layer.weight -= self.delta_weight().to(self.base_layer.weight.dtype)
            self.merged = False

    def extra_repr(self) -> str:
        return f'rank={self.rank}, alpha={self.alpha}, merged={self.merged}'
