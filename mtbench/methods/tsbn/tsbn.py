"""TSBN and TSσBN: task-specific normalisation (Suteu & Serban, arXiv 2512.20420).

Every shared normalisation layer of the backbone becomes task-specific while every other
weight stays shared: TSBN gives each task its own copy of the affine transform, TSσBN its own
bounded per-channel gate ``sigmoid(gamma_t)`` (σBN, Suteu & Guo, arXiv 2204.06404). On Swin the
normalisation layers are LayerNorms, so each task runs its own stream through the frozen
backbone. What the paper states and what mtbench chose is listed in ``docs/methods/tsbn.md``.
"""
import math
import re
from typing import List, Optional, Sequence, Tuple

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import backbone_formula, decoders_formula
from mtbench.registry import METHODS

from .backbone import TaskNormSwinTransformer
from .norm import TaskLayerNorm, logit

__all__ = ['SITES', 'TSBN']

#: LayerNorm sites: the patch-embedding norm, the two norms of every block, the PatchMerging norm.
SITES = ('patch_embed', 'norm1', 'norm2', 'downsample')
GATE_BASES = ('pretrained', 'normalized')
_TASK_PARAM = re.compile(r'\.tsbn_(?:weight|bias|gate)\.([^.]+)$')

NormSite = Tuple[str, int, int]


def _is_number(value) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


@METHODS.register_module()
class TSBN(BaseMethod):
    """Task-specific normalisation layers in a frozen Swin; TSσBN with ``sigma=True``.

    Every selected LayerNorm (``x_hat`` its normalised input) gives the stream of task ``t``

    * TSBN (``sigma=False``): ``gamma_t * x_hat + beta_t``, ``gamma_t``, ``beta_t`` initialised
      to the pretrained affine;
    * TSσBN, ``gate_base='pretrained'``: ``c * sigmoid(g_t) * (gamma * x_hat + beta)`` with the
      pretrained ``gamma``, ``beta`` frozen, ``g_t = logit(1 / c)`` at initialisation;
    * TSσBN, ``gate_base='normalized'``: ``c * sigmoid(g_t) * x_hat`` (the paper's σBN form;
      the pretrained affine is dropped, so the backbone does not start as the pretrained one).

    Each task runs its own stream from the first task-specific norm on (statistics are per
    token, computed on the task's own stream); a task's decoder reads its own stream at every
    stage. The rest of the backbone is frozen (shared and trainable with
    ``train_backbone=True``, the paper's full-training setting); the decoders train.

    Trainable parameters, with ``W`` the summed widths of the selected norms (Swin-T, all
    sites: ``C0 + sum_s 4 C_s D_s + sum_{s<3} 4 C_s = 11,616``) and ``T`` tasks::

        T * 2 * W (TSBN) or T * W (TSσBN) + decoders
        (+ the backbone minus the 2 W unused pretrained affines, with train_backbone)

    Args:
        sigma: TSσBN (per-task sigmoid gates) instead of TSBN (per-task affine copies).
        sites: LayerNorms made task-specific, a subset of :data:`SITES`.
        start_stage: the first stage whose norms become task-specific (the patch-embedding norm
            belongs to stage 0); earlier norms stay shared and frozen, so the streams split
            later and the earlier stages run once.
        train_backbone: also train every shared pretrained backbone parameter.
        gate_base: TSσBN only: what the gate multiplies, ``'pretrained'`` (default) or
            ``'normalized'``.
        gate_scale: TSσBN only: ``c``, the gate's upper bound; default 2 with
            ``gate_base='pretrained'``, 1 (the paper's bound) with ``'normalized'``.
        gate_init: TSσBN only: initial gate logit; default ``logit(1 / c)`` (identity) with
            ``gate_base='pretrained'``, 0 with ``'normalized'``.

    Example:
        >>> method = dict(type='TSBN', sigma=True)
    """

    method_id = 'tsbn'
    param_prefix = 'tsbn_'
    supports_merge = False
    identity_at_init = True

    def __init__(self, sigma: bool = False, sites: Sequence[str] = SITES, start_stage: int = 0,
                 train_backbone: bool = False, gate_base: Optional[str] = None,
                 gate_scale: Optional[float] = None, gate_init: Optional[float] = None):
        if not isinstance(sigma, bool):
            raise ValueError(f'TSBN sigma must be True or False, got {sigma!r}')
        if not isinstance(train_backbone, bool):
            raise ValueError(f'TSBN train_backbone must be True or False, got {train_backbone!r}')
        sites = (sites,) if isinstance(sites, str) else tuple(sites)
        unknown = [s for s in sites if s not in SITES]
        if unknown or not sites:
            raise ValueError(f'TSBN sites must be a non-empty subset of {SITES}, got {sites}')
        if isinstance(start_stage, bool) or not isinstance(start_stage, int) or start_stage < 0:
            raise ValueError(f'TSBN start_stage must be a non-negative integer, '
                             f'got {start_stage!r}')
        given = {k: v for k, v in dict(gate_base=gate_base, gate_scale=gate_scale,
                                       gate_init=gate_init).items() if v is not None}
        if given and not sigma:
            raise ValueError(f'TSBN {sorted(given)} only apply to TSσBN (sigma=True)')
        self.sigma = sigma
        self.sites = sites
        self.start_stage = start_stage
        self.train_backbone = train_backbone
        self.gate_base = gate_base or 'pretrained'
        if self.gate_base not in GATE_BASES:
            raise ValueError(f'TSBN gate_base must be one of {GATE_BASES}, got {gate_base!r}')
        pretrained_base = self.gate_base == 'pretrained'
        scale = gate_scale if gate_scale is not None else (2.0 if pretrained_base else 1.0)
        if not _is_number(scale) or scale <= 0:
            raise ValueError(f'TSBN gate_scale must be a positive number, got {gate_scale!r}')
        if gate_init is not None and not _is_number(gate_init):
            raise ValueError(f'TSBN gate_init must be a finite number, got {gate_init!r}')
        if sigma and pretrained_base and gate_init is None and scale <= 1:
            raise ValueError(f'TSBN gate_scale={scale!r} <= 1 cannot start at the pretrained '
                             "function with gate_base='pretrained' (c * sigmoid(g) < 1); use "
                             'gate_scale > 1 or give gate_init')
        self.gate_scale = float(scale)
        if gate_init is None:
            gate_init = logit(1.0 / self.gate_scale) if pretrained_base else 0.0
        self.gate_init = float(gate_init)
        self.method_id = 'tssigmabn' if sigma else 'tsbn'
        self.identity_at_init = not sigma or (pretrained_base and 'gate_init' not in given)
        self.tasks: Tuple[str, ...] = ()
        self.norm_names: List[str] = []

    @property
    def mode(self) -> str:
        """The :class:`TaskLayerNorm` mode (see :data:`mtbench.methods.tsbn.norm.MODES`)."""
        if not self.sigma:
            return 'affine'
        return 'gate_pretrained' if self.gate_base == 'pretrained' else 'gate_normalized'

    def norm_sites(self, backbone: nn.Module) -> List[NormSite]:
        """``(module name, stage, width)`` of every task-specific norm, in forward order.

        Read from the backbone's arch (depths, stage widths) only.

        Raises:
            ValueError: ``start_stage`` is not a stage, or the selection is empty.
        """
        depths, widths = backbone.depths, backbone.stage_channels
        if self.start_stage >= len(depths):
            raise ValueError(f'TSBN start_stage={self.start_stage} is not a stage of a '
                             f'{len(depths)}-stage backbone')
        found = []
        if 'patch_embed' in self.sites and self.start_stage == 0:
            found.append(('patch_embed.norm', 0, backbone.embed_dims))
        for stage in range(self.start_stage, len(depths)):
            for block in range(depths[stage]):
                found += [(f'layers.{stage}.blocks.{block}.{site}', stage, widths[stage])
                          for site in ('norm1', 'norm2') if site in self.sites]
            if 'downsample' in self.sites and stage < len(depths) - 1:
                found.append((f'layers.{stage}.downsample.norm', stage, 4 * widths[stage]))
        if not found:
            raise ValueError(f'TSBN sites={self.sites} with start_stage={self.start_stage} '
                             'select no LayerNorm of the backbone')
        return found

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        sites = self.norm_sites(backbone)
        first_name, first_stage, _ = sites[0]
        in_block = first_name.endswith(('norm1', 'norm2'))
        for name, _, _ in sites:
            TaskLayerNorm.convert(backbone.get_submodule(name), self.tasks, self.mode,
                                  self.gate_scale, self.gate_init,
                                  broadcast=name == first_name and not in_block)
        self.norm_names = [name for name, _, _ in sites]
        TaskNormSwinTransformer.convert(backbone, self.tasks, first_stage if in_block else None)

    def _unused_pretrained(self, name: str) -> bool:
        """Whether ``name`` is a pretrained affine the task-specific norms no longer read."""
        module, _, leaf = name.rpartition('.')
        return (self.mode != 'gate_pretrained' and leaf in ('weight', 'bias')
                and module in self.norm_names)

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_backbone and not self._unused_pretrained(name)

    def task_of(self, name: str) -> Optional[str]:
        match = _TASK_PARAM.search(name)
        return match.group(1) if match else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        width = sum(w for _, _, w in self.norm_sites(bb))
        total = len(self.tasks) * (1 if self.sigma else 2) * width
        if self.train_backbone:
            total += backbone_formula(bb) - (0 if self.mode == 'gate_pretrained' else 2 * width)
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        text = (f'sigma={self.sigma}, sites={self.sites}, start_stage={self.start_stage}, '
                f'train_backbone={self.train_backbone}')
        if self.sigma:
            text += (f', gate_base={self.gate_base!r}, gate_scale={self.gate_scale}, '
                     f'gate_init={self.gate_init:.4g}')
        return text
