"""A frozen Linear layer shared by several group streams, each with its own LoRA update."""
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout

__all__ = ['GroupLoRALinear']


class GroupLoRALinear(nn.Module):
    """``y_g = W x_g + b + s B_g A_g dropout(x_g)`` for the streams ``g`` of a stage.

    The input holds the ``k`` group streams of the stage concatenated along the first
    (batch-major) dimension, in the order of ``groups``: ``[k * N, ..., d_in]``. The frozen base
    layer runs once on all of them; the low-rank updates are one batched matrix product. Every
    ``A_g`` is Kaiming-uniform (a = sqrt(5)) and every ``B_g`` zero, so each stream computes the
    pretrained function at initialisation.

    Parameters are named ``tglora_A.<key>`` / ``tglora_B.<key>`` where ``key`` is the group's
    tasks joined by ``'+'``.

    Args:
        base_layer: the pretrained linear layer (kept as ``base_layer``).
        groups: group keys, in stream order.
        rank: rank of every group's update.
        scale: multiplier ``s`` of the update.
        dropout: dropout on the LoRA input.
    """

    def __init__(self, base_layer: nn.Linear, groups: Sequence[str], rank: int,
                 scale: float = 1.0, dropout: float = 0.0):
        super().__init__()
        width = min(base_layer.in_features, base_layer.out_features)
        if not isinstance(rank, int) or rank < 1 or rank > width:
            raise ValueError(f'progressive LoRA rank must be an integer in [1, {width}] for a '
                             f'{base_layer.in_features}->{base_layer.out_features} layer, '
                             f'got {rank!r}')
        self.base_layer = base_layer
        self.groups = list(groups)
        self.rank = rank
        self.scale = float(scale)
        self.tglora_A = nn.ParameterDict()
        self.tglora_B = nn.ParameterDict()
        for key in self.groups:
            a = nn.Parameter(torch.empty(rank, base_layer.in_features))
            nn.init.kaiming_uniform_(a, a=math.sqrt(5))
            self.tglora_A[key] = a
            self.tglora_B[key] = nn.Parameter(torch.zeros(base_layer.out_features, rank))
        self.lora_dropout = LowRankDropout(dropout)

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def delta_weight(self, key: str) -> torch.Tensor:
        """The dense update ``s B_g A_g`` (out x in) of group ``key``."""
        return self.scale * (self.tglora_B[key] @ self.tglora_A[key])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``k`` concatenated group streams ``[k * N, ..., d_in]``."""
        out = self.base_layer(x)
        k = len(self.groups)
        if k == 1:
            key = self.groups[0]
            update = F.linear(self.lora_dropout(x, self.tglora_A[key]), self.tglora_B[key])
            return out + self.scale * update
        if x.shape[0] % k:
            raise ValueError(f'GroupLoRALinear expects its {k} group streams concatenated along '
                             f'the first dimension; got a leading size {x.shape[0]}')
        b = torch.stack([self.tglora_B[g] for g in self.groups])   # [k, d_out, r]
        low = torch.stack([self.lora_dropout(x_g, self.tglora_A[g]) for g, x_g in
                           zip(self.groups, x.reshape(k, -1, x.shape[-1]))])
        update = torch.bmm(low, b.transpose(1, 2)).reshape(out.shape)
        return out + self.scale * update

    def extra_repr(self) -> str:
        return f'groups={self.groups}, rank={self.rank}, scale={self.scale}'
