"""FAAR (Fontana et al., CVPR 2026, arXiv 2603.20403): DoRA adapters with performance-driven
rank shrinking on a frozen Swin, MTLoRA-style task-specific adapters in the last block of each
stage. Its decoder (TS-PD) is :class:`~mtbench.models.decoders.TaskSpectralPyramidalDecoder`;
the shrinking schedule is :class:`~mtbench.methods.faar.pdrs.PDRSHook`."""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param
from mtbench.methods.mtlora.blocks import MTLoRABlock, MTLoRAStage
from mtbench.methods.mtlora.layer import site_dims
from mtbench.registry import METHODS

from .adapter import MASKED_SCORES, DoRAAdapter
from .layer import DoRALinear
from .pdrs import coverage_keep

__all__ = ['FAAR', 'TRAINABLE_EXTRAS']

SITES = ('qkv', 'proj', 'fc1', 'fc2')
TASK_SITES = ('proj', 'fc1', 'fc2')
#: Pretrained parts a FAAR config may keep trainable besides the adapters.
TRAINABLE_EXTRAS = ('patch_embed', 'norms', 'relative_position', 'reductions')
_TASK_PARAM = re.compile(r'\.dora_tasks\.(\w+)\.')
_OWNER = {'qkv': 'attn', 'proj': 'attn', 'fc1': 'mlp', 'fc2': 'mlp'}


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'FAAR {what} must be a positive integer, got {value!r}')
    return value


def _fraction(value, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ValueError(f'FAAR {what} must be a number in (0, 1], got {value!r}')
    return float(value)


def _subset(value, allowed: Sequence[str], what: str, empty_ok: bool) -> Tuple[str, ...]:
    value = (value,) if isinstance(value, str) else tuple(value)
    unknown = [v for v in value if v not in allowed]
    if unknown or (not value and not empty_ok):
        raise ValueError(f'FAAR {what} must be a {"" if empty_ok else "non-empty "}subset of '
                         f'{list(allowed)}, got {list(value)}')
    return value


@METHODS.register_module()
class FAAR(BaseMethod):
    """DoRA adapters of rank ``r_init``, shrunk during training by PDRS (docs/methods/faar.md).

    * A shared DoRA adapter on every ``sites`` Linear of every block; in the last block of each
      stage one DoRA adapter per task on ``task_sites`` (plus the shared one on the shared
      stream with ``shared_in_task_blocks``). Those blocks emit one stream per task, merged by
      the stage's shared PatchMerging and read by the task's decoder (MTLoRA's layout).
    * Per adapter of width ``d_in -> d_out`` and current rank ``r``: ``r (d_in + d_out)``
      factors plus ``d_out`` magnitudes. With ``pdrs`` every training forward uses a random
      rank prefix, the backward pass accumulates each component's importance, and the
      :class:`~mtbench.methods.faar.pdrs.PDRSHook` keeps, per adapter, the fewest components
      covering ``coverage`` (``task_coverage`` for task adapters) of the importance.
    * Trainable besides the adapters: ``trainable`` (pretrained parts) and the decoders.

    :meth:`num_trainable` counts the adapters at their *current* ranks (what the model trains
    now); :meth:`num_trainable_at_init` at ``rank`` / ``task_rank``. On Swin-T with four PASCAL
    tasks and one rank everywhere: shared adapters ``70,656 r + 39,744`` (factors +
    magnitudes), task adapters ``69,120 r_t + 34,560`` (the four tasks together), extras
    ``51,258`` (patch embedding, LayerNorms, rel-pos tables) and four HRNet heads ``1,946,624``:
    11,017,850 at ``r = r_t = 64``.

    Args:
        rank: initial rank of the shared adapters.
        task_rank: initial rank of the task adapters (defaults to ``rank``).
        scale: multiplier ``s`` of ``B A`` of the shared adapters (not ``alpha / r``).
        task_scale: multiplier of the task adapters (defaults to ``scale``).
        dropout: dropout on the shared adapters' low-rank input.
        sites: Linear sites with a shared adapter (subset of ``qkv, proj, fc1, fc2``).
        task_sites: sites with task adapters in the last block of each stage (subset of
            ``proj, fc1, fc2``; empty: no task-specific adapters).
        shared_in_task_blocks: keep the shared adapter on ``task_sites`` of the task blocks
            (for the shared stream, MTLoRA's layout); else that stream uses the frozen weight.
        task_base_input: ``'shared'`` (task stream ``t``: ``g_t (W x + s_t B_t A_t x_t)``, the
            frozen product reads the shared input as in MTLoRA's reference code, on which FAAR's
            ablation builds) or ``'task'`` (``W'_t x_t``: the DoRA equation on the task input;
            runs the frozen layer once per stream).
        detach_norm: treat ``||W + s B A||`` as a constant in the backward pass (DoRA §4.3).
        pdrs: rank masking, importance and shrinking (``False``: plain DoRA, fixed ranks).
        coverage: ``rho_shared``.
        task_coverage: ``rho_task`` (defaults to ``coverage``).
        ema_beta: EMA factor of the importance.
        min_rank: fewest components an adapter keeps.
        masked_scores: ``'zero'`` or ``'skip'`` (see
            :data:`~mtbench.methods.faar.adapter.MASKED_SCORES`).
        mask_seed: seed of the random rank prefixes.
        trainable: pretrained parts kept trainable, a subset of :data:`TRAINABLE_EXTRAS`.

    Example:
        >>> method = dict(type='FAAR', rank=64, coverage=0.95)
    """

    method_id = 'faar'
    param_prefix = 'dora_'
    supports_merge = True
    identity_at_init = True

    def __init__(self, rank: int = 64, task_rank: Optional[int] = None, scale: float = 4.0,
                 task_scale: Optional[float] = None, dropout: float = 0.05,
                 sites: Sequence[str] = SITES, task_sites: Sequence[str] = TASK_SITES,
                 shared_in_task_blocks: bool = True, task_base_input: str = 'shared',
                 detach_norm: bool = True, pdrs: bool = True, coverage: float = 0.95,
                 task_coverage: Optional[float] = None, ema_beta: float = 0.9,
                 min_rank: int = 1, masked_scores: str = 'zero', mask_seed: int = 0,
                 trainable: Sequence[str] = ('patch_embed', 'norms', 'relative_position')):
        self.rank = _positive_int(rank, 'rank')
        self.task_rank = self.rank if task_rank is None else _positive_int(task_rank,
                                                                           'task_rank')
        for value, what in ((scale, 'scale'), (task_scale, 'task_scale')):
            if value is not None and (isinstance(value, bool) or not isinstance(
                    value, (int, float)) or value <= 0):
                raise ValueError(f'FAAR {what} must be a positive number, got {value!r}')
        self.scale = float(scale)
        self.task_scale = self.scale if task_scale is None else float(task_scale)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not (
                0.0 <= dropout < 1.0):
            raise ValueError(f'FAAR dropout must be in [0, 1), got {dropout!r}')
        self.dropout = float(dropout)
        self.sites = _subset(sites, SITES, 'sites', empty_ok=True)
        self.task_sites = _subset(task_sites, TASK_SITES, 'task_sites', empty_ok=True)
        if not self.sites and not self.task_sites:
            raise ValueError('FAAR needs at least one adapter: sites and task_sites are empty')
        if task_base_input not in ('task', 'shared'):
            raise ValueError(f"FAAR task_base_input must be 'task' or 'shared', got "
                             f'{task_base_input!r}')
        self.task_base_input = task_base_input
        self.shared_in_task_blocks = bool(shared_in_task_blocks)
        self.detach_norm = bool(detach_norm)
        self.pdrs = bool(pdrs)
        self.coverage = _fraction(coverage, 'coverage')
        self.task_coverage = self.coverage if task_coverage is None else _fraction(
            task_coverage, 'task_coverage')
        if isinstance(ema_beta, bool) or not isinstance(ema_beta, (int, float)) or not (
                0.0 <= ema_beta < 1.0):
            raise ValueError(f'FAAR ema_beta must be in [0, 1), got {ema_beta!r}')
        self.ema_beta = float(ema_beta)
        self.min_rank = _positive_int(min_rank, 'min_rank')
        if masked_scores not in MASKED_SCORES:
            raise ValueError(f'FAAR masked_scores must be one of {MASKED_SCORES}, got '
                             f'{masked_scores!r}')
        self.masked_scores = masked_scores
        if isinstance(mask_seed, bool) or not isinstance(mask_seed, int):
            raise ValueError(f'FAAR mask_seed must be an integer, got {mask_seed!r}')
        self.mask_seed = mask_seed
        self.trainable = _subset(trainable, TRAINABLE_EXTRAS, 'trainable', empty_ok=True)
        self.tasks: Tuple[str, ...] = ()
        #: ``(module name, stage, site, has shared adapter, has task adapters)``, from the arch.
        self.plan: List[Tuple[str, int, str, bool, bool]] = []

    # ------------------------------------------------------------------ building
    def _site_adapters(self, site: str, task_block: bool) -> Tuple[bool, bool]:
        with_tasks = task_block and site in self.task_sites
        shared = site in self.sites and (not with_tasks or self.shared_in_task_blocks)
        return shared, with_tasks

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        if self.pdrs and any(layer.with_cp for layer in backbone.layers):
            raise ValueError('FAAR pdrs (random rank prefixes) cannot run with activation '
                             'checkpointing (backbone with_cp=True): the recomputed forward '
                             'would draw other prefixes')
        rank_limit = min(backbone.stage_channels)
        for what, value in (('rank', self.rank), ('task_rank', self.task_rank)):
            if value > rank_limit:
                raise ValueError(f'FAAR {what}={value} exceeds the narrowest adapted width '
                                 f'{rank_limit} of this backbone')
        key = 0
        self.plan = []
        for i, layer in enumerate(backbone.layers):
            depth = len(layer.blocks)
            for j, block in enumerate(layer.blocks):
                task_block = j == depth - 1 and bool(self.task_sites)
                for site in SITES:
                    shared, with_tasks = self._site_adapters(site, task_block)
                    if not (shared or with_tasks):
                        continue
                    owner = getattr(block, _OWNER[site])
                    tasks = self.tasks if with_tasks else ()
                    setattr(owner, site, DoRALinear(
                        getattr(owner, site), self.rank if shared else None, self.scale,
                        self.dropout, {t: self.task_rank for t in tasks},
                        {t: self.task_scale for t in tasks},
                        'shared' if site == 'proj' else 'stacked', self.task_base_input,
                        range(key, key + 1 + len(tasks)), self.mask_seed, self.detach_norm))
                    key += 1 + len(tasks)
                    self.plan.append((f'layers.{i}.blocks.{j}.{_OWNER[site]}.{site}', i, site,
                                      shared, with_tasks))
                if task_block:
                    MTLoRABlock.convert(block, self.tasks)
            if self.task_sites:
                MTLoRAStage.convert(layer)
        for adapter in self._adapters(model).values():
            adapter.rank_masking = adapter.scoring = self.pdrs
            adapter.ema_beta = self.ema_beta
            adapter.masked_scores = self.masked_scores

    def keep_pretrained_trainable(self, name: str) -> bool:
        extras = self.trainable
        return (('patch_embed' in extras and name.startswith('patch_embed.'))
                or ('norms' in extras and is_layer_norm_param(name))
                or ('relative_position' in extras
                    and name.endswith('relative_position_bias_table'))
                or ('reductions' in extras and name.endswith('downsample.reduction.weight')))

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    # ------------------------------------------------------------------ adapters and ranks
    def _layers(self, model: nn.Module) -> Dict[str, DoRALinear]:
        return {name: model.backbone.get_submodule(name) for name, *_ in self.plan}

    def _adapters(self, model: nn.Module) -> Dict[str, DoRAAdapter]:
        return {f'{name}:{stream}': adapter for name, layer in self._layers(model).items()
                for stream, adapter in layer.adapters().items()}

    def current_ranks(self, model: nn.Module) -> Dict[str, int]:
        """``{'<module>:<shared|task>': current rank}`` of every adapter."""
        return {key: adapter.rank for key, adapter in self._adapters(model).items()}

    def is_shrunk(self, model: nn.Module) -> bool:
        """Whether any adapter has fewer components than at construction."""
        return any(a.rank < a.rank_init for a in self._adapters(model).values())

    def importance_buffers(self, model: nn.Module) -> List[torch.Tensor]:
        """The importance EMA buffers (for averaging over processes)."""
        return [a.importance for a in self._adapters(model).values()]

    def set_grad_scale(self, model: nn.Module, scale: float) -> None:
        """Tell the importance hooks the loss scale of the coming backward pass."""
        for adapter in self._adapters(model).values():
            adapter.grad_scale_inv = 1.0 / scale

    def shrink(self, model: nn.Module) -> List[tuple]:
        """Apply the coverage rule to every adapter (PDRS); returns the changed parameters.

        Returns:
            ``(parameter, dim, old shape, kept indices)`` per shrunk ``A`` / ``B``.
        """
        if not self.pdrs:
            return []
        changes = []
        for key, adapter in self._adapters(model).items():
            rho = self.coverage if key.endswith(':shared') else self.task_coverage
            keep = coverage_keep(adapter.total_importance(), rho, self.min_rank)
            if keep.numel() < adapter.rank:
                changes += [(p, d, old, keep) for p, d, old in adapter.prune(keep)]
        return changes

    # ------------------------------------------------------------------ counting
    def _extras(self, bb) -> int:
        total = 0
        embed = bb.embed_dims
        if 'patch_embed' in self.trainable:
            total += bb.in_channels * embed * bb.patch_size ** 2 + embed + 2 * embed
        elif 'norms' in self.trainable:
            total += 2 * embed  # the patch embedding's LayerNorm
        last = len(bb.depths) - 1
        for i, (depth, heads, window) in enumerate(zip(bb.depths, bb.num_heads,
                                                       bb.window_sizes)):
            dim = bb.stage_channels[i]
            if 'norms' in self.trainable:
                total += depth * 4 * dim + (8 * dim if i < last else 0)
            if 'relative_position' in self.trainable:
                total += depth * (2 * window - 1) ** 2 * heads
            if 'reductions' in self.trainable and i < last:
                total += 8 * dim * dim
        return total

    def _count(self, model: nn.Module, ranks: Dict[str, int]) -> int:
        bb = model.backbone
        total = self._extras(bb)
        for name, stage, site, shared, with_tasks in self.plan:
            dim = bb.stage_channels[stage]
            d_in, d_out = site_dims(dim, int(dim * bb.mlp_ratio))[site]
            streams = (['shared'] if shared else []) + (list(self.tasks) if with_tasks else [])
            total += sum(ranks[f'{name}:{s}'] * (d_in + d_out) + d_out for s in streams)
        return total + decoders_formula(model)

    def num_trainable(self, model: nn.Module) -> int:
        """Closed-form count with every adapter at its current rank."""
        return self._count(model, self.current_ranks(model))

    def num_trainable_at_init(self, model: nn.Module) -> int:
        """Closed-form count with every adapter at ``rank`` / ``task_rank`` (before shrinking)."""
        ranks = {f'{name}:{s}': self.rank if s == 'shared' else self.task_rank
                 for name, _, _, shared, with_tasks in self.plan
                 for s in (['shared'] if shared else []) + (list(self.tasks) if with_tasks
                                                            else [])}
        return self._count(model, ranks)

    # ------------------------------------------------------------------ merging
    def merge(self, model: nn.Module) -> None:
        for layer in self._layers(model).values():
            layer.merge()

    def unmerge(self, model: nn.Module) -> None:
        for layer in self._layers(model).values():
            layer.unmerge()

    def extra_repr(self) -> str:
        return (f'rank={self.rank}, task_rank={self.task_rank}, pdrs={self.pdrs}, '
                f'coverage={self.coverage}, task_coverage={self.task_coverage}')

