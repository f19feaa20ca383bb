"""Low-rank projections of a normalized input, with the normalized input recomputed, not stored.

Task-specific methods project the LayerNorm of every task stream to a rank-``r`` bottleneck, e.g.
TADFormer's TPC norm and ``norm2`` before its TA-modules (MTLoRA's ``norm2`` before its task
``fc1`` LoRA is such a pair too; it does not use this, see ``docs/benchmarks.md``). Plain
autograd stores two full-size tensors per stream for that pair: the LayerNorm's input (for its
own gradient) and its output (for the projection's weight gradient). :func:`project_normalized`
stores the input only and recomputes the LayerNorm and the projection in the backward pass,
which costs one pass over the input and one rank-``r`` product and saves one ``[T, N, C]``
tensor: at Swin-T's first stage (112² tokens, four tasks, batch 2) 37 MiB per site. Values and
gradients are those of the plain expression, bit for bit (the recomputation runs the same ops on
the same input).

Example:
    >>> norm, a = torch.nn.LayerNorm(8), torch.randn(2, 8, requires_grad=True)
    >>> x = torch.randn(3, 8, requires_grad=True)
    >>> torch.equal(project_normalized(x, norm, lambda z: z @ a.t()), norm(x) @ a.t())
    True
"""
from typing import Callable

import torch
from torch.utils.checkpoint import checkpoint

__all__ = ['project_normalized']


def project_normalized(x: torch.Tensor, norm: Callable[[torch.Tensor], torch.Tensor],
                       project: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """``project(norm(x))``; under autograd ``norm(x)`` is recomputed in the backward pass.

    Args:
        x: the input of the normalization.
        norm: the normalization (e.g. an ``nn.LayerNorm``); deterministic.
        project: the low-rank projection of the normalized input; deterministic.
    """
    if not torch.is_grad_enabled():
        return project(norm(x))
    return checkpoint(lambda t: project(norm(t)), x, use_reentrant=False,
                      preserve_rng_state=False)
