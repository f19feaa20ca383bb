"""Hyperformer's hypernetwork: task (+ layer, position) embeddings -> adapter weights.

Following Mahabadi et al. (arXiv 2106.04489, Fig. 1, and their code): a task embedding
``z_tau`` goes through the task projector ``h_I`` to the conditioning vector ``I_tau``, and
linear hypernetworks generate the adapter weights ``D = W^D I``, ``U = W^U I`` (plus biases,
and optionally the conditional LayerNorm's ``gamma = W^gamma I``, ``beta = W^beta I``).

How far one generator is shared (``sharing``):

* ``'site'``: one generator per adapter (Hyperformer: per-layer hypernetworks); the condition
  is the task alone.
* ``'stage'``: one generator per Swin stage (every block and position of one width), conditioned
  on task, layer id and adapter position (Hyperformer++ within a width).
* ``'all'``: one generator for the whole backbone (Hyperformer++), at the widest stage; a
  narrower stage uses the leading ``m x d`` block of the generated matrices.
"""
from typing import Dict, List, Sequence, Tuple

import torch.nn as nn

from mtbench.methods.hypernetwork import (AdapterSite, AdapterWeights, ConditionEmbeddings,
                                          TaskProjector, WeightGenerator)

__all__ = ['HyperformerHypernetwork', 'SHARING', 'adapter_shapes']

SHARING = ('site', 'stage', 'all')


def adapter_shapes(width: int, bottleneck: int, conditional_norm: bool
                   ) -> Dict[str, Tuple[int, ...]]:
    """Shapes of the tensors generated for one adapter of ``width`` and ``bottleneck``."""
    shapes = {'down': (bottleneck, width), 'down_bias': (bottleneck,),
              'up': (width, bottleneck), 'up_bias': (width,)}
    if conditional_norm:
        shapes.update(norm_weight=(width,), norm_bias=(width,))
    return shapes


class HyperformerHypernetwork(nn.Module):
    """Embeddings, task projector and weight generators of every adapter site.

    Identity at initialisation: without ``conditional_norm`` the up-projection generators start
    at zero; with it, the LayerNorm scale and shift generators start at zero.

    Args:
        tasks: task names (stream order).
        sites: the adapter sites (:func:`mtbench.methods.hypernetwork.adapter_sites`).
        reduction: bottleneck ``m = d // reduction``.
        sharing: one of :data:`SHARING`.
        embed_dim: width of the task (and layer / position) embeddings.
        hidden: hidden width of the task projector.
        cond_dim: width ``t`` of the conditioning vector ``I``.
        projector_norm: LayerNorm on ``I``.
        conditional_norm: generate a LayerNorm on the adapter output.
        std: init std of projector and generator weights.
    """

    def __init__(self, tasks: Sequence[str], sites: List[AdapterSite], reduction: int,
                 sharing: str, embed_dim: int, hidden: int, cond_dim: int,
                 projector_norm: bool, conditional_norm: bool, std: float):
        super().__init__()
        self.sites = list(sites)
        self.reduction = reduction
        self.sharing = sharing
        self.conditioned_on_layer = sharing != 'site'
        layers = 1 + max(s.layer for s in sites) if self.conditioned_on_layer else 0
        positions = 1 + max(s.position for s in sites) if self.conditioned_on_layer else 0
        self.conditions = ConditionEmbeddings(tasks, embed_dim, layers, positions)
        in_dim = embed_dim * (3 if self.conditioned_on_layer else 1)
        self.projector = TaskProjector(in_dim, hidden, cond_dim, projector_norm, std)
        if sharing == 'site':
            widths = [s.width for s in sites]
            self.unit_of = list(range(len(sites)))
        elif sharing == 'stage':
            stages = sorted({s.stage for s in sites})
            widths = [next(s.width for s in sites if s.stage == st) for st in stages]
            self.unit_of = [stages.index(s.stage) for s in sites]
        else:
            widths = [max(s.width for s in sites)]
            self.unit_of = [0] * len(sites)
        zero = ('norm_weight', 'norm_bias') if conditional_norm else ('up', 'up_bias')
        self.generators = nn.ModuleList(
            WeightGenerator(cond_dim, adapter_shapes(d, d // reduction, conditional_norm), std,
                            zero) for d in widths)

    def condition(self, site: int):
        """The conditioning vectors ``I`` of every task for ``site``: ``[T, cond_dim]``."""
        s = self.sites[site]
        if self.conditioned_on_layer:
            return self.projector(self.conditions(s.layer, s.position))
        return self.projector(self.conditions())

    def adapter_weights(self, site: int) -> AdapterWeights:
        """Generate the weights of ``site`` for every task (one batched product)."""
        out = self.generators[self.unit_of[site]](self.condition(site))
        d = self.sites[site].width
        m = d // self.reduction
        return AdapterWeights(
            out['down'][:, :m, :d], out['up'][:, :d, :m], out['down_bias'][:, :m],
            out['up_bias'][:, :d], *[out[k][:, :d] if k in out else None
                                     for k in ('norm_weight', 'norm_bias')])
