"""Dropout on the input of a low-rank down-projection, drawn as a sparse set of dropped entries.

LoRA-style methods compute ``A dropout(x)`` with a rank-``r`` matrix ``A`` ``[r, d]``. The usual
``nn.Dropout`` draws one Bernoulli number per element of ``x`` (the slowest part of a LoRA step
on a CPU), stores a full-size mask and a full-size dropped copy of ``x`` for the backward pass.
With ``p`` small (0.05 in MTLoRA), the dropped entries are few, so here they are drawn directly:

* the *positions* of the dropped entries of an i.i.d. Bernoulli(``p``) mask are the partial sums
  of i.i.d. Geometric(``p``) gaps (an exact identity of the Bernoulli process), which costs one
  random number per dropped entry instead of one per element;
* the forward pass multiplies ``x`` by ``1 / (1 - p)`` into a fresh tensor and zeroes the
  dropped positions there (one pass over ``x``, no per-element random numbers), then runs the
  LoRA product on it; that copy is freed at once;
* the backward pass saves only ``x`` (which LoRA keeps anyway) and the positions: it rebuilds the
  dropped copy for the weight gradient (cheaper than storing it) and zeroes the input gradient at
  the dropped positions.

Given the positions, the result is ``F.linear(F.dropout(x, p), A)`` with that mask, bit for bit;
only the random stream differs from ``nn.Dropout``'s. Example:

    >>> drop = LowRankDropout(0.05)
    >>> x, a = torch.randn(8, 32), torch.randn(4, 32, requires_grad=True)
    >>> drop(x, a).shape
    torch.Size([8, 4])
"""
import math
from typing import Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from mtbench.methods.amp import autocast_inputs

__all__ = ['LowRankDropout', 'dropped_positions', 'dropout_lowrank', 'sparse_dropout']


def dropped_positions(numel: int, p: float, device=None,
                      generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """Ascending flat indices of the zeros of an i.i.d. Bernoulli mask with drop probability ``p``.

    Args:
        numel: number of mask elements.
        p: drop probability in ``(0, 1)``.
        device: device of the result.
        generator: random generator (the default generator when ``None``).

    Returns:
        int64 tensor of the dropped indices, each index dropped independently with probability
        ``p``.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f'drop probability must be in (0, 1), got {p!r}')
    if numel <= 0:
        return torch.empty(0, dtype=torch.long, device=device)
    expected = numel * p
    chunk = int(expected + 6.0 * math.sqrt(expected) + 64)
    log_keep = math.log1p(-p)
    parts, last = [], -1.0
    while last < numel - 1:
        u = torch.empty(chunk, dtype=torch.float64, device=device).uniform_(generator=generator)
        # G = ceil(log(V) / log(1 - p)) with V = 1 - u uniform on (0, 1] is Geometric(p) on 1, 2, ..
        gaps = torch.log1p(u.neg_()).div_(log_keep).ceil_().clamp_(min=1.0)
        ends = gaps.cumsum_(0).add_(last)
        parts.append(ends)
        last = float(ends[-1])
    ends = parts[0] if len(parts) == 1 else torch.cat(parts)
    return ends[:int(torch.searchsorted(ends, float(numel) - 0.5))].long()


def _dropped_copy(x2: torch.Tensor, p: float, pos: torch.Tensor) -> torch.Tensor:
    """``F.dropout(x2, p)`` with the mask whose zeros are ``pos``: ``x2 / (1 - p)``, zeroed at
    ``pos`` (a fresh tensor)."""
    out = x2.mul(1.0 / (1.0 - p))
    out.view(-1).index_fill_(0, pos, 0.0)
    return out


def _lowrank_dropout_forward(x2: torch.Tensor, weight: torch.Tensor, p: float,
                             generator: Optional[torch.Generator] = None
                             ) -> Tuple[torch.Tensor, torch.Tensor]:
    """Forward of ``F.linear(F.dropout(x2, p), weight)`` on plain tensors (no autograd).

    Args:
        x2: contiguous input ``[n, d]``.
        weight: ``[r, d]``.
        p: drop probability in ``(0, 1)``.

    Returns:
        ``(low [n, r], pos)``: the dropped flat positions are all that
        :func:`_lowrank_dropout_backward` needs besides ``x2`` and ``weight``.
    """
    pos = dropped_positions(x2.numel(), p, x2.device, generator)
    return F.linear(_dropped_copy(x2, p, pos), weight), pos


def _lowrank_dropout_backward(grad: torch.Tensor, x2: torch.Tensor, weight: torch.Tensor,
                              p: float, pos: torch.Tensor, need_x: bool = True,
                              need_weight: bool = True
                              ) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Gradients ``(d x2, d weight)`` of :func:`_lowrank_dropout_forward` for ``grad``
    ``[n, r]``; the dropped input is recomputed rather than stored."""
    grad_x = grad_w = None
    if need_x:
        grad_x = (grad * (1.0 / (1.0 - p))) @ weight
        grad_x.view(-1).index_fill_(0, pos, 0.0)
    if need_weight:
        grad_w = grad.t() @ _dropped_copy(x2, p, pos)
    return grad_x, grad_w


class _DropoutLowRank(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, p: float,
                generator: Optional[torch.Generator]) -> torch.Tensor:
        x2 = x.detach().reshape(-1, x.shape[-1]).contiguous()
        low, pos = _lowrank_dropout_forward(x2, weight.detach(), p, generator)
        ctx.save_for_backward(x2, weight, pos)
        ctx.p, ctx.x_shape = p, x.shape
        return low.view(*x.shape[:-1], weight.shape[0])

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        x2, weight, pos = ctx.saved_tensors
        grad_x, grad_w = _lowrank_dropout_backward(
            grad.reshape(-1, weight.shape[0]), x2, weight, ctx.p, pos,
            ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return (None if grad_x is None else grad_x.view(ctx.x_shape)), grad_w, None, None


class _SparseDropout(torch.autograd.Function):

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float, generator: Optional[torch.Generator]):
        pos = dropped_positions(x.numel(), p, x.device, generator)
        out = _dropped_copy(x.detach().contiguous(), p, pos)
        ctx.save_for_backward(pos)
        ctx.p = p
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: torch.Tensor):
        pos, = ctx.saved_tensors
        grad = grad.mul(1.0 / (1.0 - ctx.p)).contiguous()
        grad.view(-1).index_fill_(0, pos, 0.0)
        return grad, None, None


def sparse_dropout(x: torch.Tensor, p: float, training: bool = True,
                   generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``F.dropout(x, p, training)`` with the mask drawn as dropped positions
    (:func:`dropped_positions`); the backward pass keeps only those positions."""
    if not training or p == 0.0 or x.numel() == 0:
        return x
    return _SparseDropout.apply(x, float(p), generator)


def dropout_lowrank(x: torch.Tensor, weight: torch.Tensor, p: float, training: bool = True,
                    generator: Optional[torch.Generator] = None) -> torch.Tensor:
    """``F.linear(F.dropout(x, p, training), weight)`` for a low-rank ``weight`` ``[r, d]``.

    Only ``x``, ``weight`` and the dropped positions are kept for the backward pass.
    """
    if not training or p == 0.0 or x.numel() == 0:
        return F.linear(x, weight)
    x, weight = autocast_inputs(x, weight)
    return _DropoutLowRank.apply(x, weight, float(p), generator)


class LowRankDropout(nn.Module):
    """Dropout with probability ``p`` on the input of a low-rank projection (see module doc).

    ``forward(x, weight)`` returns ``weight @ dropout(x)`` (as ``F.linear``).

    Args:
        p: drop probability in ``[0, 1)``.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f'dropout probability must be in [0, 1), got {p!r}')
        self.p = float(p)

    def forward(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return dropout_lowrank(x, weight, self.p, self.training)

    def extra_repr(self) -> str:
        return f'p={self.p}'
