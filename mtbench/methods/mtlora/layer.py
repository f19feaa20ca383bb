"""The MTLoRA linear layer: a frozen Linear with a shared and optional task-specific LoRA.

Task streams travel *stacked along the batch dimension*: a tensor of ``(1 + T) * n`` rows holds
the shared stream (rows ``0 .. n-1``) followed by one block of ``n`` rows per task, in the
layer's task order. The frozen weight then runs once, on the shared rows, and every task's
low-rank path is one batched matmul.
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout

__all__ = ['MTLoRALinear', 'SHARED_MODES', 'site_dims']

#: ``matrix``: task output = W x + task delta (the reference default); ``matrixv2``: task
#: output = shared output + task delta; ``lora_only``: no task paths (plain multi-task LoRA).
SHARED_MODES = ('matrix', 'matrixv2', 'lora_only')


def _lora_pair(rank: int, d_in: int, d_out: int, like: torch.Tensor):
    a = nn.Parameter(torch.empty(rank, d_in, device=like.device, dtype=like.dtype))
    b = nn.Parameter(torch.zeros(d_out, rank, device=like.device, dtype=like.dtype))
    nn.init.kaiming_uniform_(a, a=math.sqrt(5))
    return a, b


class MTLoRALinear(nn.Module):
    """``W x + b`` (frozen ``linear``) plus MTLoRA's low-rank updates.

    * shared output: ``y = W x + b + s * B_s A_s drop(x)``;
    * task output (``shared_mode='matrix'``): ``y_t = W x + b + s_t * B_t A_t x_t``, where the
      frozen weight sees the *shared* input ``x`` and the task LoRA sees the task input ``x_t``
      (``drop(x)`` when the layer has no task inputs, see ``task_input``);
    * ``shared_mode='matrixv2'``: ``y_t = y + s_t * B_t A_t x_t``.

    ``A`` matrices are Kaiming-uniform (a = sqrt(5)), ``B`` matrices zero, so every update starts
    at 0. Dropout applies to the shared input only.

    Args:
        linear: the pretrained layer (kept as ``linear``, like the reference's key layout).
        rank: shared rank ``r`` (``lora_shared_A`` ``[r, d_in]``, ``lora_shared_B`` ``[d_out, r]``).
        scale: shared scale ``s`` (a plain multiplier, not ``alpha / r``).
        dropout: dropout probability on the shared LoRA input.
        task_ranks: ``{task: r_t}`` (ordered) for task-specific LoRA (``lora_tasks_A.<task>``,
            ``lora_tasks_B.<task>``); ``None`` or empty for a shared-only layer.
        task_scales: ``{task: s_t}``.
        shared_mode: ``'matrix'`` or ``'matrixv2'`` (see above).
        task_input: ``'shared'`` when the input is the shared stream only (the tasks' LoRA sees
            ``drop(x)``: the attention ``proj``), or ``'stacked'`` when the input holds the
            shared and the task streams stacked along dim 0 (``fc1``, ``fc2``).
    """

    def __init__(self, linear: nn.Linear, rank: int, scale: float = 4.0, dropout: float = 0.0,
                 task_ranks: Optional[Dict[str, int]] = None,
                 task_scales: Optional[Dict[str, float]] = None, shared_mode: str = 'matrix',
                 task_input: str = 'stacked'):
        super().__init__()
        if shared_mode not in ('matrix', 'matrixv2'):
            raise ValueError(f"MTLoRALinear shared_mode must be 'matrix' or 'matrixv2', "
                             f'got {shared_mode!r}')
        if task_input not in ('shared', 'stacked'):
            raise ValueError(f"task_input must be 'shared' or 'stacked', got {task_input!r}")
        self.linear = linear
        d_in, d_out = linear.in_features, linear.out_features
        self.rank = int(rank)
        self.scale = float(scale)
        self.lora_shared_A, self.lora_shared_B = _lora_pair(self.rank, d_in, d_out,
                                                            linear.weight)
        self.lora_dropout = LowRankDropout(dropout)
        task_ranks = dict(task_ranks or {})
        self.tasks = tuple(task_ranks)
        self.task_ranks = task_ranks
        self.task_scales = {t: float((task_scales or {}).get(t, scale)) for t in self.tasks}
        self.shared_mode = shared_mode
        self.task_input = task_input
        #: Whether the shared output row block carries the shared LoRA. MTLoRA turns it off
        #: where nothing reads that output (the last stage's last ``fc2``), which keeps the
        #: never-updated shared LoRA out of the graph, as unused parameters are elsewhere.
        self.shared_lora_output = True
        #: Whether the shared LoRA is folded into ``linear.weight`` (:meth:`merge`).
        self.merged = False
        self.lora_tasks_A = nn.ParameterDict()
        self.lora_tasks_B = nn.ParameterDict()
        for task, r in task_ranks.items():
            self.lora_tasks_A[task], self.lora_tasks_B[task] = _lora_pair(
                int(r), d_in, d_out, linear.weight)

    @property
    def in_features(self) -> int:
        return self.linear.in_features

    @property
    def out_features(self) -> int:
        return self.linear.out_features

    @property
    def num_streams(self) -> int:
        """Streams in the output: 1 (shared) + number of tasks."""
        return 1 + len(self.tasks)

    def task_factors(self) -> Tuple[torch.Tensor, torch.Tensor]:
        """Task factors zero-padded to a common rank, scales folded into ``B``.

        Returns:
            ``A`` ``[T, r_max, d_in]`` and ``s_t B_t`` ``[T, d_out, r_max]``.
        """
        r_max = max(self.task_ranks.values())
        a = [F.pad(self.lora_tasks_A[t], (0, 0, 0, r_max - self.task_ranks[t]))
             for t in self.tasks]
        b = [F.pad(self.lora_tasks_B[t] * self.task_scales[t], (0, r_max - self.task_ranks[t]))
             for t in self.tasks]
        return torch.stack(a), torch.stack(b)

    def _lows(self, x_shared: torch.Tensor, x_tasks: Optional[torch.Tensor], a: torch.Tensor,
              with_shared: bool) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
        """``A_s drop(x)`` ``[m, r]`` (``None`` unless ``with_shared``) and ``A_t x_t``
        ``[T, m, r_max]`` for ``a`` ``[T, r_max, d_in]``.

        Without task inputs (``x_tasks`` is ``None``) every task's LoRA reads ``drop(x)``, so one
        projection against all ``A`` matrices shares one dropout mask.
        """
        if x_tasks is not None:
            low_tasks = torch.bmm(x_tasks, a.transpose(1, 2))
            return (self.lora_dropout(x_shared, self.lora_shared_A) if with_shared else None,
                    low_tasks)
        t, r, _ = a.shape
        task_a = a.reshape(t * r, -1)
        low = self.lora_dropout(x_shared, torch.cat([self.lora_shared_A, task_a])
                                if with_shared else task_a)
        low_tasks = low[:, -t * r:].reshape(-1, t, r).transpose(0, 1)
        return (low[:, :self.rank] if with_shared else None), low_tasks

    def shared_update(self, x: torch.Tensor, base: torch.Tensor) -> torch.Tensor:
        """``base + s B_s A_s drop(x)`` (``base`` of the output's shape)."""
        low = self.lora_dropout(x, self.lora_shared_A)
        out = torch.addmm(base.reshape(-1, base.shape[-1]), low.reshape(-1, self.rank),
                          self.lora_shared_B.t(), alpha=self.scale)
        return out.view(base.shape)

    def shared_forward(self, x: torch.Tensor) -> torch.Tensor:
        """``W x + b + s B_s A_s drop(x)``, row by row (any input, stacked or not); one
        ``linear`` once merged."""
        base = self.linear(x)
        return base if self.merged else self.shared_update(x, base)

    def shared_delta(self) -> torch.Tensor:
        """The shared update as a dense matrix, ``s B_s A_s`` ``[d_out, d_in]``."""
        return self.scale * (self.lora_shared_B @ self.lora_shared_A)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the shared LoRA into the frozen weight: ``W <- W + s B_s A_s``.

        Only a layer without task LoRA merges: a task output reads the *unmerged* ``W x``
        (``shared_mode='matrix'``), so folding the shared update into ``W`` would change it.
        """
        if self.merged or self.tasks:
            return
        self.linear.weight += self.shared_delta().to(self.linear.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge`."""
        if not self.merged:
            return
        self.linear.weight -= self.shared_delta().to(self.linear.weight.dtype)
        self.merged = False

    def forward_stacked(self, x: torch.Tensor) -> torch.Tensor:
        """The shared and every task output, ``[1 + T, m, d_out]`` (``m`` rows per stream).

        The frozen weight runs once, on the shared rows; each stream's low-rank update is then
        added to it by one batched matmul that writes the stacked output directly.

        Args:
            x: the shared input ``[n, ..., d_in]`` (``task_input='shared'``) or the stacked
                input ``[(1 + T) * n, ..., d_in]`` (``task_input='stacked'``).
        """
        streams, d_in = self.num_streams, x.shape[-1]
        if self.task_input == 'stacked':
            if x.shape[0] % streams:
                raise ValueError(f'MTLoRALinear expects {streams} stacked streams, got a batch '
                                 f'of {x.shape[0]}')
            # split (not indexing): its backward concatenates the two gradients, where
            # indexing would zero-fill and add two stream-sized buffers.
            x_shared, x_tasks = x.reshape(streams, -1, d_in).split([1, streams - 1])
            x_shared = x_shared.squeeze(0)
        else:
            x_shared = x.reshape(-1, d_in)
        base = self.linear(x_shared)
        a_tasks, b_tasks = self.task_factors()
        with_shared = self.shared_lora_output or self.shared_mode == 'matrixv2'
        low_shared, low_tasks = self._lows(x_shared, x_tasks if self.task_input == 'stacked'
                                           else None, a_tasks, with_shared)
        if with_shared:
            b_shared = self.lora_shared_B * self.scale
        else:
            low_shared = base.new_zeros(base.shape[0], self.rank)
            b_shared = base.new_zeros(self.out_features, self.rank)
        r_s, r_t = self.rank, b_tasks.shape[-1]
        if self.shared_mode == 'matrixv2':  # tasks: [A_s drop(x), A_t x_t] @ [s B_s, s_t B_t]
            lows = torch.cat([F.pad(low_shared, (0, r_t)).unsqueeze(0),
                              torch.cat([low_shared.expand(len(self.tasks), -1, -1),
                                         low_tasks], dim=-1)])
            bs = torch.cat([F.pad(b_shared, (0, r_t)).unsqueeze(0),
                            torch.cat([b_shared.expand(len(self.tasks), -1, -1), b_tasks],
                                      dim=-1)])
        else:
            r = max(r_s, r_t)
            lows = torch.cat([F.pad(low_shared, (0, r - r_s)).unsqueeze(0),
                              F.pad(low_tasks, (0, r - r_t))])
            bs = torch.cat([F.pad(b_shared, (0, r - r_s)).unsqueeze(0),
                            F.pad(b_tasks, (0, r - r_t))])
        return torch.baddbmm(base.unsqueeze(0).expand(streams, -1, -1), lows,
                             bs.transpose(1, 2))

    def forward_streams(self, x: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """The shared output ``[n, ..., d_out]`` and the task outputs ``[T, n, ..., d_out]``.

        Args:
            x: the shared input ``[n, ...]`` (``task_input='shared'``) or the stacked input
                ``[(1 + T) * n, ...]`` (``task_input='stacked'``).
        """
        lead = x.shape[:-1] if self.task_input == 'shared' else (
            x.shape[0] // self.num_streams, *x.shape[1:-1])
        out = self.forward_stacked(x)
        return out[0].view(*lead, -1), out[1:].view(len(self.tasks), *lead, -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Without task LoRA: :meth:`shared_forward`. With task LoRA: the stacked output
        ``[(1 + T) * n, ..., d_out]`` (shared first) of :meth:`forward_stacked`."""
        if not self.tasks:
            return self.shared_forward(x)
        lead = x.shape[1:-1]
        return self.forward_stacked(x).view(-1, *lead, self.out_features)

    def extra_repr(self) -> str:
        text = f'rank={self.rank}, scale={self.scale}'
        if self.tasks:
            text += (f', task_ranks={self.task_ranks}, shared_mode={self.shared_mode}, '
                     f'task_input={self.task_input}')
        return text + (', merged=True' if self.merged else '')


def site_dims(dim: int, hidden: int) -> Dict[str, Sequence[int]]:
    """``(d_in, d_out)`` of the four block sites for width ``dim`` and MLP width ``hidden``."""
    return {'qkv': (dim, 3 * dim), 'proj': (dim, dim), 'fc1': (dim, hidden),
            'fc2': (hidden, dim)}
