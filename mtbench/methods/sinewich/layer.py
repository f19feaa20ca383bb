"""The Sine-AWB linear layer: a frozen Linear, a shared low-rank base, frequency-switched tasks.

Task streams travel stacked along the batch dimension, as in
:mod:`mtbench.methods.mtlora.layer`: ``(1 + T) * n`` rows hold the shared stream first, then one
block of ``n`` rows per task (the layer's task order).
"""
import math
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout
from mtbench.models.decoders.sinewich_group import frequency_modulate

__all__ = ['SineAWBLinear']


def _down(rank: int, d_in: int) -> nn.Parameter:
    a = nn.Parameter(torch.empty(rank, d_in))
    nn.init.kaiming_uniform_(a, a=math.sqrt(5))
    return a


class SineAWBLinear(nn.Module):
    """``W x + b`` (frozen ``base_layer``) plus a shared low-rank base modulated per task.

    With the shared factors ``A`` ``[r, d_in]``, ``B`` ``[d_out, r]`` and the intermediate kernel
    ``K`` ``[r, r]`` (the paper's "AWB" fusion ``M = B K A``):

    * shared stream (every site; the task-agnostic module): ``y = W x + b + s B A drop(x)``;
    * task stream ``t`` (task-specific sites only): ``y_t = W x_t + b + D_t x_t`` with the dense
      delta ``D_t = g LowPass(sin(w_t M))`` (:func:`frequency_modulate`) and the task frequency
      ``w_t`` read from the task state (:class:`~mtbench.methods.sinewich.SinewichTaskState`).

    ``A`` is Kaiming-uniform (a = sqrt(5)), ``B`` zero, ``K`` the identity: ``M = 0``, so every
    stream computes the pretrained function at initialisation. With ``shared_base=False`` every
    task has its own ``A_t, B_t, K_t`` (the "independent base" ablation); ``A, B`` then serve the
    shared stream only.

    Args:
        base_layer: the pretrained linear layer (kept as ``base_layer``, frozen).
        rank: rank ``r``.
        scale: shared-stream LoRA multiplier ``s``.
        dropout: dropout on the shared-stream LoRA input.
        tasks: task names of the task streams (empty: a plain shared LoRA site).
        task_input: ``'stacked'`` (input holds ``1 + T`` streams) or ``'shared'`` (one input,
            ``1 + T`` outputs; the attention ``proj``).
        shared_base: one base for all tasks (else one per task).
        mid_kernel: include ``K`` (else ``M = B A``).
        gain: ``g``.
        sine, low_pass, low_pass_kernel, low_pass_sigma: see :func:`frequency_modulate`.
    """

    def __init__(self, base_layer: nn.Linear, rank: int, scale: float = 4.0,
                 dropout: float = 0.0, tasks: Sequence[str] = (), task_input: str = 'stacked',
                 shared_base: bool = True, mid_kernel: bool = True, gain: float = 0.04,
                 sine: bool = True, low_pass: bool = True, low_pass_kernel: int = 7,
                 low_pass_sigma: float = 1.0):
        super().__init__()
        width = min(base_layer.in_features, base_layer.out_features)
        if isinstance(rank, bool) or not isinstance(rank, int) or not 1 <= rank <= width:
            raise ValueError(f'FreeSinewich rank must be an integer in [1, {width}] for a '
                             f'{base_layer.in_features}->{base_layer.out_features} layer, '
                             f'got {rank!r}')
        if task_input not in ('stacked', 'shared'):
            raise ValueError(f"task_input must be 'stacked' or 'shared', got {task_input!r}")
        d_in, d_out = base_layer.in_features, base_layer.out_features
        self.base_layer = base_layer
        self.rank, self.scale = rank, float(scale)
        self.tasks = tuple(tasks)
        self.task_input = task_input
        self.shared_base, self.mid_kernel = bool(shared_base), bool(mid_kernel)
        self.gain = float(gain)
        self.sine, self.low_pass = bool(sine), bool(low_pass)
        self.low_pass_kernel, self.low_pass_sigma = low_pass_kernel, float(low_pass_sigma)
        self.sine_A = _down(rank, d_in)
        self.sine_B = nn.Parameter(torch.zeros(d_out, rank))
        if self.tasks and self.shared_base and self.mid_kernel:
            self.sine_W = nn.Parameter(torch.eye(rank))
        if self.tasks and not self.shared_base:
            self.sine_task_A = nn.ParameterDict({t: _down(rank, d_in) for t in self.tasks})
            self.sine_task_B = nn.ParameterDict(
                {t: nn.Parameter(torch.zeros(d_out, rank)) for t in self.tasks})
            if self.mid_kernel:
                self.sine_task_W = nn.ParameterDict(
                    {t: nn.Parameter(torch.eye(rank)) for t in self.tasks})
        self.lora_dropout = LowRankDropout(dropout)
        self.merged = False
        self._merged_tasks: Optional[torch.Tensor] = None
        self._task_state = None

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def set_task_state(self, state: nn.Module) -> None:
        """Read the task frequencies from ``state`` (a reference, not a submodule)."""
        object.__setattr__(self, '_task_state', state)

    def shared_delta(self) -> torch.Tensor:
        """The shared stream's dense update ``s B A`` (out x in)."""
        return self.scale * (self.sine_B @ self.sine_A)

    def base_matrices(self) -> torch.Tensor:
        """``M = B K A``: ``[1, d_out, d_in]`` (shared base) or ``[T, d_out, d_in]``."""
        if self.shared_base:
            mid = self.sine_B @ self.sine_W if self.mid_kernel else self.sine_B
            return (mid @ self.sine_A).unsqueeze(0)
        mats = []
        for t in self.tasks:
            mid = self.sine_task_B[t] @ self.sine_task_W[t] if self.mid_kernel else \
                self.sine_task_B[t]
            mats.append(mid @ self.sine_task_A[t])
        return torch.stack(mats)

    def task_deltas(self) -> torch.Tensor:
        """The dense task updates ``D_t`` of every task, ``[T, d_out, d_in]``."""
        if self._task_state is None:
            raise RuntimeError('SineAWBLinear has task streams but no task state; FreeSinewich '
                               'sets it when it adds the layer')
        return frequency_modulate(self.base_matrices(), self._task_state.frequencies(),
                                  self.gain, self.sine, self.low_pass, self.low_pass_kernel,
                                  self.low_pass_sigma)

    def shared_forward(self, x: torch.Tensor) -> torch.Tensor:
        """The shared stream ``W x + b + s B A drop(x)`` (``W x + b`` once merged)."""
        out = self.base_layer(x)
        if self.merged:
            return out
        return out + self.scale * F.linear(self.lora_dropout(x, self.sine_A), self.sine_B)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Without tasks: :meth:`shared_forward`. With tasks: the stacked output
        ``[(1 + T) * n, ..., d_out]`` from a stacked (or, for ``task_input='shared'``, a single)
        input ``[., ..., d_in]``."""
        if not self.tasks:
            return self.shared_forward(x)
        streams = 1 + len(self.tasks)
        if self.task_input == 'stacked':
            if x.shape[0] % streams:
                raise ValueError(f'SineAWBLinear expects {streams} stacked streams, got a batch '
                                 f'of {x.shape[0]}')
            n = x.shape[0] // streams
            x_shared, x_tasks = x.split([n, x.shape[0] - n])
        else:
            x_shared, x_tasks = x, None
        shared = self.shared_forward(x_shared)
        tasks = self._task_forward(x_shared if x_tasks is None else x_tasks,
                                   x_tasks is None)
        return torch.cat([shared, tasks.view(-1, *shared.shape[1:])])

    def _task_forward(self, x: torch.Tensor, broadcast: bool) -> torch.Tensor:
        """Task outputs ``[T, n * ..., d_out]``; ``x`` is one shared input (``broadcast``) or the
        ``T`` stacked task inputs."""
        n_tasks, d_in = len(self.tasks), x.shape[-1]
        bias = self.base_layer.bias
        if self.merged:
            weights = self._merged_tasks
        else:
            weights = self.base_layer.weight.unsqueeze(0) + self.task_deltas()
        rows = x.reshape(1 if broadcast else n_tasks, -1, d_in)
        out = torch.matmul(rows, weights.transpose(1, 2))
        return out if bias is None else out + bias.to(out.dtype)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold ``s B A`` into the frozen weight; cache the task weights ``W + D_t``."""
        if self.merged:
            return
        if self.tasks:
            self._merged_tasks = self.base_layer.weight.unsqueeze(0) + self.task_deltas()
        self.base_layer.weight += self.shared_delta().to(self.base_layer.weight.dtype)
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge`."""
        if not self.merged:
            return
        self.base_layer.weight -= self.shared_delta().to(self.base_layer.weight.dtype)
        self._merged_tasks = None
        self.merged = False

    def extra_repr(self) -> str:
        text = f'rank={self.rank}, scale={self.scale}'
        if self.tasks:
            text += (f', tasks={list(self.tasks)}, task_input={self.task_input}, '
                     f'shared_base={self.shared_base}, gain={self.gain:g}, sine={self.sine}, '
                     f'low_pass={self.low_pass}')
        return text + f', merged={self.merged}'
