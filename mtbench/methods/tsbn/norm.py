"""The task-specific LayerNorm of TSBN / TSσBN: one affine (or one sigmoid gate) per task stream.

Task streams travel *stacked along the batch dimension*: a tensor of ``T * n`` rows holds the
stream of task ``tasks[0]`` in rows ``0 .. n-1``, then one block of ``n`` rows per task, in the
layer's task order (the layout of :mod:`mtbench.methods.mtlora.layer`). Each stream is
normalised over its channels with its own per-token statistics, then scaled by its own task's
parameters; every frozen operation around the norm runs once on all ``T * n`` rows.
"""
import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['MODES', 'TaskLayerNorm', 'logit']

#: ``affine``: TSBN, a per-task copy ``(gamma_t, beta_t)`` of the affine transform;
#: ``gate_pretrained``: TSσBN, ``c * sigmoid(g_t)`` times the frozen pretrained LayerNorm output;
#: ``gate_normalized``: TSσBN as the paper writes σBN, ``c * sigmoid(g_t)`` times ``x_hat``.
MODES = ('affine', 'gate_pretrained', 'gate_normalized')

Affine = Tuple[torch.Tensor, Optional[torch.Tensor]]


class TaskLayerNorm(nn.LayerNorm):
    """A pretrained :class:`nn.LayerNorm` converted in place to one affine per task stream.

    With ``x_hat`` the input normalised over its last dimension (per token), the output of the
    stream of task ``t`` is

    * ``affine``:          ``gamma_t * x_hat + beta_t`` (``tsbn_weight.<t>``, ``tsbn_bias.<t>``,
      initialised to copies of the pretrained ``weight`` / ``bias``);
    * ``gate_pretrained``: ``c * sigmoid(g_t) * (weight * x_hat + bias)`` (``tsbn_gate.<t>``;
      the pretrained ``weight`` / ``bias`` stay, frozen);
    * ``gate_normalized``: ``c * sigmoid(g_t) * x_hat`` (the pretrained affine is not used).

    The conversion keeps the pretrained ``weight`` and ``bias`` under their names (the key layout
    of the backbone does not change) and adds the per-task parameters.

    Attributes:
        tsbn_tasks: task order of the stacked streams.
        tsbn_mode: one of :data:`MODES`.
        tsbn_gate_scale: ``c`` of the gated modes.
        tsbn_broadcast: the input is one shared stream of ``n`` rows that this norm splits into
            ``T`` task streams (``T * n`` output rows); otherwise the input already holds the
            ``T`` streams.
    """

    tsbn_tasks: Tuple[str, ...]
    tsbn_mode: str
    tsbn_gate_scale: float
    tsbn_broadcast: bool

    @classmethod
    def convert(cls, norm: nn.LayerNorm, tasks: Sequence[str], mode: str = 'affine',
                gate_scale: float = 2.0, gate_init: float = 0.0,
                broadcast: bool = False) -> 'TaskLayerNorm':
        """Turn ``norm`` into a task-specific norm in place.

        Args:
            norm: a LayerNorm with an elementwise affine (the pretrained one).
            tasks: task names, in stream order.
            mode: one of :data:`MODES`.
            gate_scale: ``c`` of the gated modes.
            gate_init: initial value of every gate logit ``g_t``.
            broadcast: see :attr:`tsbn_broadcast`.

        Raises:
            ValueError: an unknown mode, no tasks, or a LayerNorm without affine parameters.
        """
        if mode not in MODES:
            raise ValueError(f'TaskLayerNorm mode must be one of {MODES}, got {mode!r}')
        if not tasks:
            raise ValueError('TaskLayerNorm needs at least one task')
        if norm.weight is None or norm.bias is None:
            raise ValueError('TaskLayerNorm converts LayerNorms with elementwise affine '
                             'parameters (weight and bias)')
        norm.__class__ = cls
        norm.tsbn_tasks = tuple(tasks)
        norm.tsbn_mode = mode
        norm.tsbn_gate_scale = float(gate_scale)
        norm.tsbn_broadcast = bool(broadcast)
        if mode == 'affine':
            norm.tsbn_weight = nn.ParameterDict(
                {t: nn.Parameter(norm.weight.detach().clone()) for t in tasks})
            norm.tsbn_bias = nn.ParameterDict(
                {t: nn.Parameter(norm.bias.detach().clone()) for t in tasks})
        else:
            norm.tsbn_gate = nn.ParameterDict(
                {t: nn.Parameter(torch.full_like(norm.weight.detach(), float(gate_init)))
                 for t in tasks})
        return norm

    def gate(self, task: str) -> torch.Tensor:
        """The bounded per-channel gate ``c * sigmoid(g_t)`` of a gated mode."""
        return self.tsbn_gate_scale * torch.sigmoid(self.tsbn_gate[task])

    def task_affine(self, task: str) -> Affine:
        """``(weight, bias)`` that ``F.layer_norm`` applies to the stream of ``task``."""
        if self.tsbn_mode == 'affine':
            return self.tsbn_weight[task], self.tsbn_bias[task]
        gate = self.gate(task)
        if self.tsbn_mode == 'gate_pretrained':
            return gate * self.weight, gate * self.bias
        return gate, None

    def task_affines(self) -> List[Affine]:
        """:meth:`task_affine` of every task, in stream order."""
        return [self.task_affine(t) for t in self.tsbn_tasks]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalise ``x`` (``[T * n, ..., C]``, or ``[n, ..., C]`` when broadcasting)."""
        streams = len(self.tsbn_tasks)
        if self.tsbn_broadcast:
            chunks = [x] * streams
        else:
            if x.shape[0] % streams:
                raise ValueError(f'TaskLayerNorm expects its {streams} task streams stacked '
                                 f'along the first dimension; got a leading size {x.shape[0]}')
            chunks = x.chunk(streams)
        out = [F.layer_norm(chunk, self.normalized_shape, weight, bias, self.eps)
               for chunk, (weight, bias) in zip(chunks, self.task_affines())]
        return out[0] if streams == 1 else torch.cat(out)

    def extra_repr(self) -> str:
        return (f'{super().extra_repr()}, tasks={list(self.tsbn_tasks)}, mode={self.tsbn_mode}'
                + (f', gate_scale={self.tsbn_gate_scale}' if self.tsbn_mode != 'affine' else '')
                + (', broadcast=True' if self.tsbn_broadcast else ''))


def logit(p: float) -> float:
    """``log(p / (1 - p))``, the gate logit whose sigmoid is ``p`` (``0 < p < 1``)."""
    return math.log(p / (1.0 - p))
