"""VL-Adapter (Sung, Cho, Bansal; CVPR 2022, arXiv 2112.06825) on the multi-task Swin backbone.

The multi-task dense-prediction baseline of Polyhistor (arXiv 2210.03265) and MTLoRA
(arXiv 2403.20320): Houlsby bottleneck adapters after the attention and the MLP of every block,
one set shared by all tasks (VL-Adapter's "single adapter"), the backbone's LayerNorms trainable
as in VL-Adapter's recipe. See ``docs/methods/vl_adapter.md`` for sources and decisions.
"""
import re
from typing import Optional, Sequence

import torch.nn as nn

from mtbench.methods.adapter.layer import AdaptedLinear
from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.methods.progressive.backbone import ProgressiveSwinTransformer
from mtbench.methods.progressive.grouping import normalize_grouping
from mtbench.methods.targets import find_modules, replace_module
from mtbench.registry import METHODS

from .layer import SHARED_HALVES, TaskAdaptedLinear

__all__ = ['VLAdapter', 'SHARING_MODES']

#: Adapter sites: short name -> the Linear whose output the adapter transforms.
_SITES = {'attn': 'attn.proj', 'mlp': 'mlp.fc2'}
#: ``'shared'``: one adapter set for all tasks; ``'per_task'``: one set per task;
#: ``'half_shared'``: one projection shared, the other per task.
SHARING_MODES = ('shared', 'per_task', 'half_shared')
_TASK_PARAM = re.compile(r'\.adapters\.([^.]+)\.')


def _is_positive_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


@METHODS.register_module()
class VLAdapter(BaseMethod):
    """Bottleneck adapters shared across tasks, plus trainable LayerNorms; backbone frozen.

    An adapter on width ``d`` with bottleneck ``m = d // reduction`` computes
    ``z + W_up GELU(W_down z + b_down) + b_up`` on the output ``z`` of ``attn.proj`` and/or
    ``mlp.fc2`` (before the residual addition): ``2 d m + m + d`` parameters. The up-projection
    starts at zero (identity at initialisation).

    Sharing: ``'shared'`` (default) keeps one adapter per site for all tasks, so the backbone
    runs once. ``'per_task'`` gives every task its own adapters and ``'half_shared'`` shares
    one projection (``shared_half``) and keeps the other per task; both run one stream per task
    through the whole backbone (concatenated along the batch), so their cost grows with the
    number of tasks.

    Trainable count, per stage of width ``C`` and depth ``D`` with ``s`` adapter sites per
    block and ``T`` tasks: ``s D (n_d (C m + m) + n_u (m C + C))`` with ``(n_d, n_u)`` = (1, 1)
    shared, (T, T) per task, (1, T) / (T, 1) half-shared (down / up shared); LayerNorms
    ``4 C D`` per stage, ``8 C`` per patch merging and ``2 C_0`` for the patch embedding;
    plus the decoders. Swin-T, PASCAL (4 tasks), 448: 2,167,584 + 23,232 + 1,946,624.

    Args:
        reduction: bottleneck reduction factor ``d / m`` (4 reproduces the published count).
        positions: adapter sites, a non-empty subset of ``('attn', 'mlp')``.
        sharing: one of :data:`SHARING_MODES`.
        shared_half: with ``sharing='half_shared'``, the projection shared by all tasks
            (``'down'`` or ``'up'``).
        train_norms: also train every LayerNorm of the backbone (VL-Adapter's recipe).

    Example:
        >>> method = dict(type='VLAdapter', reduction=4, sharing='shared')
    """

    method_id = 'vl-adapter'
    param_prefix = 'adapter'
    identity_at_init = True

    def __init__(self, reduction: int = 4, positions: Sequence[str] = ('attn', 'mlp'),
                 sharing: str = 'shared', shared_half: str = 'down', train_norms: bool = True):
        if not _is_positive_int(reduction):
            raise ValueError(f'VLAdapter reduction must be a positive integer, got {reduction!r}')
        positions = (positions,) if isinstance(positions, str) else tuple(positions)
        if not positions or any(p not in _SITES for p in positions) or \
                len(set(positions)) != len(positions):
            raise ValueError(f'VLAdapter positions must be a non-empty subset of {list(_SITES)}, '
                             f'got {positions}')
        if sharing not in SHARING_MODES:
            raise ValueError(f'VLAdapter sharing must be one of {SHARING_MODES}, got {sharing!r}')
        if shared_half not in SHARED_HALVES:
            raise ValueError(f'VLAdapter shared_half must be one of {SHARED_HALVES}, '
                             f'got {shared_half!r}')
        if not isinstance(train_norms, bool):
            raise ValueError(f'VLAdapter train_norms must be a bool, got {train_norms!r}')
        self.reduction = reduction
        self.positions = positions
        self.sharing = sharing
        self.shared_half = shared_half
        self.train_norms = train_norms
        self.tasks = ()
        self._norm_params = set()

    def hidden(self, dim: int) -> int:
        """The bottleneck width ``dim // reduction``.

        Raises:
            ValueError: when the reduction leaves no bottleneck for this width.
        """
        if dim // self.reduction < 1:
            raise ValueError(f'VLAdapter reduction {self.reduction} leaves no bottleneck for '
                             f'width {dim}')
        return dim // self.reduction

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        self._norm_params = {f'{n}.{p}' for n, m in backbone.named_modules()
                             if isinstance(m, nn.LayerNorm) for p, _ in m.named_parameters()}
        found = find_modules(backbone, [_SITES[p] for p in self.positions])
        half = self.shared_half if self.sharing == 'half_shared' else None
        for name, linear in found.items():
            hidden = self.hidden(linear.out_features)
            if self.sharing == 'shared':
                site = AdaptedLinear(linear, hidden)
            else:
                site = TaskAdaptedLinear(linear, self.tasks, hidden, half)
            replace_module(backbone, name, site)
        if self.sharing != 'shared':
            grouping = normalize_grouping('task', self.tasks, len(backbone.layers))
            ProgressiveSwinTransformer.convert(backbone, grouping)

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_norms and name in self._norm_params

    def task_of(self, name: str) -> Optional[str]:
        match = _TASK_PARAM.search(name)
        return match.group(1) if match else None

    def _copies(self, num_tasks: int) -> tuple:
        """How many copies of the down and the up projection each site holds."""
        if self.sharing == 'shared':
            return 1, 1
        if self.sharing == 'per_task':
            return num_tasks, num_tasks
        return (1, num_tasks) if self.shared_half == 'down' else (num_tasks, 1)

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        n_down, n_up = self._copies(len(model.tasks))
        total = 0
        last = len(bb.depths) - 1
        for stage, (depth, dim) in enumerate(zip(bb.depths, bb.stage_channels)):
            hidden = self.hidden(dim)
            per_site = n_down * (dim * hidden + hidden) + n_up * (hidden * dim + dim)
            total += len(self.positions) * depth * per_site
            if self.train_norms:
                total += 4 * dim * depth + (8 * dim if stage < last else 0)
        if self.train_norms:
            total += 2 * bb.embed_dims
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        half = f', shared_half={self.shared_half!r}' if self.sharing == 'half_shared' else ''
        return (f'reduction={self.reduction}, positions={self.positions}, '
                f'sharing={self.sharing!r}{half}, train_norms={self.train_norms}')
