"""DiTASK (Mantri et al., CVPR 2025, arXiv 2502.06029) as an mtbench method."""
import re
from typing import Dict, Optional, Sequence, Union

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param
from mtbench.methods.mtlora.blocks import MTLoRABlock, MTLoRAStage
from mtbench.registry import METHODS

from .cpab import BASES, SPECTRUM_MODES
from .layer import COMBINE_MODES, COMPUTE_MODES, DiTASKLinear

__all__ = ['DiTASK', 'PRETRAINED_GROUPS', 'SITES']

#: Linear sites of a Swin block DiTASK may adapt; the task transforms sit on the last three.
SITES = ('qkv', 'proj', 'fc1', 'fc2')
_TASK_SITES = ('proj', 'fc1', 'fc2')
#: Pretrained parts that may stay trainable (the DiTASK code trains all four): ``patch_embed``
#: (its convolution), ``norms`` (every LayerNorm, the patch embedding's included), ``rel_pos``
#: (relative-position bias tables) and ``reduction`` (PatchMerging reductions).
PRETRAINED_GROUPS = ('patch_embed', 'norms', 'rel_pos', 'reduction')
_TASK_PARAM = re.compile(r'\.ditask_task_theta\.(\w+)$')


def _cells(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise ValueError(f'DiTASK {what} must be an integer >= 2 (tessellation cells; a CPA '
                         f'field with zero boundary velocity has cells - 1 parameters), '
                         f'got {value!r}')
    return value


def _choice(value, options: Sequence[str], what: str) -> str:
    if value not in options:
        raise ValueError(f'DiTASK {what} must be one of {tuple(options)}, got {value!r}')
    return value


def _subset(value, options: Sequence[str], what: str, allow_empty: bool) -> tuple:
    value = (value,) if isinstance(value, str) else tuple(value)
    unknown = [v for v in value if v not in options]
    if unknown or (not value and not allow_empty):
        raise ValueError(f'DiTASK {what} must be a {"" if allow_empty else "non-empty "}subset '
                         f'of {tuple(options)}, got {value!r}')
    return value


@METHODS.register_module()
class DiTASK(BaseMethod):
    """Joint and task-specific CPA diffeomorphisms of the frozen weights' singular values.

    Every targeted linear weight ``W = U diag(sigma) V^T`` of every block becomes
    ``U diag(f_J(sigma)) V^T`` with a joint (all-task) transform ``f_J`` of ``cells - 1``
    parameters; ``proj``/``fc1``/``fc2`` of the last block of each stage also carry one transform
    per task (``task_cells - 1`` parameters each), whose weights produce that task's stream (the
    stream layout of MTLoRA: the stage's PatchMerging merges every stream, and each task's decoder
    reads its own). Singular vectors stay fixed. See :mod:`mtbench.methods.ditask.cpab` for the
    transform and ``docs/methods/ditask.md`` for sources and decisions.

    Trainable besides the transforms (the DiTASK code's defaults): the patch embedding, every
    LayerNorm, the relative-position tables and the PatchMerging reductions
    (``trainable_pretrained``). Per stage of width ``C``, depth ``d``, window ``w``, ``h`` heads
    (all groups trained, ``k`` targeted sites, ``k_t`` task sites)::

        d (4C + (2w - 1)^2 h + k (N_P - 1)) + k_t sum_t (N_t - 1)
        + 8C + 8C^2 (stages with a PatchMerging)

    plus ``3 p^2 C_0 + 3 C_0`` for the patch embedding and the decoders. Swin-T, 4 PASCAL tasks,
    ``N_P = 64``, ``N_t = 4``: 1,602,714 + 1,946,624 = 3,549,338.

    Args:
        cells: cells ``N_P`` of the joint transforms (an int, or one per stage).
        task_cells: cells of the task transforms (an int, or ``{task: cells}`` naming every task);
            ``None`` for joint transforms only (every task reads the shared features).
        targets: sites adapted in every block, a subset of :data:`SITES`.
        spectrum: ``'index'`` (the DiTASK code) or ``'value'``
            (:data:`~mtbench.methods.ditask.cpab.SPECTRUM_MODES`).
        basis: ``'rref'`` (the DiTASK code's difw basis) or ``'vertex'``.
        combine: ``'replace'`` (the DiTASK code) or ``'compose'`` (:data:`COMBINE_MODES`).
        split_qkv: one SVD per q, k and v block of ``qkv`` (the DiTASK code), sharing the
            transform; else one SVD of the whole ``qkv`` weight.
        dropout: dropout on the adapted layers' shared input (the DiTASK code: 0.05).
        init: ``'zeros'`` (identity at init) or ``'kaiming_uniform'`` (the DiTASK code).
        trainable_pretrained: pretrained groups kept trainable (:data:`PRETRAINED_GROUPS`).
        compute: ``'weight'`` (rebuild each adapted weight once per call), ``'tokens'`` (apply
            ``U diag(f(sigma) - sigma) V^T`` to every token) or ``'auto'`` (the cheaper of the
            two per call); the function is the same.

    Example:
        >>> method = dict(type='DiTASK', cells=64, task_cells=4)
    """

    method_id = 'ditask'
    param_prefix = 'ditask_'
    supports_merge = True
    #: merging folds every joint transform into its weight (task weights are kept per layer).
    merge_layer = DiTASKLinear
    identity_at_init = True

    def __init__(self, cells: Union[int, Sequence[int]] = 64,
                 task_cells: Optional[Union[int, Dict[str, int]]] = 4,
                 targets: Sequence[str] = SITES, spectrum: str = 'index', basis: str = 'rref',
                 combine: str = 'replace', split_qkv: bool = True, dropout: float = 0.05,
                 init: str = 'zeros', trainable_pretrained: Sequence[str] = PRETRAINED_GROUPS,
                 compute: str = 'auto'):
        if isinstance(cells, (list, tuple)):
            self.cells = tuple(_cells(c, 'cells') for c in cells)
        else:
            self.cells = _cells(cells, 'cells')
        if isinstance(task_cells, dict):
            self.task_cells = {t: _cells(c, f'task_cells[{t!r}]') for t, c in task_cells.items()}
        elif task_cells is not None:
            self.task_cells = _cells(task_cells, 'task_cells')
        else:
            self.task_cells = None
        self.targets = _subset(targets, SITES, 'targets', allow_empty=False)
        self.spectrum = _choice(spectrum, SPECTRUM_MODES, 'spectrum')
        self.basis = _choice(basis, BASES, 'basis')
        self.combine = _choice(combine, COMBINE_MODES, 'combine')
        self.init = _choice(init, ('zeros', 'kaiming_uniform'), 'init')
        self.compute = _choice(compute, COMPUTE_MODES, 'compute')
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout < 1.0:
            raise ValueError(f'DiTASK dropout must be in [0, 1), got {dropout!r}')
        self.dropout = float(dropout)
        self.split_qkv = bool(split_qkv)
        self.trainable_pretrained = _subset(trainable_pretrained, PRETRAINED_GROUPS,
                                            'trainable_pretrained', allow_empty=True)
        self.identity_at_init = init == 'zeros'
        self.tasks = ()

    # ------------------------------------------------------------------ configuration helpers
    def stage_cells(self, num_stages: int) -> tuple:
        """Joint-transform cells of every stage."""
        if isinstance(self.cells, int):
            return (self.cells,) * num_stages
        if len(self.cells) != num_stages:
            raise ValueError(f'DiTASK cells lists {len(self.cells)} stages, the backbone has '
                             f'{num_stages}')
        return self.cells

    def task_cells_of(self, tasks: Sequence[str]) -> Dict[str, int]:
        """``{task: cells}`` in task order; empty without task transforms."""
        if self.task_cells is None:
            return {}
        if isinstance(self.task_cells, int):
            return {t: self.task_cells for t in tasks}
        missing = [t for t in tasks if t not in self.task_cells]
        extra = sorted(set(self.task_cells) - set(tasks))
        if missing or extra:
            raise ValueError(f'DiTASK task_cells must name exactly the tasks {list(tasks)}; '
                             f'missing {missing}, unknown {extra}')
        return {t: self.task_cells[t] for t in tasks}

    def task_sites(self) -> tuple:
        """Sites that carry task transforms (in the last block of every stage)."""
        return tuple(s for s in _TASK_SITES if s in self.targets)

    # ------------------------------------------------------------------ BaseMethod hooks
    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        tasks = list(model.tasks)
        self.tasks = tuple(tasks)
        task_cells = self.task_cells_of(tasks)
        with_task_streams = bool(task_cells) and bool(self.task_sites())
        for layer, cells in zip(backbone.layers, self.stage_cells(len(backbone.layers))):
            for j, block in enumerate(layer.blocks):
                specialised = with_task_streams and j == len(layer.blocks) - 1
                owners = {'qkv': block.attn, 'proj': block.attn, 'fc1': block.mlp,
                          'fc2': block.mlp}
                for site in self.targets:
                    owner = owners[site]
                    setattr(owner, site, DiTASKLinear(
                        getattr(owner, site), cells,
                        task_cells if specialised and site in _TASK_SITES else None,
                        blocks=3 if site == 'qkv' and self.split_qkv else 1,
                        spectrum=self.spectrum, basis=self.basis, combine=self.combine,
                        dropout=self.dropout, task_input='shared' if site == 'proj' else 'stacked',
                        init=self.init, compute=self.compute))
                if specialised:
                    MTLoRABlock.convert(block, tasks)
            if with_task_streams:
                MTLoRAStage.convert(layer)

    def keep_pretrained_trainable(self, name: str) -> bool:
        groups = self.trainable_pretrained
        return (('patch_embed' in groups and name.startswith('patch_embed.proj.'))
                or ('norms' in groups and is_layer_norm_param(name))
                or ('rel_pos' in groups and name.endswith('relative_position_bias_table'))
                or ('reduction' in groups and name.endswith('downsample.reduction.weight')))

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        groups = self.trainable_pretrained
        n = len(bb.depths)
        embed = bb.embed_dims
        total = 0
        if 'patch_embed' in groups:
            total += bb.in_channels * bb.patch_size ** 2 * embed + embed
        if 'norms' in groups:
            total += 2 * embed  # the patch embedding's LayerNorm
        task_cells = self.task_cells_of(self.tasks)
        task_params = len(self.task_sites()) * sum(c - 1 for c in task_cells.values())
        for i, (depth, heads, window, cells) in enumerate(
                zip(bb.depths, bb.num_heads, bb.window_sizes, self.stage_cells(n))):
            dim = bb.stage_channels[i]
            merging = i < n - 1
            if 'norms' in groups:
                total += depth * 4 * dim + (8 * dim if merging else 0)
            if 'rel_pos' in groups:
                total += depth * (2 * window - 1) ** 2 * heads
            if 'reduction' in groups and merging:
                total += 8 * dim * dim
            total += depth * len(self.targets) * (cells - 1) + task_params
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'cells={self.cells}, task_cells={self.task_cells}, targets={self.targets}, '
                f'spectrum={self.spectrum!r}, combine={self.combine!r}')
