"""Bottleneck adapter modules, with dense or low-rank projection weights."""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['Adapter', 'AdaptedLinear', 'LowRankLinear']


class LowRankLinear(nn.Module):
    """``y = U V x + b`` with ``U [out, r]``, ``V [r, in]``: a Linear whose weight has rank ``r``.

    The "Low-Rank Adapters" baseline of Compacter (arXiv 2106.04647) parameterises each adapter
    weight this way (rank 1 there). Both factors are Xavier-uniform with gain sqrt(2), as in the
    official code (rabeehk/compacter, ``seq2seq/adapters/low_rank_layer.py``); the bias is zero.

    Args:
        in_features: input width.
        out_features: output width.
        rank: rank ``r`` of the weight.
        zero_init: zero ``U`` (the output-side factor), so that the layer outputs its bias only.
    """

    def __init__(self, in_features: int, out_features: int, rank: int, zero_init: bool = False):
        super().__init__()
        if not isinstance(rank, int) or not 1 <= rank <= min(in_features, out_features):
            raise ValueError(f'adapter weight_rank must be an integer in '
                             f'[1, {min(in_features, out_features)}] for a {in_features}->'
                             f'{out_features} projection, got {rank!r}')
        self.in_features, self.out_features, self.rank = in_features, out_features, rank
        self.weight_out = nn.Parameter(torch.empty(out_features, rank))
        self.weight_in = nn.Parameter(torch.empty(rank, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        gain = math.sqrt(2.0)
        nn.init.xavier_uniform_(self.weight_in, gain=gain)
        if zero_init:
            nn.init.zeros_(self.weight_out)
        else:
            nn.init.xavier_uniform_(self.weight_out, gain=gain)

    @property
    def weight(self) -> torch.Tensor:
        """The dense ``[out, in]`` weight ``U V``."""
        return self.weight_out @ self.weight_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.linear(x, self.weight_in), self.weight_out, self.bias)

    def extra_repr(self) -> str:
        return f'in_features={self.in_features}, out_features={self.out_features}, rank={self.rank}'


class Adapter(nn.Module):
    """``x + up(act(down(x)))`` with a zero-initialised up-projection (identity at init).

    Args:
        dim: channels.
        hidden: bottleneck width.
        weight_rank: None for dense projections (Houlsby); an integer ``r`` for projections whose
            weights are rank-``r`` products (:class:`LowRankLinear`, the low-rank adapter).
    """

    def __init__(self, dim: int, hidden: int, weight_rank: Optional[int] = None):
        super().__init__()
        if hidden < 1:
            raise ValueError(f'adapter bottleneck width must be >= 1, got {hidden} for dim {dim}')
        if weight_rank is not None:
            self.down = LowRankLinear(dim, hidden, weight_rank)
            self.act = nn.GELU()
            self.up = LowRankLinear(hidden, dim, weight_rank, zero_init=True)
            return
        self.down = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.up = nn.Linear(hidden, dim)
        nn.init.trunc_normal_(self.down.weight, std=0.02)
        nn.init.zeros_(self.down.bias)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(self.act(self.down(x)))


class AdaptedLinear(nn.Module):
    """A frozen Linear followed by an :class:`Adapter` on its output.

    Wrapping the last Linear of a sub-layer (``attn.proj`` or ``mlp.fc2``) places the adapter
    where Houlsby et al. put it: on the sub-layer output, before the residual addition.
    """

    def __init__(self, base_layer: nn.Linear, hidden: int, weight_rank: Optional[int] = None):
        super().__init__()
        self.base_layer = base_layer
        self.adapter = Adapter(base_layer.out_features, hidden, weight_rank)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base_layer(x))
