"""TADFormer's task filters: depthwise 3x3 convolutions on the rank-r LoRA bottleneck.

Both filters take the down-projected task inputs of every task at once, ``[T, S, r, h, w]``
(``T`` tasks, ``S`` samples: windows for ``attn.proj``, images for ``mlp.fc1``/``mlp.fc2``), and
return a tensor of the same shape.

* :class:`DynamicTaskFilter` (the paper's *Dynamic Task Filter*, DTF): one module per site shared
  by the tasks; each sample gets its own depthwise kernels generated from its global average
  (``9 r^2 + 27 r`` parameters).
* :class:`StaticTaskFilter` (the released code's default): an ordinary depthwise conv with bias per
  task (``10 r`` parameters per task).
"""
import math
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['DynamicTaskFilter', 'StaticTaskFilter', 'build_task_filter']


class DynamicTaskFilter(nn.Module):
    """Input-conditioned depthwise ``k x k`` filter shared by all tasks.

    For a sample ``u`` (``r`` channels): ``w = conv(GAP(u))`` (1x1 conv ``r -> k^2 r``); each
    channel's ``k^2`` taps are standardised (mean 0, unbiased std 1, ``+1e-10``), then scaled by
    ``std`` and shifted by ``mean`` (learnable, ``k^2 r`` each: FilterNorm of type 'channel');
    the sample is convolved depthwise with its own kernels (padding ``k // 2``, no bias).

    Args:
        rank: channels ``r``.
        kernel_size: kernel side ``k``.
    """

    def __init__(self, rank: int, kernel_size: int = 3):
        super().__init__()
        self.rank = rank
        self.kernel_size = kernel_size
        taps = kernel_size * kernel_size
        self.conv = nn.Conv2d(rank, rank * taps, 1)
        # FilterNorm init: std ~ N(0, 1) * gain('relu') / k, mean ~ N(0, 1).
        self.std = nn.Parameter(torch.randn(rank * taps) * (math.sqrt(2.0) / kernel_size))
        self.mean = nn.Parameter(torch.randn(rank * taps))

    def kernels(self, u: torch.Tensor) -> torch.Tensor:
        """Per-sample kernels ``[S * r, 1, k, k]`` for inputs ``u`` of shape ``[S, r, h, w]``."""
        s, r = u.shape[:2]
        taps = self.kernel_size ** 2
        pooled = u.mean(dim=(2, 3))
        w = F.linear(pooled, self.conv.weight.view(r * taps, r), self.conv.bias).view(s, r, taps)
        w = w - w.mean(dim=2, keepdim=True)
        w = w / (w.std(dim=2, keepdim=True) + 1e-10)
        w = w.reshape(s, r * taps) * self.std + self.mean
        return w.view(s * r, 1, self.kernel_size, self.kernel_size)

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Filter ``u`` ``[T, S, r, h, w]`` (every task sample with its own kernels)."""
        t, s, r, h, w = u.shape
        flat = u.reshape(t * s, r, h, w)
        out = F.conv2d(flat.reshape(1, t * s * r, h, w), self.kernels(flat),
                       padding=self.kernel_size // 2, groups=t * s * r)
        return out.view(t, s, r, h, w)

    def extra_repr(self) -> str:
        return f'rank={self.rank}, kernel_size={self.kernel_size}'


class StaticTaskFilter(nn.ModuleDict):
    """One depthwise ``k x k`` conv with bias per task (the released TADFormer code's filter).

    Parameters are named ``<task>.weight`` / ``<task>.bias``; all tasks run in one grouped conv.

    Args:
        rank: channels ``r``.
        tasks: task names, in the order of the first dimension of the input.
        kernel_size: kernel side ``k``.
    """

    def __init__(self, rank: int, tasks: Sequence[str], kernel_size: int = 3):
        super().__init__({t: nn.Conv2d(rank, rank, kernel_size, padding=kernel_size // 2,
                                       groups=rank) for t in tasks})
        self.rank = rank
        self.kernel_size = kernel_size

    def forward(self, u: torch.Tensor) -> torch.Tensor:
        """Filter ``u`` ``[T, S, r, h, w]`` with task ``i``'s conv on ``u[i]``."""
        t, s, r, h, w = u.shape
        convs = list(self.values())
        weight = torch.cat([c.weight for c in convs], dim=0)
        bias = torch.cat([c.bias for c in convs], dim=0)
        x = u.permute(1, 0, 2, 3, 4).reshape(s, t * r, h, w)
        out = F.conv2d(x, weight, bias, padding=self.kernel_size // 2, groups=t * r)
        return out.view(s, t, r, h, w).permute(1, 0, 2, 3, 4)

    def extra_repr(self) -> str:
        return f'rank={self.rank}, kernel_size={self.kernel_size}'


def build_task_filter(kind: str, rank: int, tasks: Sequence[str]) -> nn.Module:
    """``'dtf'`` -> :class:`DynamicTaskFilter`, ``'static'`` -> :class:`StaticTaskFilter`."""
    if kind == 'dtf':
        return DynamicTaskFilter(rank)
    if kind == 'static':
        return StaticTaskFilter(rank, tasks)
    raise ValueError(f"TADFormer filter must be 'dtf' or 'static', got {kind!r}")
