"""The DiTASK linear layer: a frozen Linear whose singular values move along CPA diffeomorphisms.

With the frozen weight's SVD ``W = U diag(sigma) V^T`` (computed once, per q/k/v block for the
attention's ``qkv``), a stream's weight is ``W' = U diag(f_theta(sigma)) V^T``, evaluated as
``W + U diag(f_theta(sigma) - sigma) V^T`` so that ``theta = 0`` gives ``W`` bit for bit. The
weight is rebuilt once per forward call (or, when a call has fewer rows than that costs, the
update ``U diag(f(sigma) - sigma) V^T x`` is applied per row; ``compute`` chooses).

Task streams travel stacked along the batch dimension as in MTLoRA
(:mod:`mtbench.methods.mtlora.layer`): rows ``0 .. n-1`` are the shared stream, then one block of
``n`` rows per task, in the layer's task order.
"""
from typing import Dict, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import sparse_dropout

from .cpab import (BASES, SPECTRUM_MODES, spectrum_delta, vertex_velocities,
                   vertex_velocity_matrix)

__all__ = ['COMBINE_MODES', 'COMPUTE_MODES', 'DiTASKLinear']

#: How a task transform meets the joint one: ``'replace'`` (the DiTASK code: the task stream's
#: weight is its own transform of the pretrained spectrum) or ``'compose'`` (``f_t o f_J``).
COMBINE_MODES = ('replace', 'compose')
#: How the update is applied: rebuild the weight, per token, or whichever costs less.
COMPUTE_MODES = ('auto', 'weight', 'tokens')


class DiTASKLinear(nn.Module):
    """A frozen ``nn.Linear`` adapted by a joint and optional task-specific CPA transforms.

    * shared output: ``y = W_J drop(x) + b`` with ``W_J = U diag(f_J(sigma)) V^T``;
    * task output: ``y_t = W_t x_t + b`` with ``W_t = U diag(f_t(sigma)) V^T`` (``'replace'``) or
      ``U diag(f_t(f_J(sigma))) V^T`` (``'compose'``), where ``x_t`` is the task stream
      (``task_input='stacked'``) or ``drop(x)`` (``task_input='shared'``).

    ``f`` acts on the spectrum as :func:`~mtbench.methods.ditask.cpab.spectrum_delta` describes.
    ``U``, ``sigma`` and ``V^T`` are non-persistent buffers: they are recomputed from the frozen
    weight whenever a state dict changes that weight (so a full checkpoint loads into a model
    built from other weights).

    Args:
        base_layer: the pretrained layer (kept as ``base_layer``; frozen).
        cells: cells ``N_P`` of the joint transform (``N_P - 1`` parameters ``ditask_theta``).
        task_cells: ``{task: N_P}`` (ordered) of task transforms (``ditask_task_theta.<task>``);
            ``None`` or empty for a joint-only layer.
        blocks: split the weight's rows into this many equal blocks, each with its own SVD and
            the same transform (3 for ``qkv``: q, k and v).
        spectrum: ``'index'`` or ``'value'`` (:data:`~mtbench.methods.ditask.cpab.SPECTRUM_MODES`).
        basis: CPA basis (:data:`~mtbench.methods.ditask.cpab.BASES`).
        combine: one of :data:`COMBINE_MODES`.
        dropout: dropout on the shared input.
        task_input: ``'stacked'`` (input holds the shared and task streams) or ``'shared'``
            (input is the shared stream only; every task reads it).
        init: ``'zeros'`` (identity) or ``'kaiming_uniform'`` (the DiTASK code's
            ``kaiming_uniform_(theta, a=sqrt(5))``).
        compute: ``'weight'`` (rebuild ``W'`` once per call), ``'tokens'`` (``W x + U diag(
            delta) V^T x`` per token) or ``'auto'`` (the cheaper of the two for the call's
            number of rows; the same function either way).
    """

    def __init__(self, base_layer: nn.Linear, cells: int,
                 task_cells: Optional[Dict[str, int]] = None, blocks: int = 1,
                 spectrum: str = 'index', basis: str = 'rref', combine: str = 'replace',
                 dropout: float = 0.0, task_input: str = 'stacked', init: str = 'zeros',
                 compute: str = 'auto'):
        super().__init__()
        if base_layer.out_features % blocks:
            raise ValueError(f'{base_layer.out_features} output rows do not split into '
                             f'{blocks} blocks')
        for value, options, what in ((spectrum, SPECTRUM_MODES, 'spectrum'),
                                     (basis, BASES, 'basis'), (combine, COMBINE_MODES, 'combine'),
                                     (compute, COMPUTE_MODES, 'compute')):
            if value not in options:
                raise ValueError(f'DiTASK {what} must be one of {options}, got {value!r}')
        if task_input not in ('shared', 'stacked'):
            raise ValueError(f"task_input must be 'shared' or 'stacked', got {task_input!r}")
        self.compute = compute
        self.base_layer = base_layer
        self.blocks, self.spectrum, self.basis = blocks, spectrum, basis
        self.combine, self.task_input = combine, task_input
        self.cells = int(cells)
        self.task_cells = dict(task_cells or {})
        self.tasks = tuple(self.task_cells)
        like = base_layer.weight
        self.ditask_theta = nn.Parameter(like.new_zeros(1, self.cells - 1))
        self.ditask_task_theta = nn.ParameterDict({
            t: nn.Parameter(like.new_zeros(1, n - 1)) for t, n in self.task_cells.items()})
        if init == 'kaiming_uniform':
            for theta in [self.ditask_theta, *self.ditask_task_theta.values()]:
                nn.init.kaiming_uniform_(theta, a=5 ** 0.5)
        elif init != 'zeros':
            raise ValueError(f"DiTASK init must be 'zeros' or 'kaiming_uniform', got {init!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'DiTASK dropout must be in [0, 1), got {dropout!r}')
        self.dropout_p = float(dropout)
        self.merged = False
        self._merged_task_weights: Optional[torch.Tensor] = None
        self._unmerged_weight: Optional[torch.Tensor] = None
        self.refresh_svd()
        self.register_load_state_dict_post_hook(DiTASKLinear._after_load)

    def dropout(self, x: torch.Tensor) -> torch.Tensor:
        """Dropout of the shared input (drawn as dropped positions, see
        :func:`~mtbench.methods.lowrank_dropout.sparse_dropout`)."""
        return sparse_dropout(x, self.dropout_p, self.training)

    @property
    def in_features(self) -> int:
        return self.base_layer.in_features

    @property
    def out_features(self) -> int:
        return self.base_layer.out_features

    @torch.no_grad()
    def refresh_svd(self) -> None:
        """(Re)compute the SVD buffers of the frozen weight (float64, stored in its dtype)."""
        weight = self.base_layer.weight
        rows = weight.detach().view(self.blocks, -1, weight.shape[1])
        u, s, vh = torch.linalg.svd(rows.double(), full_matrices=False)
        self.register_buffer('svd_u', u.to(weight.dtype), persistent=False)
        self.register_buffer('svd_s', s.to(weight.dtype), persistent=False)
        self.register_buffer('svd_vh', vh.to(weight.dtype), persistent=False)
        self._svd_version = weight._version

    @staticmethod
    def _after_load(module: 'DiTASKLinear', incompatible_keys) -> None:
        if module.base_layer.weight._version != module._svd_version:
            module.merged, module._merged_task_weights = False, None
            module._unmerged_weight = None
            module.refresh_svd()

    def _velocity(self, theta: torch.Tensor) -> torch.Tensor:
        cells = theta.shape[1] + 1
        matrix = vertex_velocity_matrix(cells, self.basis, theta.dtype, theta.device)
        return vertex_velocities(theta, matrix)

    def _deltas(self, thetas: Sequence[torch.Tensor], sigma: torch.Tensor) -> torch.Tensor:
        """Spectrum deltas ``[S, blocks, p]`` of the transforms ``thetas`` (each ``[1, N - 1]``),
        one integration per distinct cell count."""
        out = [None] * len(thetas)
        by_cells: Dict[int, list] = {}
        for i, theta in enumerate(thetas):
            by_cells.setdefault(theta.shape[1], []).append(i)
        for members in by_cells.values():
            velocity = self._velocity(torch.cat([thetas[i] for i in members]))
            for i, delta in zip(members, spectrum_delta(sigma, velocity, self.spectrum)):
                out[i] = delta
        return torch.stack(out)

    def stream_deltas(self) -> torch.Tensor:
        """``f(sigma) - sigma`` ``[1 + T, blocks, p]`` of the shared and every task stream.

        Computed with autocast off (in the buffers' dtype), as the DiTASK code does."""
        sigma = self.svd_s
        with torch.autocast(sigma.device.type, enabled=False):
            joint = self._deltas([self.ditask_theta.to(sigma.dtype)], sigma)
            if not self.tasks:
                return joint
            tasks = [self.ditask_task_theta[t].to(sigma.dtype) for t in self.tasks]
            if self.combine == 'replace':
                return torch.cat([joint, self._deltas(tasks, sigma)])
            composed = self._deltas(tasks, sigma + joint[0]) + joint
            return torch.cat([joint, composed])

    def delta_weights(self, deltas: torch.Tensor) -> torch.Tensor:
        """``U diag(delta) V^T`` per stream: ``[S, out, in]`` for deltas ``[S, blocks, p]``."""
        updates = (self.svd_u.unsqueeze(0) * deltas.unsqueeze(2)) @ self.svd_vh
        return updates.reshape(deltas.shape[0], self.out_features, self.in_features)

    def uses_token_path(self, rows: int) -> bool:
        """Whether :meth:`forward` applies the update per token (cheaper than rebuilding the
        weight when a stream has few rows), given ``rows`` input rows per stream."""
        if self.compute != 'auto':
            return self.compute == 'tokens'
        return rows * (self.blocks * self.in_features + self.out_features) < \
            self.out_features * self.in_features

    def _streams(self, rows: torch.Tensor) -> torch.Tensor:
        """``W_s x + b`` for every stream ``s``: ``rows`` ``[1 or S, n, in]`` -> ``[S, n, out]``."""
        weight, bias = self.base_layer.weight, self.base_layer.bias
        if self.merged:
            weights = weight.unsqueeze(0)
            if self.tasks:
                weights = torch.cat([weights, self._merged_task_weights])
        else:
            deltas = self.stream_deltas()
            if self.uses_token_path(rows.shape[1]):
                streams, n = deltas.shape[0], rows.shape[1]
                coords = F.linear(rows, self.svd_vh.reshape(-1, self.in_features))
                coords = (coords * deltas.reshape(streams, 1, -1)).view(
                    streams, n, self.blocks, -1)
                update = torch.einsum('snbk,bok->snbo', coords, self.svd_u)
                return F.linear(rows, weight, bias) + update.reshape(streams, n, -1)
            weights = weight + self.delta_weights(deltas)
        if weights.shape[0] == 1:
            return F.linear(rows, weights[0], bias)
        out = torch.matmul(rows, weights.transpose(1, 2))
        return out if bias is None else out + bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Without tasks: ``[..., in] -> [..., out]``. With tasks: the stacked output
        ``[(1 + T) n, ..., out]`` for an input ``[n, ..., in]`` (``task_input='shared'``) or
        ``[(1 + T) n, ..., in]`` (``'stacked'``)."""
        if not self.tasks:
            out = self._streams(self.dropout(x).reshape(1, -1, self.in_features))
            return out.view(*x.shape[:-1], self.out_features)
        streams, lead = 1 + len(self.tasks), x.shape[1:-1]
        if self.task_input == 'stacked':
            if x.shape[0] % streams:
                raise ValueError(f'DiTASKLinear expects {streams} stacked streams, got a batch '
                                 f'of {x.shape[0]}')
            rows = x.reshape(streams, -1, self.in_features)
            if self.training and self.dropout_p > 0:
                shared, tasks = rows.split([1, streams - 1])
                rows = torch.cat([self.dropout(shared), tasks])
        else:
            rows = self.dropout(x.reshape(1, -1, self.in_features))
        return self._streams(rows).view(-1, *lead, self.out_features)

    @torch.no_grad()
    def merge(self) -> None:
        """Fold the joint transform into ``base_layer.weight``; keep the task weights aside."""
        if self.merged:
            return
        weight = self.base_layer.weight
        full = weight + self.delta_weights(self.stream_deltas())
        self._unmerged_weight = weight.detach().clone()
        self._merged_task_weights = full[1:] if self.tasks else None
        weight.copy_(full[0])
        self.merged = True
        self._svd_version = weight._version

    @torch.no_grad()
    def unmerge(self) -> None:
        """Restore the pretrained weight saved by :meth:`merge` (bit-exact)."""
        if not self.merged:
            return
        weight = self.base_layer.weight
        weight.copy_(self._unmerged_weight)
        self._unmerged_weight, self._merged_task_weights = None, None
        self.merged = False
        self._svd_version = weight._version

    def extra_repr(self) -> str:
        text = (f'cells={self.cells}, blocks={self.blocks}, spectrum={self.spectrum!r}, '
                f'basis={self.basis!r}, dropout={self.dropout_p}, merged={self.merged}')
        if self.tasks:
            text += f', task_cells={self.task_cells}, combine={self.combine!r}'
        return text
