"""Shared machinery of hypernetwork-generated adapters (Hyperformer, Polyhistor).

A hypernetwork method keeps the Swin backbone frozen and inserts a bottleneck adapter after
chosen sub-layers. The adapters' weights are not parameters: a *hypernetwork* generates them
from a conditioning embedding, once per forward call of the adapted layer, for every task.

* :class:`ConditionEmbeddings`: learned task embeddings (one per task), optionally layer-id and
  adapter-position embeddings (Hyperformer++'s ``z_tau``, ``l_i``, ``p_j``, arXiv 2106.04489).
* :class:`TaskProjector`: the task projector network ``h_I`` (two linear layers with a ReLU,
  optionally a LayerNorm) mapping a concatenated embedding to the conditioning vector ``I``.
* :class:`WeightGenerator`: a linear map from ``I`` to one or several weight tensors (the
  hypernetwork's output layer ``W^U I``, ``W^D I``, ...).
* :class:`GeneratedAdapterLinear`: a frozen Linear followed by a residual bottleneck adapter
  whose weights come from a *weight source* (any object with ``adapter_weights(site)``).

Because the adapters differ per task, the whole backbone runs one stream per task:
:func:`install_task_streams` installs the progressive backbone driver
(:mod:`mtbench.methods.progressive.backbone`) with one group per task in every stage, so the
streams are stacked along the batch dimension in task order and every frozen operation runs
once per stage.
"""
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.methods.progressive.backbone import ProgressiveSwinTransformer
from mtbench.methods.progressive.grouping import normalize_grouping

__all__ = ['ADAPTER_POSITIONS', 'AdapterSite', 'AdapterWeights', 'ConditionEmbeddings',
           'GeneratedAdapterLinear', 'TaskProjector', 'WeightGenerator', 'adapter_sites',
           'check_positions', 'check_positive_int', 'check_positive_number', 'install_task_streams',
           'projector_param_count', 'wrap_adapter_sites']

#: Where an adapter can sit: after attention's output projection or after the MLP (Houlsby).
ADAPTER_POSITIONS = {'attn': ('attn', 'proj'), 'mlp': ('mlp', 'fc2')}



def check_positive_int(value, name: str, method: str) -> int:
    """``value`` if it is a positive integer, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{method} {name} must be a positive integer, got {value!r}')
    return value


def check_positive_number(value, name: str, method: str) -> float:
    """``value`` as a float if it is a positive number, else a ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f'{method} {name} must be a positive number, got {value!r}')
    return float(value)


def check_positions(positions, method: str) -> tuple:
    """``positions`` as a tuple of distinct members of :data:`ADAPTER_POSITIONS`."""
    positions = (positions,) if isinstance(positions, str) else tuple(positions)
    if not positions or any(p not in ADAPTER_POSITIONS for p in positions) \
            or len(set(positions)) != len(positions):
        raise ValueError(f'{method} positions must be distinct members of '
                         f'{list(ADAPTER_POSITIONS)}, got {positions}')
    return positions


def projector_param_count(in_dim: int, hidden: int, out_dim: int, norm: bool) -> int:
    """Parameters of a :class:`TaskProjector`."""
    return in_dim * hidden + hidden + hidden * out_dim + out_dim + (2 * out_dim if norm else 0)


class ConditionEmbeddings(nn.Module):
    """Learned task embeddings and optional layer-id / adapter-position embeddings.

    Task embeddings are named ``task_embeddings.<task>`` (the only task-specific parameters of a
    hypernetwork method). All embeddings start as standard normal vectors.

    Args:
        tasks: task names, in stream order.
        dim: embedding width.
        num_layers: layer-id embeddings (0: none).
        num_positions: adapter-position embeddings (0: none).
    """

    def __init__(self, tasks: Sequence[str], dim: int, num_layers: int = 0,
                 num_positions: int = 0):
        super().__init__()
        self.tasks = list(tasks)
        self.dim = dim
        self.task_embeddings = nn.ParameterDict(
            {t: nn.Parameter(torch.randn(dim)) for t in self.tasks})
        self.layer_embeddings = nn.Parameter(torch.randn(num_layers, dim)) if num_layers else None
        self.position_embeddings = (nn.Parameter(torch.randn(num_positions, dim))
                                    if num_positions else None)

    def forward(self, layer: Optional[int] = None, position: Optional[int] = None
                ) -> torch.Tensor:
        """``[T, k * dim]``: each task's embedding, concatenated with the embedding of ``layer``
        and of ``position`` when given (k = 1, 2 or 3)."""
        parts = [torch.stack([self.task_embeddings[t] for t in self.tasks])]
        for table, index in ((self.layer_embeddings, layer),
                             (self.position_embeddings, position)):
            if index is not None:
                parts.append(table[index].expand(len(self.tasks), -1))
        return torch.cat(parts, dim=1)


def _hyper_linear(in_dim: int, out_dim: int, std: float) -> nn.Linear:
    layer = nn.Linear(in_dim, out_dim)
    nn.init.normal_(layer.weight, std=std)
    nn.init.zeros_(layer.bias)
    return layer


class TaskProjector(nn.Module):
    """Hyperformer's task projector ``h_I``: ``Linear -> ReLU -> Linear`` (+ LayerNorm).

    Linear weights are drawn from N(0, std^2) with zero biases (Hyperformer's initialisation).

    Args:
        in_dim: input width (concatenated embeddings).
        hidden: hidden width.
        out_dim: width of the conditioning vector ``I``.
        norm: apply a LayerNorm to ``I``.
        std: init std of the linear weights.
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int, norm: bool = True,
                 std: float = 1e-2):
        super().__init__()
        self.net = nn.Sequential(_hyper_linear(in_dim, hidden, std), nn.ReLU(),
                                 _hyper_linear(hidden, out_dim, std))
        self.norm = nn.LayerNorm(out_dim) if norm else None

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        out = self.net(embeddings)
        return out if self.norm is None else self.norm(out)


class WeightGenerator(nn.Module):
    """A linear hypernetwork output layer: ``vec(W_k) = G_k I + g_k`` for named tensors ``W_k``.

    All outputs share one ``[sum numel, cond_dim]`` weight and one bias, so a condition batch is
    one matrix product. Weights start N(0, std^2), biases zero; outputs named in ``zero`` start
    at exactly zero (weights and bias).

    Args:
        cond_dim: width of the conditioning vector.
        shapes: ``{name: shape}`` of the generated tensors (batch dimension excluded).
        std: init std of the generator weights.
        zero: names of outputs whose generator starts at zero.
    """

    def __init__(self, cond_dim: int, shapes: Dict[str, Tuple[int, ...]], std: float = 1e-2,
                 zero: Sequence[str] = ()):
        super().__init__()
        unknown = sorted(set(zero) - set(shapes))
        if unknown:
            raise ValueError(f'WeightGenerator: zero-initialised outputs {unknown} are not '
                             f'among {sorted(shapes)}')
        self.shapes = {k: tuple(v) for k, v in shapes.items()}
        self.sizes = [int(torch.Size(s).numel()) for s in self.shapes.values()]
        total = sum(self.sizes)
        self.weight = nn.Parameter(torch.empty(total, cond_dim))
        self.bias = nn.Parameter(torch.zeros(total))
        nn.init.normal_(self.weight, std=std)
        start = 0
        with torch.no_grad():
            for name, size in zip(self.shapes, self.sizes):
                if name in zero:
                    self.weight[start:start + size].zero_()
                start += size

    @staticmethod
    def param_count(cond_dim: int, numels: Sequence[int]) -> int:
        """``(cond_dim + 1) * sum(numels)``."""
        return (cond_dim + 1) * sum(numels)

    def forward(self, cond: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{name: [N, *shape]}`` for conditions ``[N, cond_dim]``."""
        flat = torch.addmm(self.bias, cond, self.weight.t())
        return {name: chunk.reshape(cond.shape[0], *shape) for (name, shape), chunk in
                zip(self.shapes.items(), flat.split(self.sizes, dim=1))}

    def extra_repr(self) -> str:
        return f'shapes={self.shapes}'


class AdapterWeights(NamedTuple):
    """Generated weights of one adapter site, one slice per task stream.

    Attributes:
        down: ``[T, m, d]`` down-projection.
        up: ``[T, d, m]`` up-projection.
        down_bias: ``[T, m]`` or None.
        up_bias: ``[T, d]`` or None.
        norm_weight: ``[T, d]`` scale of a conditional LayerNorm on the adapter output, or None.
        norm_bias: ``[T, d]`` shift of that LayerNorm, or None.
    """

    down: torch.Tensor
    up: torch.Tensor
    down_bias: Optional[torch.Tensor] = None
    up_bias: Optional[torch.Tensor] = None
    norm_weight: Optional[torch.Tensor] = None
    norm_bias: Optional[torch.Tensor] = None


class AdapterSite(NamedTuple):
    """One adapter position of the backbone: stage, block (within the stage), global block
    index, position index (into the method's positions) and channel width."""

    stage: int
    block: int
    layer: int
    position: int
    width: int


class GeneratedAdapterLinear(nn.Module):
    """``y = z + [LN_t](U_t GELU(D_t z + b_t) + c_t)`` with ``z = base_layer(x)``, per stream.

    The input holds ``T`` task streams stacked along the first (batch-major) dimension, in task
    order. The weights of stream ``t`` come from ``source.adapter_weights(site)`` (generated
    once per call); the source is referenced, not registered, so its parameters are owned (and
    saved) once, by the module that registered it.

    Args:
        base_layer: the frozen pretrained Linear (kept as ``base_layer``).
        source: object with ``adapter_weights(site) -> AdapterWeights``.
        site: index of this site in the source.
        num_streams: number of task streams ``T``.
    """

    def __init__(self, base_layer: nn.Linear, source, site: int, num_streams: int):
        super().__init__()
        self.base_layer = base_layer
        object.__setattr__(self, 'source', source)
        self.site = site
        self.num_streams = num_streams

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        streams = self.num_streams
        if out.shape[0] % streams:
            raise ValueError(f'GeneratedAdapterLinear expects {streams} task streams stacked '
                             f'along the first dimension; got a leading size {out.shape[0]}')
        w = self.source.adapter_weights(self.site)
        z = out.reshape(streams, -1, out.shape[-1])
        h = torch.bmm(z, w.down.transpose(1, 2))
        if w.down_bias is not None:
            h = h + w.down_bias.unsqueeze(1)
        a = torch.bmm(F.gelu(h), w.up.transpose(1, 2))
        if w.up_bias is not None:
            a = a + w.up_bias.unsqueeze(1)
        if w.norm_weight is not None:
            a = F.layer_norm(a, a.shape[-1:]) * w.norm_weight.unsqueeze(1) \
                + w.norm_bias.unsqueeze(1)
        return out + a.reshape(out.shape)

    def extra_repr(self) -> str:
        return f'site={self.site}, streams={self.num_streams}'


def adapter_sites(backbone: nn.Module, positions: Sequence[str]) -> List[AdapterSite]:
    """Every (block, position) adapter site of a Swin, in stage, block, position order."""
    sites, layer = [], 0
    for s, (depth, width) in enumerate(zip(backbone.depths, backbone.stage_channels)):
        for j in range(depth):
            sites.extend(AdapterSite(s, j, layer, p, width) for p in range(len(positions)))
            layer += 1
    return sites


def wrap_adapter_sites(backbone: nn.Module, positions: Sequence[str], sites: List[AdapterSite],
                       source, num_streams: int) -> None:
    """Replace the Linear of every site by a :class:`GeneratedAdapterLinear` fed by ``source``."""
    for index, site in enumerate(sites):
        owner_name, child = ADAPTER_POSITIONS[positions[site.position]]
        owner = getattr(backbone.layers[site.stage].blocks[site.block], owner_name)
        setattr(owner, child, GeneratedAdapterLinear(getattr(owner, child), source, index,
                                                     num_streams))


def install_task_streams(backbone: nn.Module, tasks: Sequence[str]) -> None:
    """Run one stream per task through every stage (progressive driver, all groups single-task).

    The patch embedding runs once; its tokens are repeated once per task, and stream ``i`` of
    every stage belongs to ``tasks[i]``.
    """
    grouping = normalize_grouping('task', list(tasks), len(backbone.layers))
    ProgressiveSwinTransformer.convert(backbone, grouping)
