"""A frozen Linear with a shared and per-task DoRA adapters (MTLoRA's stacked task streams)."""
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout

from .adapter import DoRAAdapter

__all__ = ['DoRALinear']


class DoRALinear(nn.Module):
    """A frozen Linear with a shared and optional task-specific DoRA adapters.

    Streams travel as in :class:`~mtbench.methods.mtlora.MTLoRALinear`: with task adapters the
    input is the shared stream (``task_input='shared'``, the attention ``proj``) or the shared
    and the task streams stacked along dim 0 (``task_input='stacked'``, ``fc1``/``fc2``), and the
    output stacks the shared and every task stream. Stream ``k`` computes
    ``g_k * (W x_base + s_k B_k A_k x_k) + bias`` with ``g_k = m_k / ||W + s_k B_k A_k||``, where
    ``x_base`` is the stream's own input (``task_base_input='task'``, the DoRA equation) or, for
    task streams, the shared input (``'shared'``, the MTLoRA reference's task path). Dropout
    applies to the shared adapter's low-rank input only. A stream without adapter computes
    ``W x + bias``.

    Args:
        base_layer: the pretrained layer (kept as ``base_layer``, frozen).
        rank: shared adapter rank (``None``: no shared adapter).
        scale: shared scale.
        dropout: dropout on the shared adapter's input.
        task_ranks: ``{task: rank}`` of the task adapters (``None``/empty: shared-only layer).
        task_scales: ``{task: scale}``.
        task_input: ``'shared'`` or ``'stacked'`` (see above).
        task_base_input: ``'task'`` or ``'shared'`` (see above).
        keys: one prefix-stream key per adapter (shared first, then tasks).
        seed: seed of the random prefixes.
        detach_norm: see :class:`DoRAAdapter`.
    """

    def __init__(self, base_layer: nn.Linear, rank: Optional[int], scale: float = 4.0,
                 dropout: float = 0.0, task_ranks: Optional[Dict[str, int]] = None,
                 task_scales: Optional[Dict[str, float]] = None, task_input: str = 'stacked',
                 task_base_input: str = 'task', keys: Sequence[int] = (), seed: int = 0,
                 detach_norm: bool = True):
        super().__init__()
        task_ranks = dict(task_ranks or {})
        keys = list(keys) or list(range(1 + len(task_ranks)))
        weight = base_layer.weight
        self.base_layer = base_layer
        self.dora_shared = None if rank is None else DoRAAdapter(
            weight, rank, scale, keys[0], seed, detach_norm)
        self.dora_tasks = nn.ModuleDict({
            t: DoRAAdapter(weight, r, (task_scales or {}).get(t, scale), keys[1 + i], seed,
                           detach_norm) for i, (t, r) in enumerate(task_ranks.items())})
        self.tasks = tuple(task_ranks)
        self.task_input = task_input
        self.task_base_input = task_base_input
        self.low_dropout = LowRankDropout(dropout)
        self.merged = False
        self._merged_streams: Optional[List[Tuple[torch.Tensor, Optional[torch.Tensor]]]] = None
        self._original_weight: Optional[torch.Tensor] = None

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    def adapters(self) -> Dict[str, DoRAAdapter]:
        """``{'shared' | task: adapter}`` of this layer."""
        found = {} if self.dora_shared is None else {'shared': self.dora_shared}
        found.update(self.dora_tasks.items())
        return found

    def _stream(self, adapter: Optional[DoRAAdapter], base: torch.Tensor, x: torch.Tensor,
                dropout: bool) -> torch.Tensor:
        bias = self.base_layer.bias
        if adapter is None:
            return base if bias is None else base + bias
        a, b = adapter.factors()
        low = self.low_dropout(x, a) if dropout else F.linear(x, a)
        rows = base.reshape(-1, base.shape[-1])
        out = torch.addmm(rows, low.reshape(-1, low.shape[-1]), b.t(), alpha=adapter.scale)
        scale = adapter.row_scale(self.base_layer.weight, a, b)
        out = out * scale if bias is None else torch.addcmul(bias, out, scale)
        return out.view(base.shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Shared-only: ``[..., d_in] -> [..., d_out]``; with tasks the stacked streams."""
        if self.merged:
            return self._merged_forward(x)
        weight = self.base_layer.weight
        if not self.tasks:
            return self._stream(self.dora_shared, F.linear(x, weight), x, True)
        streams = 1 + len(self.tasks)
        if self.task_input == 'shared':
            inputs = [x] * streams
        else:
            if x.shape[0] % streams:
                raise ValueError(f'DoRALinear expects {streams} stacked streams, got a batch of '
                                 f'{x.shape[0]}')
            inputs = list(x.chunk(streams))
        if self.task_input == 'shared' or self.task_base_input == 'shared':
            bases = [F.linear(inputs[0], weight)] * streams  # the frozen product runs once
        else:
            bases = list(F.linear(x, weight).chunk(streams))
        outs = [self._stream(self.dora_shared, bases[0], inputs[0], True)]
        outs += [self._stream(self.dora_tasks[t], bases[1 + i], inputs[1 + i], False)
                 for i, t in enumerate(self.tasks)]
        return torch.cat(outs)

    # ---------------------------------------------------------------- merging
    @torch.no_grad()
    def merge(self) -> None:
        """Fold every adapter into dense weights (a shared-only layer into ``base_layer``)."""
        if self.merged:
            return
        weight = self.base_layer.weight
        if not self.tasks:
            if self.dora_shared is not None:
                self._original_weight = weight.detach().clone()
                weight.copy_(self.dora_shared.merged_weight(weight))
        else:
            streams = []
            for adapter in [self.dora_shared, *self.dora_tasks.values()]:
                dense = weight.detach() if adapter is None else adapter.merged_weight(weight)
                if self.task_base_input == 'shared' and adapter is not self.dora_shared:
                    # g (W x_shared + s B A x_t): the frozen part reads the shared input.
                    g = adapter.magnitude / torch.linalg.vector_norm(
                        weight + adapter.scale * (adapter.B @ adapter.A), dim=1)
                    streams.append((dense - g[:, None] * weight, g[:, None] * weight))
                else:
                    streams.append((dense, None))
            self._merged_streams = streams
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Undo :meth:`merge` exactly."""
        if not self.merged:
            return
        if self._original_weight is not None:
            self.base_layer.weight.copy_(self._original_weight)
        self._original_weight, self._merged_streams, self.merged = None, None, False

    def _merged_forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.base_layer.bias
        if not self.tasks:
            return self.base_layer(x)
        streams = len(self._merged_streams)
        inputs = [x] * streams if self.task_input == 'shared' else list(x.chunk(streams))
        outs = []
        for x_k, (own, on_shared) in zip(inputs, self._merged_streams):
            out = F.linear(x_k, own, bias)
            outs.append(out if on_shared is None else out + F.linear(inputs[0], on_shared))
        return torch.cat(outs)

    def extra_repr(self) -> str:
        ranks = {k: a.rank for k, a in self.adapters().items()}
        return f'ranks={ranks}, task_input={self.task_input!r}, merged={self.merged}'
