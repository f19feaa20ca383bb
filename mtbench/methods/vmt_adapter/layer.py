"""The VMT-Adapter module: shared projections around per-task knowledge extraction.

One module sits in parallel to the MLP of a Swin block. Its down- and up-projections are shared
by every task; each task owns only a knowledge-extraction vector pair (scale and shift) on the
bottleneck. The module returns the task-generic output and, for every task, the *difference*
between the task's output and the generic one, so that the frozen block runs once whatever the
number of tasks (see :mod:`mtbench.methods.vmt_adapter.blocks`).
"""
import math
from typing import Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['ACTIVATIONS', 'VMTAdapterModule']

#: Bottleneck activations: ReLU as in AdaptFormer's parallel adapter, or GELU.
ACTIVATIONS = {'relu': nn.ReLU, 'gelu': nn.GELU}


class VMTAdapterModule(nn.Module):
    """Shared down-projection, activation, per-task knowledge extraction, shared up-projection.

    For an input ``x`` of width ``d``, bottleneck ``k``, scale ``s`` and task ``t``::

        z     = drop(act(x W_d^T + b_d))                     shared hidden, [..., k]
        g     = s (z W_u^T + b_u)                            task-generic output
        g_t   = s ((z * gamma_t + beta_t) W_u^T + b_u)       task-specific output
        g_t - g = s (z * (gamma_t - 1) + beta_t) W_u^T       what :meth:`task_deltas` returns

    ``W_d`` is ``[k, d]``. ``W_u`` is ``[d, k]``, or, with ``lite=True`` (VMT-Adapter-Lite), the
    transpose of ``W_d`` itself, so one matrix serves both projections (``b_u`` stays its own).

    Initialisation: ``gamma_t = 1``, ``beta_t = 0`` (every task starts from the generic output).
    Full version: ``W_d`` Kaiming-uniform (a = sqrt(5)), ``W_u = 0``, biases 0, so the module
    outputs zero at step 0. Lite: the shared matrix is truncated-normal (std 0.02, Swin's init);
    it cannot also be zero, so the Lite module starts with a small non-zero generic output.

    Parameter names: ``down.{weight,bias}``, ``up.{weight,bias}`` (full) or ``up_bias`` (Lite),
    ``task_scale.<task>`` and ``task_shift.<task>``.

    Args:
        dim: input and output width ``d``.
        hidden: bottleneck width ``k``.
        tasks: tasks with a knowledge-extraction pair here (empty: generic output only).
        scale: output multiplier ``s``.
        dropout: dropout on the bottleneck activation.
        lite: tie the up-projection to the transposed down-projection.
        task_shift: give each task a shift ``beta_t`` besides its scale ``gamma_t``.
        activation: ``'relu'`` or ``'gelu'``.
        device, dtype: where to create the parameters.
    """

    def __init__(self, dim: int, hidden: int, tasks: Sequence[str] = (), scale: float = 1.0,
                 dropout: float = 0.0, lite: bool = False, task_shift: bool = True,
                 activation: str = 'relu', device=None, dtype=None):
        super().__init__()
        if not 1 <= hidden <= dim:
            raise ValueError(f'VMT-Adapter bottleneck must be in [1, {dim}] for width {dim}, '
                             f'got {hidden}')
        if activation not in ACTIVATIONS:
            raise ValueError(f'VMT-Adapter activation must be one of {sorted(ACTIVATIONS)}, '
                             f'got {activation!r}')
        factory = dict(device=device, dtype=dtype)
        self.dim, self.hidden_dim = dim, hidden
        self.tasks = tuple(tasks)
        self.scale = float(scale)
        self.lite = bool(lite)
        self.down = nn.Linear(dim, hidden, **factory)
        nn.init.zeros_(self.down.bias)
        if self.lite:
            nn.init.trunc_normal_(self.down.weight, std=0.02)
            self.up_bias = nn.Parameter(torch.zeros(dim, **factory))
        else:
            nn.init.kaiming_uniform_(self.down.weight, a=math.sqrt(5))
            self.up = nn.Linear(hidden, dim, **factory)
            nn.init.zeros_(self.up.weight)
            nn.init.zeros_(self.up.bias)
        self.act = ACTIVATIONS[activation]()
        self.drop = nn.Dropout(dropout)
        self.task_scale = nn.ParameterDict(
            {t: nn.Parameter(torch.ones(hidden, **factory)) for t in self.tasks})
        self.task_shift = nn.ParameterDict(
            {t: nn.Parameter(torch.zeros(hidden, **factory)) for t in self.tasks}
        ) if task_shift else None

    def up_weight(self) -> torch.Tensor:
        """The up-projection ``W_u`` (``[d, k]``); a view of ``W_d^T`` in the Lite version."""
        return self.down.weight.t() if self.lite else self.up.weight

    def up_bias_vector(self) -> torch.Tensor:
        """The up-projection bias ``b_u``."""
        return self.up_bias if self.lite else self.up.bias

    def bottleneck(self, x: torch.Tensor) -> torch.Tensor:
        """The shared hidden ``z = drop(act(x W_d^T + b_d))``."""
        return self.drop(self.act(self.down(x)))

    def generic_output(self, z: torch.Tensor) -> torch.Tensor:
        """The task-generic output ``s (z W_u^T + b_u)``."""
        return self.scale * F.linear(z, self.up_weight(), self.up_bias_vector())

    def task_deltas(self, z: torch.Tensor) -> Optional[torch.Tensor]:
        """``[T, *z.shape[:-1], d]``: every task's output minus the generic one (None if no task).

        One batched product: the frozen block never runs per task.
        """
        if not self.tasks:
            return None
        view = (len(self.tasks),) + (1,) * (z.dim() - 1) + (self.hidden_dim,)
        gamma = torch.stack([self.task_scale[t] for t in self.tasks]).view(view)
        low = z.unsqueeze(0) * (gamma - 1)
        if self.task_shift is not None:
            low = low + torch.stack([self.task_shift[t] for t in self.tasks]).view(view)
        return self.scale * F.linear(low, self.up_weight())

    def forward(self, x: torch.Tensor) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(generic output, task deltas or None)`` for the input ``x``."""
        z = self.bottleneck(x)
        return self.generic_output(z), self.task_deltas(z)

    def extra_repr(self) -> str:
        return (f'dim={self.dim}, hidden={self.hidden_dim}, tasks={list(self.tasks)}, '
                f'scale={self.scale}, lite={self.lite}')
