"""Decomposed hypernetworks and layer-wise scaling kernels (Polyhistor, arXiv 2210.03265).

* **Decomposed HyperNetworks**: a pair of hypernetworks, both shared by all tasks and layers,
  generates two low-rank factors of every adapter matrix from the conditioning vector
  ``I = h_I([z_task; z_layer; z_position])``: the *left* one ``L(I)`` (``out x r``) and the
  *right* one ``R(I)`` (``r x in``); the adapter matrix is ``L(I) R(I)``.
* **Layer-wise Scaling Kernels** (Polyhistor-Lite): the hypernetworks generate one *template
  kernel* size for every layer (the first stage's adapter, ``m_0 x d_0`` and ``d_0 x m_0``);
  a learned per-site scaling kernel ``S`` (``k x k`` with ``k = d / d_0``) scales the template
  up to the layer's width by a Kronecker product ``S (x) T``.

Without scaling kernels (Polyhistor) one hypernetwork pair per stage width generates the
full-size factors.
"""
from typing import List, Sequence

import torch
import torch.nn as nn

from mtbench.methods.hypernetwork import (AdapterSite, AdapterWeights, ConditionEmbeddings,
                                          TaskProjector, WeightGenerator)

__all__ = ['DecomposedHypernetwork', 'batched_kron']


def batched_kron(kernel: torch.Tensor, template: torch.Tensor) -> torch.Tensor:
    """``kron(kernel, template[i])`` for every ``i``: ``[p, q] x [N, a, b] -> [N, p a, q b]``."""
    p, q = kernel.shape
    n, a, b = template.shape
    if p == q == 1:
        return kernel.reshape(1, 1, 1) * template
    return torch.einsum('ij,nab->niajb', kernel, template).reshape(n, p * a, q * b)


def _orthogonal_(tensor: torch.Tensor) -> torch.Tensor:
    """Orthogonal init that also works on the meta device (which has no QR)."""
    if tensor.is_meta:
        return tensor
    with torch.no_grad():
        return nn.init.orthogonal_(tensor)


class DecomposedHypernetwork(nn.Module):
    """Conditioning embeddings, task projector, left/right generators (and scaling kernels).

    Initialisation (mtbench's choice): embeddings N(0, 1), projector and generator weights
    N(0, std^2) with zero biases, except the left factor of the up-projection, whose generator
    starts at zero (the adapters start as the identity); scaling kernels start orthogonal, so
    ``S (x) T`` has the singular values of the template.

    Args:
        tasks: task names (stream order).
        sites: the adapter sites (:func:`mtbench.methods.hypernetwork.adapter_sites`).
        reduction: bottleneck ``m = d // reduction``.
        rank: rank ``r`` of the generated factors.
        scaling_kernels: Polyhistor-Lite (template kernels + layer-wise scaling kernels).
        embed_dim: width of the task / layer / position embeddings.
        hidden: hidden width of the task projector.
        cond_dim: width of the conditioning vector ``I``.
        projector_norm: LayerNorm on ``I``.
        std: init std of projector and generator weights.
    """

    def __init__(self, tasks: Sequence[str], sites: List[AdapterSite], reduction: int,
                 rank: int, scaling_kernels: bool, embed_dim: int, hidden: int, cond_dim: int,
                 projector_norm: bool, std: float):
        super().__init__()
        self.sites = list(sites)
        self.reduction = reduction
        self.scaling_kernels = scaling_kernels
        self.conditions = ConditionEmbeddings(tasks, embed_dim, 1 + max(s.layer for s in sites),
                                              1 + max(s.position for s in sites))
        self.projector = TaskProjector(3 * embed_dim, hidden, cond_dim, projector_norm, std)
        stages = sorted({s.stage for s in sites})
        stage_width = [next(s.width for s in sites if s.stage == st) for st in stages]
        if scaling_kernels:
            self.template_width = min(stage_width)
            widths, self.unit_of = [self.template_width], [0] * len(sites)
        else:
            widths, self.unit_of = stage_width, [stages.index(s.stage) for s in sites]
        self.left = nn.ModuleList(WeightGenerator(
            cond_dim, {'down': (d // reduction, rank), 'up': (d, rank)}, std, zero=('up',))
            for d in widths)
        self.right = nn.ModuleList(WeightGenerator(
            cond_dim, {'down': (rank, d), 'up': (rank, d // reduction)}, std) for d in widths)
        if scaling_kernels:
            sizes = [s.width // self.template_width for s in sites]
            self.scaling_down = nn.ParameterList(
                _orthogonal_(nn.Parameter(torch.empty(k, k))) for k in sizes)
            self.scaling_up = nn.ParameterList(
                _orthogonal_(nn.Parameter(torch.empty(k, k))) for k in sizes)

    def factors(self, site: int):
        """``(left, right)`` generated factors of ``site`` (``{'down', 'up'}`` each, per task)."""
        s = self.sites[site]
        cond = self.projector(self.conditions(s.layer, s.position))
        unit = self.unit_of[site]
        return self.left[unit](cond), self.right[unit](cond)

    def adapter_weights(self, site: int) -> AdapterWeights:
        """Generate ``D = L_D R_D`` and ``U = L_U R_U`` (scaled up by ``S (x) .`` in Lite)."""
        left, right = self.factors(site)
        down = torch.bmm(left['down'], right['down'])
        up = torch.bmm(left['up'], right['up'])
        if self.scaling_kernels:
            down = batched_kron(self.scaling_down[site], down)
            up = batched_kron(self.scaling_up[site], up)
        return AdapterWeights(down, up)
