"""TADFormer's linear site: frozen Linear + shared LoRA, with an optional task path (TA-module)."""
import math
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout, sparse_dropout
from mtbench.methods.recompute import project_normalized

__all__ = ['TADLinear']


class TADLinear(nn.Module):
    """``y = W x + b + s B A drop(x)`` around a frozen ``nn.Linear`` (shared by all tasks).

    In the task-adapting block of a stage, ``attn.proj``/``mlp.fc1``/``mlp.fc2`` also run the
    *TA-module* for every task: ``y_t = W x + s B F(A z_t)``, where ``z_t`` is the task input,
    ``F`` a task filter (:mod:`mtbench.methods.tadformer.filters`) applied on the spatial layout
    of the rank-r bottleneck, and the frozen ``W x`` is the shared pre-activation. ``s`` is a plain
    multiplier (not ``alpha / r``).

    Args:
        linear: the pretrained linear layer (kept as ``linear``, frozen by the method).
        rank: LoRA rank ``r``.
        scale: the multiplier ``s``.
        dropout: dropout on the shared LoRA input.
        task_filter: the TA-module filter, or ``None`` (shared LoRA only).
        prompt_norm: add ``tad_prompt_norm`` (the TPC LayerNorm of ``attn.proj``).
    """

    def __init__(self, linear: nn.Linear, rank: int, scale: float = 4.0,
                 dropout: float = 0.0, task_filter: Optional[nn.Module] = None,
                 prompt_norm: bool = False):
        super().__init__()
        width = min(linear.in_features, linear.out_features)
        if not isinstance(rank, int) or not 1 <= rank <= width:
            raise ValueError(f'TADFormer rank must be an integer in [1, {width}] for a '
                             f'{linear.in_features}->{linear.out_features} layer, '
                             f'got {rank!r}')
        self.linear = linear
        self.rank = rank
        self.scale = float(scale)
        self.tad_lora_A = nn.Parameter(torch.empty(rank, linear.in_features))
        self.tad_lora_B = nn.Parameter(torch.zeros(linear.out_features, rank))
        nn.init.kaiming_uniform_(self.tad_lora_A, a=math.sqrt(5))
        self.lora_dropout = LowRankDropout(dropout)
        self.tad_filter = task_filter
        self.tad_prompt_norm = nn.LayerNorm(linear.in_features) if prompt_norm else None

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    def parts(self, x: torch.Tensor, with_dropped: bool = False
              ) -> Tuple[torch.Tensor, torch.Tensor, Optional[torch.Tensor]]:
        """``(W x + b, W x + b + s B A drop(x), drop(x))``: the frozen output, the shared
        output and (with ``with_dropped``, else ``None``) the dropped input."""
        base = self.linear(x)
        if with_dropped:
            dropped = sparse_dropout(x, self.lora_dropout.p, self.training)
            low = F.linear(dropped, self.tad_lora_A)
        else:
            dropped, low = None, self.lora_dropout(x, self.tad_lora_A)
        out = torch.addmm(base.reshape(-1, base.shape[-1]), low.reshape(-1, self.rank),
                          self.tad_lora_B.t(), alpha=self.scale)
        return base, out.view(base.shape), dropped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The shared output ``W x + b + s B A drop(x)``."""
        return self.parts(x)[1]

    def task_forward(self, z: torch.Tensor, base: torch.Tensor, grid: Tuple[int, int],
                     norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None
                     ) -> torch.Tensor:
        """The TA-module outputs of all tasks at once.

        Args:
            z: task inputs ``[T, S, h*w, C_in]`` (row-major spatial layout per sample).
            base: the frozen shared output ``W x + b``, ``[S, h*w, C_out]``.
            grid: ``(h, w)``.
            norm: applied to ``z`` first, if given (see :meth:`task_low`).

        Returns:
            ``[T, S, h*w, C_out]``: ``base + s B F(A z_t)``.
        """
        t, s, n, _ = z.shape
        return self.task_up(self.task_low(z, grid, norm), base).view(t, s, n, -1)

    def filtered(self, u: torch.Tensor, shape: Tuple[int, int, int], grid: Tuple[int, int]
                 ) -> torch.Tensor:
        """``F(u)``: the task filter on the bottleneck ``u`` ``[T, S*h*w, r]`` (``shape`` is
        ``(T, S, h*w)``), returned in the same layout."""
        t, s, n = shape
        h, w = grid
        u = u.reshape(t, s, h, w, self.rank).permute(0, 1, 4, 2, 3)
        return self.tad_filter(u).permute(0, 1, 3, 4, 2).reshape(t, s * n, self.rank)

    def task_low(self, z: torch.Tensor, grid: Tuple[int, int],
                 norm: Optional[Callable[[torch.Tensor], torch.Tensor]] = None) -> torch.Tensor:
        """``F(A z_t)`` ``[T, S*h*w, r]`` for task inputs ``z`` ``[T, S, h*w, C_in]``; with
        ``norm``, of ``norm(z)``, recomputed in the backward pass instead of stored
        (:func:`~mtbench.methods.recompute.project_normalized`)."""
        if norm is None:
            low = F.linear(z, self.tad_lora_A)
        else:
            low = project_normalized(z, norm, lambda t: F.linear(t, self.tad_lora_A))
        return self.filtered(low, z.shape[:3], grid)

    def task_up(self, v: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """``base + s B v_t`` ``[T, S*h*w, C_out]`` for ``v`` ``[T, S*h*w, r]`` and the shared
        ``base`` (``S*h*w`` rows)."""
        t = v.shape[0]
        base = base.reshape(1, v.shape[1], -1).expand(t, -1, -1)
        return torch.baddbmm(base, v, self.tad_lora_B.t().unsqueeze(0).expand(t, -1, -1),
                             alpha=self.scale)

    def extra_repr(self) -> str:
        return (f'in_features={self.in_features}, out_features={self.out_features}, '
                f'rank={self.rank}, scale={self.scale}')
