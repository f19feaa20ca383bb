"""Bottleneck adapters (Houlsby et al., 2019) in every Swin block; optionally low-rank weights."""
from typing import Optional

import torch.nn as nn

from mtbench.methods.adapter.layer import AdaptedLinear
from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param, layer_norm_params
from mtbench.methods.targets import find_modules, replace_module
from mtbench.registry import METHODS

__all__ = ['BottleneckAdapter', 'is_layer_norm_param', 'layer_norm_params']

_SITES = {'attn': 'attn.proj', 'mlp': 'mlp.fc2'}


@METHODS.register_module()
class BottleneckAdapter(BaseMethod):
    """Down-projection, GELU, up-projection with a residual, after attention and/or the MLP.

    Each adapter on width ``d`` with bottleneck ``m = d // reduction`` has ``2 d m + m + d``
    parameters (both projections with bias). With ``weight_rank=r`` each projection weight is a
    product of two rank-``r`` factors (the "Low-Rank Adapters" baseline of Compacter,
    arXiv 2106.04647), ``2 r (d + m) + m + d`` parameters. The up-projection (its output-side
    factor, when low-rank) starts at zero, so the adapted backbone computes the pretrained
    function at step 0. Shared by all tasks; the pretrained backbone is frozen, except its
    LayerNorms if ``train_norms`` (Houlsby et al. train them).

    Args:
        reduction: bottleneck reduction factor (``m = d // reduction``).
        positions: where to insert adapters: any of ``'attn'`` (after attention's output
            projection) and ``'mlp'`` (after the MLP).
        weight_rank: None for dense projection weights; a positive integer ``r`` for
            rank-``r`` factorised weights (1 in the Compacter paper's low-rank adapter).
        train_norms: also train the backbone's LayerNorms (default off, mtbench's original
            adapter baseline).
    """

    method_id = 'adapter'
    param_prefix = 'adapter.'
    identity_at_init = True

    def __init__(self, reduction: int = 4, positions=('attn', 'mlp'),
                 weight_rank: Optional[int] = None, train_norms: bool = False):
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f'adapter reduction must be a positive integer, got {reduction!r}')
        positions = (positions,) if isinstance(positions, str) else tuple(positions)
        unknown = [p for p in positions if p not in _SITES]
        if unknown or not positions or len(set(positions)) != len(positions):
            raise ValueError(f'adapter positions must be a non-empty subset of {list(_SITES)}, '
                             f'got {positions}')
        if weight_rank is not None and (not isinstance(weight_rank, int) or weight_rank < 1):
            raise ValueError(f'adapter weight_rank must be None or a positive integer, '
                             f'got {weight_rank!r}')
        self.reduction = reduction
        self.positions = positions
        self.weight_rank = weight_rank
        self.train_norms = bool(train_norms)

    def _hidden(self, dim: int) -> int:
        hidden = dim // self.reduction
        if hidden < 1:
            raise ValueError(f'adapter reduction {self.reduction} leaves no bottleneck for '
                             f'width {dim}')
        return hidden

    def add_modules(self, model: nn.Module) -> None:
        found = find_modules(model.backbone, [_SITES[p] for p in self.positions])
        for name, linear in found.items():
            replace_module(model.backbone, name, AdaptedLinear(
                linear, self._hidden(linear.out_features), self.weight_rank))

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_norms and is_layer_norm_param(name)

    def adapter_params(self, dim: int) -> int:
        """Closed-form parameters of one adapter on width ``dim``."""
        hidden = self._hidden(dim)
        weights = 2 * dim * hidden if self.weight_rank is None else \
            2 * self.weight_rank * (dim + hidden)
        return weights + hidden + dim

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        per_site = sum(depth * len(self.positions) * self.adapter_params(dim)
                       for dim, depth in zip(bb.stage_channels, bb.depths))
        norms = layer_norm_params(bb) if self.train_norms else 0
        return per_site + norms + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction}, positions={self.positions}, '
                f'weight_rank={self.weight_rank}, train_norms={self.train_norms}')
