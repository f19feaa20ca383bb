"""Compacter / Compacter++ (Karimi Mahabadi, Henderson, Ruder; NeurIPS 2021, arXiv 2106.04647).

Houlsby-style bottleneck adapters whose down- and up-projections are low-rank PHM layers
(:class:`~mtbench.methods.phm.PHMLinear`): ``W = sum_i A_i (x) s_i t_i^T`` with the "slow" rules
``A_i`` shared by every adapter layer and rank-``r`` "fast" blocks per layer. Compacter puts an
adapter after attention and after the MLP of every block; Compacter++ only after the MLP
(``positions=('mlp',)``). One adapter set is shared by all tasks; the pretrained backbone is
frozen except, as in the paper, its LayerNorms (``train_norms``). See ``docs/methods/compacter.md``.
"""
import re
from typing import Optional, Sequence

import torch.nn as nn

from mtbench.methods.counting import is_layer_norm_param, layer_norm_params
from mtbench.methods.base import BaseMethod
from mtbench.methods.compacter.layer import CompacterAdapter, CompacterLinear
from mtbench.methods.counting import decoders_formula
from mtbench.methods.phm import PHMRules, phm_linear_params
from mtbench.methods.targets import find_modules, replace_module
from mtbench.registry import METHODS

__all__ = ['Compacter']

_SITES = {'attn': 'attn.proj', 'mlp': 'mlp.fc2'}
_RULE_SHARING = ('all', 'stage', 'layer')
_STAGE = re.compile(r'^layers\.(\d+)\.')
RULES_NAME = 'compacter_rules'


@METHODS.register_module()
class Compacter(BaseMethod):
    """Compacter adapters in every Swin block, shared by all tasks.

    An adapter on width ``d`` with bottleneck ``m = d // reduction`` has
    ``2 r (d + m) + m + d`` parameters (two rank-``r`` LPHM projections with bias; full blocks,
    ``rank=None``: ``2 d m / n + m + d``); the rules add ``n^3`` per rule group. Trainable:
    the adapters, the rules, the backbone's LayerNorms if ``train_norms``, and the decoders.

    Args:
        n: hypercomplex dimension (number of Kronecker terms); must divide every adapter width
            ``d`` and bottleneck ``m``.
        rank: rank ``r`` of each block ``B_i = s_i t_i^T``; None for full blocks (PHM-Adapter).
        reduction: bottleneck reduction factor (``m = d // reduction``).
        positions: ``'attn'`` (after attention's output projection) and/or ``'mlp'`` (after the
            MLP). ``('mlp',)`` is Compacter++.
        rule_sharing: ``'all'`` (one rule set for every projection, the paper), ``'stage'`` (one
            per Swin stage) or ``'layer'`` (one per projection, as in a plain PHM layer).
        train_norms: also train the backbone's LayerNorms (the paper does).
        rule_init_std: standard deviation of the rules' normal initialisation.
        zero_init_up: zero the up-projections' output factors, so that the adapted backbone
            computes the pretrained function exactly at step 0 (mtbench option; off in the
            paper's code, where the adapters start near, not at, the identity).

    Example:
        >>> method = dict(type='Compacter', n=4, rank=1, positions=('mlp',))  # Compacter++
    """

    method_id = 'compacter'
    param_prefix = 'compacter'

    def __init__(self, n: int = 4, rank: Optional[int] = 1, reduction: int = 4,
                 positions: Sequence[str] = ('attn', 'mlp'), rule_sharing: str = 'all',
                 train_norms: bool = True, rule_init_std: float = 1e-4,
                 zero_init_up: bool = False):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f'Compacter n must be a positive integer, got {n!r}')
        if rank is not None and (not isinstance(rank, int) or rank < 1):
            raise ValueError(f'Compacter rank must be a positive integer or None, got {rank!r}')
        if not isinstance(reduction, int) or reduction < 1:
            raise ValueError(f'Compacter reduction must be a positive integer, got {reduction!r}')
        positions = (positions,) if isinstance(positions, str) else tuple(positions)
        if not positions or any(p not in _SITES for p in positions) or \
                len(set(positions)) != len(positions):
            raise ValueError(f'Compacter positions must be a non-empty subset of {list(_SITES)}, '
                             f'got {positions}')
        if rule_sharing not in _RULE_SHARING:
            raise ValueError(f'Compacter rule_sharing must be one of {_RULE_SHARING}, '
                             f'got {rule_sharing!r}')
        if not isinstance(rule_init_std, (int, float)) or not rule_init_std > 0:
            raise ValueError(f'Compacter rule_init_std must be positive, got {rule_init_std!r}')
        self.n, self.rank, self.reduction, self.positions = n, rank, reduction, positions
        self.rule_sharing = rule_sharing
        self.train_norms = bool(train_norms)
        self.rule_init_std = float(rule_init_std)
        self.zero_init_up = bool(zero_init_up)

    def _hidden(self, dim: int) -> int:
        return dim // self.reduction

    def _check_widths(self, stage_channels: Sequence[int]) -> None:
        bad = [(d, self._hidden(d)) for d in stage_channels
               if self._hidden(d) < 1 or d % self.n or self._hidden(d) % self.n]
        if bad:
            raise ValueError(f'Compacter n={self.n} with reduction={self.reduction} needs every '
                             f'adapter width d and bottleneck m = d // reduction to be positive '
                             f'multiples of n; (d, m) = {bad} are not')

    def _num_rule_groups(self, num_stages: int, num_sites: int) -> int:
        return {'all': 1, 'stage': num_stages, 'layer': 2 * num_sites}[self.rule_sharing]

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self._check_widths(backbone.stage_channels)
        found = find_modules(backbone, [_SITES[p] for p in self.positions])
        rules = PHMRules(self.n, self._num_rule_groups(len(backbone.depths), len(found)),
                         self.rule_init_std)
        setattr(backbone, RULES_NAME, rules)
        for index, (name, linear) in enumerate(found.items()):
            stage = int(_STAGE.match(name).group(1))
            down, up = {'all': (0, 0), 'stage': (stage, stage),
                        'layer': (2 * index, 2 * index + 1)}[self.rule_sharing]
            dim = linear.out_features
            adapter = CompacterAdapter(dim, self._hidden(dim), self.n, self.rank, rules,
                                       down_group=down, up_group=up,
                                       zero_init_up=self.zero_init_up)
            replace_module(backbone, name, CompacterLinear(linear, adapter))

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_norms and is_layer_norm_param(name)

    def adapter_params(self, dim: int) -> int:
        """Closed-form parameters of one adapter on width ``dim`` (rules not included)."""
        hidden = self._hidden(dim)
        return (phm_linear_params(dim, hidden, self.n, self.rank)
                + phm_linear_params(hidden, dim, self.n, self.rank))

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        self._check_widths(bb.stage_channels)
        num_stages = len(bb.depths)
        sites = [(dim, depth * len(self.positions))
                 for dim, depth in zip(bb.stage_channels, bb.depths)]
        total = sum(count * self.adapter_params(dim) for dim, count in sites)
        total += self.n ** 3 * self._num_rule_groups(num_stages, sum(c for _, c in sites))
        if self.train_norms:
            total += layer_norm_params(bb)
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'n={self.n}, rank={self.rank}, reduction={self.reduction}, '
                f'positions={self.positions}, rule_sharing={self.rule_sharing!r}, '
                f'train_norms={self.train_norms}')
