"""Bottleneck adapters (Houlsby et al., 2019) in every Swin block."""
import torch.nn as nn

from mtbench.methods.adapter.layer import AdaptedLinear
from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.methods.targets import find_modules, replace_module
from mtbench.registry import METHODS

__all__ = ['BottleneckAdapter']

_SITES = {'attn': 'attn.proj', 'mlp': 'mlp.fc2'}


@METHODS.register_module()
class BottleneckAdapter(BaseMethod):
    """Down-projection, GELU, up-projection with a residual, after attention and/or the MLP.

    Each adapter on width ``d`` with bottleneck ``m = max(1, d // reduction)`` has
    ``2 d m + m + d`` parameters (both projections with bias). The up-projection starts at zero,
    so the adapted backbone computes the pretrained function at step 0. Shared by all tasks;
    the pretrained backbone is frozen.

    Args:
        reduction: bottleneck reduction factor (``m = d // reduction``).
        positions: where to insert adapters: any of ``'attn'`` (after attention's output
            projection) and ``'mlp'`` (after the MLP).
    """

    method_id = 'adapter'
    param_prefix = 'adapter.'
    identity_at_init = True

    def __init__(self, reduction: int = 4, positions=('attn', 'mlp')):
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f'adapter reduction must be a positive integer, got {reduction!r}')
        positions = (positions,) if isinstance(positions, str) else tuple(positions)
        unknown = [p for p in positions if p not in _SITES]
        if unknown or not positions:
            raise ValueError(f'adapter positions must be a non-empty subset of {list(_SITES)}, '
                             f'got {positions}')
        self.reduction = reduction
        self.positions = positions
        self.widths = []

    def _hidden(self, dim: int) -> int:
        hidden = dim // self.reduction
        if hidden < 1:
            raise ValueError(f'adapter reduction {self.reduction} leaves no bottleneck for '
                             f'width {dim}')
        return hidden

    def add_modules(self, model: nn.Module) -> None:
        found = find_modules(model.backbone, [_SITES[p] for p in self.positions])
        self.widths = [m.out_features for m in found.values()]
        for name, linear in found.items():
            replace_module(model.backbone, name,
                           AdaptedLinear(linear, self._hidden(linear.out_features)))

    def num_trainable(self, model: nn.Module) -> int:
        per_site = sum(2 * d * self._hidden(d) + self._hidden(d) + d for d in self.widths)
        return per_site + decoders_formula(model)

    def extra_repr(self) -> str:
        return f'reduction={self.reduction}, positions={self.positions}'
