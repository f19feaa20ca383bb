"""Bottleneck adapter modules."""
import torch
import torch.nn as nn

__all__ = ['Adapter', 'AdaptedLinear']


class Adapter(nn.Module):
    """``x + up(act(down(x)))`` with a zero-initialised up-projection (identity at init).

    Args:
        dim: channels.
        hidden: bottleneck width.
    """

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        if hidden < 1:
            raise ValueError(f'adapter bottleneck width must be >= 1, got {hidden} for dim {dim}')
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

    def __init__(self, base_layer: nn.Linear, hidden: int):
        super().__init__()
        self.base_layer = base_layer
        self.adapter = Adapter(base_layer.out_features, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.adapter(self.base_layer(x))
