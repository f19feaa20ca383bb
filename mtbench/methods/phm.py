"""Parameterized hypercomplex multiplication (PHM) layers, with low-rank blocks and shared rules.

A PHM layer (Zhang et al., ICLR 2021, arXiv 2102.08597) builds its ``out x in`` weight as a sum
of Kronecker products

    W = sum_{i=1..n} A_i (x) B_i,   A_i in R^{n x n},  B_i in R^{out/n x in/n},

so it has ``n^3 + out * in / n`` parameters instead of ``out * in``. Compacter (Karimi Mahabadi
et al., NeurIPS 2021, arXiv 2106.04647) makes the blocks low rank, ``B_i = s_i t_i^T`` with
``s_i in R^{out/n x r}`` and ``t_i in R^{in/n x r}`` (LPHM), and shares the "slow" rules ``A_i``
between layers. Here the rules live in one :class:`PHMRules` module (a stack of rule groups); a
:class:`PHMLinear` either owns its rules or reads one group of a shared :class:`PHMRules`.

Initialisation follows the official Compacter code (rabeehk/compacter,
``seq2seq/hypercomplex/layers.py``): rules ``N(0, rule_init_std^2)`` (its Compacter configs use
``phm_init_range = 1e-4``), every 2-D slice of ``s``, ``t`` (or of a full ``B``) Xavier-uniform with
gain sqrt(2), bias zero.
"""
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['PHMLinear', 'PHMRules', 'kronecker_sum', 'phm_linear_params']


def kronecker_sum(rules: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """``sum_i rules[i] (x) blocks[i]`` for ``rules [n, n, n]`` and ``blocks [n, p, q]``.

    Returns:
        The ``[n p, n q]`` matrix whose ``(a p + u, b q + v)`` entry is
        ``sum_i rules[i, a, b] * blocks[i, u, v]``.
    """
    n, p, q = blocks.shape
    if rules.shape != (n, n, n):
        raise ValueError(f'PHM rules must have shape {(n, n, n)}, got {tuple(rules.shape)}')
    return torch.einsum('iab,iuv->aubv', rules, blocks).reshape(n * p, n * q)


def phm_linear_params(in_features: int, out_features: int, n: int, rank: Optional[int],
                      bias: bool = True, own_rules: bool = False) -> int:
    """Closed-form parameter count of one :class:`PHMLinear`.

    ``rank * (in + out)`` for low-rank blocks (``n`` blocks of ``rank (in/n + out/n)``), or
    ``in * out / n`` for full blocks; plus ``out`` for the bias and ``n^3`` if the layer owns
    its rules.
    """
    blocks = rank * (in_features + out_features) if rank else in_features * out_features // n
    return blocks + (out_features if bias else 0) + (n ** 3 if own_rules else 0)


class PHMRules(nn.Module):
    """``groups`` independent PHM rule sets, ``rules [groups, n, n, n]`` (``A_i = rules[g, i]``).

    Args:
        n: the hypercomplex dimension.
        groups: how many independent rule sets (1 = one set shared by every layer).
        init_std: standard deviation of the normal initialisation.
    """

    def __init__(self, n: int, groups: int = 1, init_std: float = 1e-4):
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f'PHM dimension n must be a positive integer, got {n!r}')
        if not isinstance(groups, int) or groups < 1:
            raise ValueError(f'PHM rule groups must be a positive integer, got {groups!r}')
        if not init_std > 0:
            raise ValueError(f'PHM rule init std must be positive, got {init_std!r}')
        self.n = n
        self.rules = nn.Parameter(torch.empty(groups, n, n, n))
        nn.init.normal_(self.rules, mean=0.0, std=init_std)

    def forward(self, group: int = 0) -> torch.Tensor:
        return self.rules[group]


def _xavier_slices_(tensor: torch.Tensor, gain: float) -> None:
    """Xavier-uniform on every ``[rows, cols]`` slice of a ``[n, rows, cols]`` tensor."""
    bound = gain * math.sqrt(6.0 / (tensor.shape[-2] + tensor.shape[-1]))
    nn.init.uniform_(tensor, -bound, bound)


class PHMLinear(nn.Module):
    """``y = W x + b`` with ``W = sum_i A_i (x) B_i`` and, if ``rank`` is set, ``B_i = s_i t_i^T``.

    Args:
        in_features: input width (divisible by ``n``).
        out_features: output width (divisible by ``n``).
        n: the hypercomplex dimension (number of Kronecker terms).
        rank: rank ``r`` of each block ``B_i``; None for full blocks (the plain PHM layer).
        bias: add a bias (zero-initialised).
        rules: a shared :class:`PHMRules` to read (not registered as a submodule: its owner
            registers it); None to own one rule set (``phm_rules``).
        rule_group: which group of ``rules`` this layer reads.
        rule_init_std: initialisation of the owned rules.
        zero_init: zero the output-side factor ``s`` (or the full blocks), so that ``W = 0``
            at initialisation; as with LoRA's zero ``B``, only ``s`` (or the blocks) then
            receives a gradient at the first step.

    Raises:
        ValueError: when a width is not divisible by ``n`` or the rank is not a positive integer.
    """

    def __init__(self, in_features: int, out_features: int, n: int, rank: Optional[int] = 1,
                 bias: bool = True, rules: Optional[PHMRules] = None, rule_group: int = 0,
                 rule_init_std: float = 1e-4, zero_init: bool = False):
        super().__init__()
        if not isinstance(n, int) or n < 1:
            raise ValueError(f'PHM dimension n must be a positive integer, got {n!r}')
        if in_features % n or out_features % n:
            raise ValueError(f'PHM dimension n={n} must divide both widths of a '
                             f'{in_features}->{out_features} layer')
        if rank is not None and (not isinstance(rank, int) or rank < 1):
            raise ValueError(f'PHM block rank must be a positive integer or None, got {rank!r}')
        self.in_features, self.out_features, self.n, self.rank = (in_features, out_features,
                                                                  n, rank)
        p, q = out_features // n, in_features // n
        gain = math.sqrt(2.0)
        if rank is None:
            self.phm_blocks = nn.Parameter(torch.empty(n, p, q))
            _xavier_slices_(self.phm_blocks, gain)
            if zero_init:
                nn.init.zeros_(self.phm_blocks)
        else:
            self.phm_s = nn.Parameter(torch.empty(n, p, rank))
            self.phm_t = nn.Parameter(torch.empty(n, q, rank))
            _xavier_slices_(self.phm_s, gain)
            _xavier_slices_(self.phm_t, gain)
            if zero_init:
                nn.init.zeros_(self.phm_s)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        if rules is None:
            self.phm_rules = PHMRules(n, 1, rule_init_std)
            rules, rule_group = self.phm_rules, 0
        elif rules.n != n:
            raise ValueError(f'shared PHM rules have n={rules.n}, the layer n={n}')
        object.__setattr__(self, '_rules', rules)
        self.rule_group = rule_group

    def blocks(self) -> torch.Tensor:
        """The ``[n, out/n, in/n]`` blocks ``B_i``."""
        if self.rank is None:
            return self.phm_blocks
        return self.phm_s @ self.phm_t.transpose(1, 2)

    def weight(self) -> torch.Tensor:
        """The dense ``[out, in]`` weight ``sum_i A_i (x) B_i``."""
        return kronecker_sum(self._rules(self.rule_group), self.blocks())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight(), self.bias)

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, out_features={self.out_features}, '
                f'n={self.n}, rank={self.rank}, rule_group={self.rule_group}')
