"""A frozen Linear followed by task-specific (or half-shared) bottleneck adapters.

Used by :class:`~mtbench.methods.vl_adapter.VLAdapter` in its ``'per_task'`` and
``'half_shared'`` modes, where every task has its own stream through the backbone (the task
streams are concatenated along the batch dimension, see
:class:`~mtbench.methods.progressive.ProgressiveSwinTransformer`). The ``'shared'`` mode uses
:class:`~mtbench.methods.adapter.AdaptedLinear` directly.
"""
from typing import Optional, Sequence

import torch
import torch.nn as nn

from mtbench.methods.adapter.layer import Adapter

__all__ = ['TaskAdaptedLinear', 'SHARED_HALVES']

#: Which projection of a half-shared adapter is shared by all tasks.
SHARED_HALVES = ('down', 'up')


class TaskAdaptedLinear(nn.Module):
    """``y_t = z_t + up_t(GELU(down_t(z_t)))`` with ``z_t = W x_t + b``, one adapter per task.

    The input holds the ``T`` task streams concatenated along the first (batch-major) dimension,
    in the order of ``tasks``: ``[T * N, ..., d_in]``. The frozen base layer runs once on all of
    them.

    With ``shared_half=None`` every task has a full :class:`Adapter` (parameters
    ``adapters.<task>.{down,up}.*``). With ``shared_half='down'`` (or ``'up'``) that projection
    is one module shared by every task (``adapter_shared.*``) and only the other one is per task
    (``adapters.<task>.*``): VL-Adapter's "half-shared adapters". Every projection is taken from
    a fresh :class:`Adapter`, so it keeps that class's initialisation (down trunc-normal 0.02,
    up zero: each stream computes the pretrained function at initialisation).

    Args:
        base_layer: the pretrained linear layer (kept as ``base_layer``).
        tasks: task names, in stream order.
        hidden: bottleneck width.
        shared_half: ``None``, ``'down'`` or ``'up'``.
    """

    def __init__(self, base_layer: nn.Linear, tasks: Sequence[str], hidden: int,
                 shared_half: Optional[str] = None):
        super().__init__()
        if shared_half is not None and shared_half not in SHARED_HALVES:
            raise ValueError(f'shared_half must be None or one of {SHARED_HALVES}, '
                             f'got {shared_half!r}')
        dim = base_layer.out_features
        self.base_layer = base_layer
        self.tasks = list(tasks)
        self.shared_half = shared_half
        if shared_half is None:
            self.adapters = nn.ModuleDict({t: Adapter(dim, hidden) for t in self.tasks})
            return
        per_task = 'up' if shared_half == 'down' else 'down'
        self.adapter_shared = getattr(Adapter(dim, hidden), shared_half)
        self.adapters = nn.ModuleDict(
            {t: getattr(Adapter(dim, hidden), per_task) for t in self.tasks})
        self.act = nn.GELU()

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the layer to ``T`` concatenated task streams ``[T * N, ..., d_in]``."""
        out = self.base_layer(x)
        k = len(self.tasks)
        if out.shape[0] % k:
            raise ValueError(f'TaskAdaptedLinear expects its {k} task streams concatenated along '
                             f'the first dimension; got a leading size {out.shape[0]}')
        streams = out.chunk(k, dim=0)
        if self.shared_half is None:
            return torch.cat([self.adapters[t](z) for t, z in zip(self.tasks, streams)])
        if self.shared_half == 'down':
            hidden = self.act(self.adapter_shared(out)).chunk(k, dim=0)
            update = torch.cat([self.adapters[t](h) for t, h in zip(self.tasks, hidden)])
        else:
            hidden = torch.cat([self.adapters[t](z) for t, z in zip(self.tasks, streams)])
            update = self.adapter_shared(self.act(hidden))
        return out + update

    def extra_repr(self) -> str:
        return f'tasks={self.tasks}, shared_half={self.shared_half!r}'
