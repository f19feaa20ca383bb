"""The Compacter adapter and the Linear wrapper that places it on a sub-layer output."""
from typing import Optional

import torch
import torch.nn as nn

from mtbench.methods.phm import PHMLinear, PHMRules

__all__ = ['CompacterAdapter', 'CompacterLinear']


class CompacterAdapter(nn.Module):
    """``x + LPHM_up(GELU(LPHM_down(x)))`` (Compacter, arXiv 2106.04647, Sec. 3, Eq. 6).

    Args:
        dim: channels ``d``.
        hidden: bottleneck width ``m``.
        n: hypercomplex dimension of both projections.
        rank: rank of the blocks ``B_i`` (None: full blocks, the PHM-Adapter).
        rules: the shared :class:`~mtbench.methods.phm.PHMRules` (owned by the method's holder).
        down_group: rule group of the down-projection.
        up_group: rule group of the up-projection.
        zero_init_up: zero the up-projection's output factor (exact identity at initialisation).
    """

    def __init__(self, dim: int, hidden: int, n: int, rank: Optional[int], rules: PHMRules,
                 down_group: int = 0, up_group: int = 0, zero_init_up: bool = False):
        super().__init__()
        self.down = PHMLinear(dim, hidden, n, rank, rules=rules, rule_group=down_group)
        self.act = nn.GELU()
        self.up = PHMLinear(hidden, dim, n, rank, rules=rules, rule_group=up_group,
                            zero_init=zero_init_up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class CompacterLinear(nn.Module):
    """A frozen Linear followed by a :class:`CompacterAdapter` on its output.

    Wrapping ``attn.proj`` or ``mlp.fc2`` puts the adapter on the sub-layer output, before the
    block's residual addition, where Houlsby et al. and Compacter place it.
    """

    def __init__(self, base_layer: nn.Linear, adapter: CompacterAdapter):
        super().__init__()
        self.base_layer = base_layer
        self.compacter = adapter

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.compacter(self.base_layer(x))
