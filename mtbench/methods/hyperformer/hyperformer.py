"""Hyperformer (Mahabadi et al., ACL 2021, arXiv 2106.04489) on a multi-task Swin."""
import re
from typing import Optional, Sequence

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param, layer_norm_params
from mtbench.methods.hypernetwork import (WeightGenerator, adapter_sites, check_positions,
                                          check_positive_int, check_positive_number,
                                          install_task_streams, projector_param_count,
                                          wrap_adapter_sites)
from mtbench.registry import METHODS

from .hypernet import SHARING, HyperformerHypernetwork

__all__ = ['Hyperformer']

_TASK_PARAM = re.compile(r'task_embeddings\.(\w+)$')


@METHODS.register_module()
class Hyperformer(BaseMethod):
    """Task-conditioned hypernetworks generate a bottleneck adapter per task and site.

    Adapters ``z + U_t GELU(D_t z + b_t) + c_t`` (optionally a generated LayerNorm on the
    adapter output) sit after ``attn.proj`` and/or ``mlp.fc2`` of every Swin block. Their
    weights are generated from learned task embeddings (and layer / position embeddings with
    shared generators), so each task runs its own stream through the frozen backbone. Trainable:
    the embeddings, task projector and generators, the backbone LayerNorms
    (``train_norms``, as Hyperformer trains T5's), and the decoders.

    Trainable count (``T`` tasks, ``e`` embed_dim, ``h`` projector hidden, ``t`` cond_dim,
    ``L`` blocks, ``P`` positions, ``m = d // reduction``)::

        T e + [(L + P) e] + (k e h + h + h t + t + [2 t])          embeddings, projector
        + sum over generators of (t + 1)(2 d m + m + d [+ 2 d])      weight generators
        + [LayerNorms] + decoders

    with ``k = 1`` for ``sharing='site'`` (one generator per site, no layer / position
    embeddings) and ``k = 3`` otherwise (one generator per stage, or one at the widest stage).
    On Swin-T / PASCAL (4 tasks) with the defaults: 72,779,472 (the Polyhistor / MTLoRA table
    lists 72.77M; see ``docs/methods/hyperformer.md``).

    Args:
        reduction: bottleneck ``m = d // reduction`` of the adapter of width ``d``.
        sharing: ``'site'`` (Hyperformer), ``'stage'`` or ``'all'`` (Hyperformer++); see
            :mod:`mtbench.methods.hyperformer.hypernet`.
        positions: adapter positions, a subset of ``('attn', 'mlp')``.
        embed_dim: width of the task / layer / position embeddings.
        projector_hidden: hidden width of the task projector.
        cond_dim: width of the conditioning vector ``I``.
        projector_norm: LayerNorm on ``I``.
        conditional_norm: a generated LayerNorm on every adapter output.
        train_norms: keep the backbone LayerNorms trainable.
        init_std: init std of projector and generator weights.

    Example:
        >>> method = dict(type='Hyperformer', reduction=8, sharing='site')
    """

    method_id = 'hyperformer'
    param_prefix = 'hyperformer.'
    identity_at_init = True

    def __init__(self, reduction: int = 8, sharing: str = 'site',
                 positions: Sequence[str] = ('attn', 'mlp'), embed_dim: int = 512,
                 projector_hidden: int = 128, cond_dim: int = 64, projector_norm: bool = True,
                 conditional_norm: bool = False, train_norms: bool = True,
                 init_std: float = 1e-2):
        name = 'Hyperformer'
        self.reduction = check_positive_int(reduction, 'reduction', name)
        if sharing not in SHARING:
            raise ValueError(f'Hyperformer sharing must be one of {SHARING}, got {sharing!r}')
        positions = check_positions(positions, name)
        self.sharing = sharing
        self.positions = positions
        self.embed_dim = check_positive_int(embed_dim, 'embed_dim', name)
        self.projector_hidden = check_positive_int(projector_hidden, 'projector_hidden', name)
        self.cond_dim = check_positive_int(cond_dim, 'cond_dim', name)
        self.init_std = check_positive_number(init_std, 'init_std', name)
        self.projector_norm = bool(projector_norm)
        self.conditional_norm = bool(conditional_norm)
        self.train_norms = bool(train_norms)
        self.tasks = ()

    def _bottleneck(self, width: int) -> int:
        if width // self.reduction < 1:
            raise ValueError(f'Hyperformer reduction {self.reduction} leaves no bottleneck for '
                             f'width {width}')
        return width // self.reduction

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        for width in backbone.stage_channels:
            self._bottleneck(width)
        sites = adapter_sites(backbone, self.positions)
        bank = HyperformerHypernetwork(
            self.tasks, sites, self.reduction, self.sharing, self.embed_dim,
            self.projector_hidden, self.cond_dim, self.projector_norm, self.conditional_norm,
            self.init_std)
        backbone.hyperformer = bank
        wrap_adapter_sites(backbone, self.positions, sites, bank, len(self.tasks))
        install_task_streams(backbone, self.tasks)

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_norms and is_layer_norm_param(name)

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    def _generator(self, width: int) -> int:
        m = self._bottleneck(width)
        numel = 2 * width * m + m + width + (2 * width if self.conditional_norm else 0)
        return WeightGenerator.param_count(self.cond_dim, [numel])

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        e, positions = self.embed_dim, len(self.positions)
        per_layer = self.sharing != 'site'
        total = len(self.tasks) * e
        if per_layer:
            total += (sum(bb.depths) + positions) * e
        total += projector_param_count(e * (3 if per_layer else 1), self.projector_hidden,
                                       self.cond_dim, self.projector_norm)
        if self.sharing == 'site':
            total += sum(depth * positions * self._generator(width)
                         for depth, width in zip(bb.depths, bb.stage_channels))
        elif self.sharing == 'stage':
            total += sum(self._generator(width) for width in bb.stage_channels)
        else:
            total += self._generator(max(bb.stage_channels))
        if self.train_norms:
            total += layer_norm_params(bb)
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'reduction={self.reduction}, sharing={self.sharing!r}, '
                f'positions={self.positions}, conditional_norm={self.conditional_norm}')
