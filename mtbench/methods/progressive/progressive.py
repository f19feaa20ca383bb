"""Progressive task-specific adaptation (Gangwar et al., arXiv 2509.19602; "task-grouped LoRA").

LoRA adapters form a tree over the backbone stages: shared by all tasks in the early stages,
shared within groups of similar tasks in the middle stages, task-specific in the last stage(s).
The paper's code and hyper-parameters are not public; every default here is mtbench's own
choice (``docs/methods/progressive.md``).
"""
from typing import List, Optional, Sequence, Union

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.registry import METHODS

from .backbone import ProgressiveSwinTransformer
from .grouping import group_key, load_grouping_file, normalize_grouping
from .layer import GroupLoRALinear

__all__ = ['ProgressiveTaskAdapters', 'SITES']

#: LoRA sites a stage may adapt: short name -> module path inside a block (or the stage).
SITES = {'qkv': 'attn.qkv', 'proj': 'attn.proj', 'fc1': 'mlp.fc1', 'fc2': 'mlp.fc2',
         'reduction': 'downsample.reduction'}


def _check_ranks(ranks):
    values = list(ranks) if isinstance(ranks, (list, tuple)) else [ranks]
    if not values or any(not isinstance(r, int) or isinstance(r, bool) or r < 1
                         for r in values):
        raise ValueError(f'progressive ranks must be positive integers (one, or one per stage), '
                         f'got {ranks!r}')
    return ranks if isinstance(ranks, int) else tuple(ranks)


def _positive(value, name: str) -> Optional[float]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f'progressive {name} must be a positive number, got {value!r}')
    return float(value)


@METHODS.register_module()
class ProgressiveTaskAdapters(BaseMethod):
    """A tree of LoRA adapters over the backbone stages, one stream per task group.

    Every group of stage ``s`` has its own stream through the frozen stage, starting from the
    merged stream of its parent group of stage ``s - 1``, and its own rank-``r_s`` LoRA on every
    targeted site of the stage. A task reads, at every stage, the merged output of its group's
    stream. The pretrained backbone (norms, relative-position tables, patch embedding and
    merging included) is frozen; the LoRA matrices and the decoders train.

    Trainable parameters (``k_s`` groups in stage ``s`` of width ``C_s``, depth ``D_s``, MLP width
    ``h C_s``; only the targeted sites count)::

        sum_s k_s r_s (D_s (4 C_s [qkv] + 2 C_s [proj] + 2 (1 + h) C_s [fc1, fc2])
                       + 6 C_s [reduction, s < last]) + decoders

    i.e. ``16 C_s D_s k_s r_s`` per stage with qkv/proj/fc1/fc2 and ``h = 4``.

    Parameter accounting: parameters of a single-task group belong to that task
    (:meth:`task_of`); parameters of a group of several tasks count as shared.

    Args:
        grouping: per stage, a list of task groups (or ``'shared'`` / ``'task'``), or one of
            these strings for every stage; ``None``: every stage shared but the last, which is
            task-specific. Groups must refine the
            previous stage's groups (see :mod:`mtbench.methods.progressive.grouping`).
        grouping_file: a JSON grouping file (``tools/analysis/task_similarity.py`` writes one);
            excludes ``grouping``.
        ranks: LoRA rank per stage (one int for every stage, or a list).
        scale: fixed multiplier of every update (MTLoRA's convention); excludes ``alpha``.
        alpha: LoRA's convention, the update of stage ``s`` scaled by ``alpha / r_s``.
            With neither, the scale is 1.
        dropout: dropout on the LoRA inputs.
        targets: sites adapted in every stage, a subset of ``SITES`` (``'reduction'``: the patch
            merging of stages 0..n-2).

    Example:
        >>> method = dict(type='ProgressiveTaskAdapters', ranks=[48, 48, 24, 12],
        ...               grouping=['shared', 'shared', [['semseg', 'human_parts'],
        ...                         ['saliency', 'normals']], 'task'])
    """

    method_id = 'progressive'
    param_prefix = 'tglora_'
    supports_merge = False
    identity_at_init = True

    def __init__(self, grouping: Optional[Sequence] = None, grouping_file: Optional[str] = None,
                 ranks: Union[int, Sequence[int]] = (48, 48, 24, 12),
                 scale: Optional[float] = None, alpha: Optional[float] = None,
                 dropout: float = 0.0, targets: Sequence[str] = ('qkv', 'proj', 'fc1', 'fc2')):
        if grouping is not None and grouping_file is not None:
            raise ValueError('give either progressive grouping or grouping_file, not both')
        if scale is not None and alpha is not None:
            raise ValueError('give either progressive scale or alpha, not both')
        self.ranks = _check_ranks(ranks)
        self.scale = _positive(scale, 'scale')
        self.alpha = _positive(alpha, 'alpha')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'progressive dropout must be in [0, 1), got {dropout!r}')
        self.dropout = float(dropout)
        targets = (targets,) if isinstance(targets, str) else tuple(targets)
        unknown = [t for t in targets if t not in SITES]
        if unknown or not targets:
            raise ValueError(f'progressive targets must be a non-empty subset of {list(SITES)}, '
                             f'got {targets}')
        self.targets = targets
        self.grouping_cfg = grouping
        self.grouping_file = grouping_file
        self.grouping: List[List[List[str]]] = []
        self.tasks: List[str] = []

    def stage_ranks(self, num_stages: int) -> List[int]:
        """The rank of every stage."""
        if isinstance(self.ranks, int):
            return [self.ranks] * num_stages
        if len(self.ranks) != num_stages:
            raise ValueError(f'progressive ranks {list(self.ranks)} must give one rank per '
                             f'backbone stage ({num_stages})')
        return list(self.ranks)

    def stage_scale(self, rank: int) -> float:
        """The update multiplier of a stage of rank ``rank``."""
        if self.scale is not None:
            return self.scale
        return 1.0 if self.alpha is None else self.alpha / rank

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        num_stages = len(backbone.layers)
        self.tasks = list(model.tasks)
        grouping = self.grouping_cfg
        if self.grouping_file is not None:
            grouping = load_grouping_file(self.grouping_file, self.tasks)
        self.grouping = normalize_grouping(grouping, self.tasks, num_stages)
        ranks = self.stage_ranks(num_stages)
        for s, (layer, groups) in enumerate(zip(backbone.layers, self.grouping)):
            keys = [group_key(g) for g in groups]
            for target in self.targets:
                if target == 'reduction':
                    parents = [layer.downsample] if layer.downsample is not None else []
                    child = 'reduction'
                else:
                    parent_name, child = SITES[target].split('.')
                    parents = [blk.get_submodule(parent_name) for blk in layer.blocks]
                for parent in parents:
                    setattr(parent, child, GroupLoRALinear(
                        getattr(parent, child), keys, ranks[s], self.stage_scale(ranks[s]),
                        self.dropout))
        ProgressiveSwinTransformer.convert(backbone, self.grouping)

    def _key_of(self, name: str) -> Optional[str]:
        for kind in ('.tglora_A.', '.tglora_B.'):
            if kind in name:
                return name.rsplit(kind, 1)[1]
        return None

    def task_of(self, name: str) -> Optional[str]:
        """The task of a single-task group's parameter; None for multi-task groups."""
        key = self._key_of(name)
        if key is None or '+' in key:
            return None
        return key

    def shared_by_all_tasks(self, name: str) -> bool:
        """Whether added parameter ``name`` belongs to a group of every task (the tree's trunk)."""
        key = self._key_of(name)
        return key is not None and set(key.split('+')) == set(self.tasks)

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        ranks = self.stage_ranks(len(bb.depths))
        last = len(bb.depths) - 1
        total = 0
        for s, (depth, dim) in enumerate(zip(bb.depths, bb.stage_channels)):
            hidden = int(dim * bb.mlp_ratio)
            block = {'qkv': 4 * dim, 'proj': 2 * dim, 'fc1': dim + hidden, 'fc2': hidden + dim}
            widths = sum(depth * block[t] for t in self.targets if t != 'reduction')
            if 'reduction' in self.targets and s < last:
                widths += 6 * dim
            total += len(self.grouping[s]) * ranks[s] * widths
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'ranks={self.ranks}, grouping={self.grouping or self.grouping_cfg}, '
                f'targets={self.targets}')
