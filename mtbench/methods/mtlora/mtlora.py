"""MTLoRA (Agiza et al., CVPR 2024, arXiv 2403.20320) as an mtbench method."""
import re
from typing import Dict, Optional, Sequence, Union

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param
from mtbench.methods.mtlora.blocks import MTLoRABlock, MTLoRAStage
from mtbench.methods.mtlora.layer import SHARED_MODES, MTLoRALinear, site_dims
from mtbench.registry import METHODS

__all__ = ['MTLoRA']

_TASK_PARAM = re.compile(r'\.lora_tasks_[AB]\.(\w+)$')
_TASK_SITES = ('proj', 'fc1', 'fc2')


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'MTLoRA {what} must be a positive integer, got {value!r}')
    return value


@METHODS.register_module()
class MTLoRA(BaseMethod):
    """Task-agnostic + task-specific low-rank adaptation of a frozen Swin backbone.

    * Shared LoRA (rank ``r``, scale ``s``, dropout on its input) on ``qkv``/``proj``/``fc1``/
      ``fc2`` of every block.
    * Task LoRA (rank ``r_t``, scale ``s_t``) on ``proj``/``fc1``/``fc2`` of the last block of
      every stage (every block with ``intermediate_specialization``); these blocks emit one
      stream per task, merged by the stage's shared PatchMerging and read by that task's decoder.
    * Trainable besides LoRA: ``patch_embed``, every LayerNorm, the relative-position tables and
      the PatchMerging reductions (MTLoRA+ : ``downsampler_lora=True`` puts a shared LoRA on the
      reductions and freezes them). Linear biases stay frozen.

    Trainable count, per stage of width ``C``, MLP width ``H``, depth ``d``, shared rank ``r``
    (all sites enabled): shared LoRA ``d r (8C + 2H)``; task LoRA ``k (4C + 2H) sum_t r_t``
    (``k`` task blocks: 1, or ``d`` with intermediate specialisation); LayerNorms ``4C`` per block
    and ``8C`` per merging; rel-pos tables ``(2w-1)^2 heads`` per block; reductions ``8C^2`` (or
    their LoRA ``6C r``); plus patch_embed and the decoders. On Swin-T with 4 PASCAL tasks and
    task rank 4: ``51,258 + 1,548,288 + 70,656 r + 276,480 + 1,946,624`` (4,953,146 at r = 16).

    Args:
        rank: shared rank ``r`` (an int, or one per stage).
        task_rank: task rank (an int, or ``{task: rank}`` covering every task).
        shared_scale: shared scale ``s`` (a plain multiplier, not ``alpha / r``).
        task_scale: task scale (a float or ``{task: scale}``); defaults to ``shared_scale``.
        dropout: dropout on the shared LoRA input.
        shared_mode: ``'matrix'`` (task output ``W x + s_t B_t A_t x_t``, the reference
            default), ``'matrixv2'`` (task output = shared output + task delta) or
            ``'lora_only'`` (no task paths: plain multi-task LoRA with MTLoRA's trainable set).
        qkv_enabled, proj_enabled, fc1_enabled, fc2_enabled: put MTLoRA on that site (else
            the site stays a frozen ``nn.Linear``).
        downsampler_lora: MTLoRA+ (shared LoRA on the PatchMerging reductions, which freeze).
        intermediate_specialization: task LoRA in every block, not only the last of a stage.
            Only the last block's task streams reach the decoders (task streams are not fed
            forward), so the other blocks' task LoRA gets no gradient.

    Example:
        >>> method = dict(type='MTLoRA', rank=16, task_rank=4, shared_scale=4.0, dropout=0.05)
    """

    method_id = 'mtlora'
    param_prefix = 'lora_'
    identity_at_init = True
    #: :meth:`merge` folds the shared LoRA of every layer without task LoRA (all blocks but
    #: the task blocks, and MTLoRA+'s reductions) into the frozen weights; a task block keeps
    #: its LoRA, since its task outputs read the unmerged ``W x``.
    supports_merge = True
    merge_layer = MTLoRALinear

    def __init__(self, rank: Union[int, Sequence[int]] = 16,
                 task_rank: Union[int, Dict[str, int]] = 4, shared_scale: float = 4.0,
                 task_scale: Optional[Union[float, Dict[str, float]]] = None,
                 dropout: float = 0.05, shared_mode: str = 'matrix', qkv_enabled: bool = True,
                 proj_enabled: bool = True, fc1_enabled: bool = True, fc2_enabled: bool = True,
                 downsampler_lora: bool = False, intermediate_specialization: bool = False):
        if isinstance(rank, (list, tuple)):
            self.rank = tuple(_positive_int(r, 'rank') for r in rank)
        else:
            self.rank = _positive_int(rank, 'rank')
        if isinstance(task_rank, dict):
            self.task_rank = {t: _positive_int(r, f'task_rank[{t!r}]')
                              for t, r in task_rank.items()}
        else:
            self.task_rank = _positive_int(task_rank, 'task_rank')
        if shared_mode not in SHARED_MODES:
            raise ValueError(f'MTLoRA shared_mode must be one of {SHARED_MODES}, got '
                             f"{shared_mode!r} ('addition' is not implemented)")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'MTLoRA dropout must be in [0, 1), got {dropout!r}')
        self.shared_scale = float(shared_scale)
        self.task_scale = task_scale
        self.dropout = float(dropout)
        self.shared_mode = shared_mode
        self.sites = {'qkv': qkv_enabled, 'proj': proj_enabled, 'fc1': fc1_enabled,
                      'fc2': fc2_enabled}
        self.downsampler_lora = bool(downsampler_lora)
        self.intermediate_specialization = bool(intermediate_specialization)
        self.tasks = ()

    # ------------------------------------------------------------------ configuration helpers
    def stage_ranks(self, num_stages: int) -> tuple:
        """Shared rank of every stage."""
        if isinstance(self.rank, int):
            return (self.rank,) * num_stages
        if len(self.rank) != num_stages:
            raise ValueError(f'MTLoRA rank lists {len(self.rank)} stages, the backbone has '
                             f'{num_stages}')
        return self.rank

    def task_ranks(self, tasks: Sequence[str]) -> Dict[str, int]:
        """``{task: rank}`` in task order (empty in ``lora_only`` mode)."""
        if self.shared_mode == 'lora_only':
            return {}
        if isinstance(self.task_rank, int):
            return {t: self.task_rank for t in tasks}
        missing = [t for t in tasks if t not in self.task_rank]
        extra = sorted(set(self.task_rank) - set(tasks))
        if missing or extra:
            raise ValueError(f'MTLoRA task_rank must name exactly the tasks {list(tasks)}; '
                             f'missing {missing}, unknown {extra}')
        return {t: self.task_rank[t] for t in tasks}

    def task_scales(self, tasks: Sequence[str]) -> Dict[str, float]:
        """``{task: scale}``; defaults to ``shared_scale``."""
        if isinstance(self.task_scale, dict):
            unknown = sorted(set(self.task_scale) - set(tasks))
            if unknown:
                raise ValueError(f'MTLoRA task_scale names unknown tasks {unknown}')
            return {t: float(self.task_scale.get(t, self.shared_scale)) for t in tasks}
        scale = self.shared_scale if self.task_scale is None else float(self.task_scale)
        return {t: scale for t in tasks}

    def _task_block(self, index: int, depth: int) -> bool:
        return self.intermediate_specialization or index == depth - 1

    # ------------------------------------------------------------------ BaseMethod hooks
    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        tasks = list(model.tasks)
        ranks = self.stage_ranks(len(backbone.layers))
        task_ranks = self.task_ranks(tasks)
        task_scales = self.task_scales(tasks)
        self.tasks = tuple(tasks)
        has_task_sites = bool(task_ranks) and any(self.sites[s] for s in _TASK_SITES)
        for layer, rank in zip(backbone.layers, ranks):
            for j, block in enumerate(layer.blocks):
                specialised = has_task_sites and self._task_block(j, len(layer.blocks))
                owners = {'qkv': block.attn, 'proj': block.attn, 'fc1': block.mlp,
                          'fc2': block.mlp}
                for site, owner in owners.items():
                    if not self.sites[site]:
                        continue
                    with_tasks = specialised and site in _TASK_SITES
                    setattr(owner, site, MTLoRALinear(
                        getattr(owner, site), rank, self.shared_scale, self.dropout,
                        task_ranks if with_tasks else None, task_scales,
                        'matrixv2' if self.shared_mode == 'matrixv2' else 'matrix',
                        'shared' if site == 'proj' else 'stacked'))
                if specialised:
                    MTLoRABlock.convert(block, tasks)
            if has_task_sites:
                MTLoRAStage.convert(layer)
                fc2 = layer.blocks[-1].mlp.fc2
                if layer is backbone.layers[-1] and isinstance(fc2, MTLoRALinear) and fc2.tasks:
                    fc2.shared_lora_output = False  # the last stage's shared output feeds nothing
            if self.downsampler_lora and layer.downsample is not None:
                merge = layer.downsample
                merge.reduction = MTLoRALinear(merge.reduction, rank, self.shared_scale,
                                               self.dropout)

    def keep_pretrained_trainable(self, name: str) -> bool:
        return (name.startswith('patch_embed.') or is_layer_norm_param(name)
                or name.endswith('relative_position_bias_table')
                or (not self.downsampler_lora and name.endswith('downsample.reduction.weight')))

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        n = len(bb.depths)
        embed = bb.embed_dims
        total = bb.in_channels * embed * bb.patch_size ** 2 + embed + 2 * embed  # patch_embed
        task_rank_sum = sum(self.task_ranks(self.tasks).values())
        for i, (depth, heads, window, rank) in enumerate(
                zip(bb.depths, bb.num_heads, bb.window_sizes, self.stage_ranks(n))):
            dim = bb.stage_channels[i]
            hidden = int(dim * bb.mlp_ratio)
            dims = site_dims(dim, hidden)
            total += depth * (4 * dim + (2 * window - 1) ** 2 * heads)  # norms, rel-pos tables
            shared = sum(sum(dims[s]) for s, on in self.sites.items() if on)
            total += depth * rank * shared
            task_blocks = depth if self.intermediate_specialization else 1
            per_rank = sum(sum(dims[s]) for s in _TASK_SITES if self.sites[s])
            total += task_blocks * per_rank * task_rank_sum
            if i < n - 1:  # PatchMerging: LayerNorm(4C) and the 4C -> 2C reduction (or its LoRA)
                total += 8 * dim
                total += rank * 6 * dim if self.downsampler_lora else 8 * dim * dim
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'rank={self.rank}, task_rank={self.task_rank}, shared_scale='
                f'{self.shared_scale}, shared_mode={self.shared_mode!r}, '
                f'downsampler_lora={self.downsampler_lora}')
