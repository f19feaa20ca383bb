"""FAAR's Task-Spectral Pyramidal Decoder (TS-PD; Fontana et al., arXiv 2603.20403).

A decoder group (``multi_task = True``): at every level ``l`` of the feature pyramid and for every
task ``t``, with ``F = rfft2(f)`` (orthonormal) of the task's feature map ``f``:

* **CW-SP** (channel-wise spectral filter): ``F_t = W_t^l * F`` with a learnable 2D frequency
  filter ``W_t^l`` ``[H_l, W_l // 2 + 1]`` applied to every channel (or one per channel);
* **XT-Cons** (cross-task consensus): ``F_avg`` is the mean filtered spectrum of the other tasks;
  ``F_t <- F_t + a_low M_low (F_avg - F_t) + a_high M_high (F_avg - F_t)`` with fixed radial
  low/high-frequency masks and learnable scalars ``a_low, a_high``;
* back to features: ``f_t = gamma_t^l * irfft2(F_t) + beta_t^l`` (per-channel scale/shift);

then each task's HRNet fusion head (:class:`HRNetFusionHead`) predicts from its four maps. The
filters are stored as their deviation from 1 (so that weight decay pulls them towards the
identity) and start at 1, ``a`` at 0, ``gamma`` at 1 and ``beta`` at 0: at initialisation TS-PD
equals the HRNet heads on the backbone features.
"""
import math
from typing import Dict, List, Optional, Sequence, Union

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from mtbench.models.param_formulas import fusion_head_params
from mtbench.registry import MODELS

from .hrnet_head import HRNetFusionHead

__all__ = ['TaskSpectralPyramidalDecoder']


def _pair(size: Union[int, Sequence[int]]) -> tuple:
    return (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)


@MODELS.register_module()
class TaskSpectralPyramidalDecoder(BaseModule):
    """TS-PD: spectral filtering and cross-task consensus per level, then per-task HRNet heads.

    Parameters per task: the HRNet head, plus per level ``l`` (grid ``H_l x W_l``, ``C_l``
    channels) ``H_l (W_l // 2 + 1) k c`` filter entries (``k = 2`` with complex filters,
    ``c = C_l`` with per-channel filters, else 1), ``2 C_l`` scale/shift and, with cross-task
    consensus and at least two tasks, 2 scalars. On Swin-T at 448 (grids 56, 28, 14, 14):
    ``2,268 + 4,224 + 8 = 6,500`` per task with the defaults.

    Args:
        tasks: task names.
        in_channels: channels of the pyramid levels (e.g. ``[192, 384, 768, 768]``).
        out_channels: ``{task: output channels}``.
        img_size: network input size; the level grids are ``ceil(img_size / stride)``.
        feature_strides: stride of every level.
        reduce_channels: reductions of the HRNet heads (see :class:`HRNetFusionHead`).
        hidden_ratio: hidden ratio of the HRNet heads.
        cross_task: XT-Cons on (needs two tasks or more).
        low_freq_radius: radius of the low-frequency mask, as a fraction of the Nyquist
            frequency (``M_high = 1 - M_low``).
        channel_filters: one filter per channel (else one per task and level).
        complex_filters: complex filter entries (else real gains, zero phase).
    """

    multi_task = True

    def __init__(self, tasks: Sequence[str], in_channels: Sequence[int],
                 out_channels: Dict[str, int], img_size: Union[int, Sequence[int]] = 448,
                 feature_strides: Sequence[int] = (8, 16, 32, 32),
                 reduce_channels: Optional[Sequence[int]] = None, hidden_ratio: int = 4,
                 cross_task: bool = True, low_freq_radius: float = 0.5,
                 channel_filters: bool = False, complex_filters: bool = False, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if len(feature_strides) != len(in_channels):
            raise ValueError(f'TS-PD feature_strides {list(feature_strides)} must give one '
                             f'stride per level {list(in_channels)}')
        if isinstance(low_freq_radius, bool) or not 0 < low_freq_radius < math.sqrt(2):
            raise ValueError(f'TS-PD low_freq_radius must be in (0, sqrt(2)), got '
                             f'{low_freq_radius!r}')
        height, width = _pair(img_size)
        self.tasks = list(tasks)
        self.in_channels = list(in_channels)
        self.grids = [(math.ceil(height / s), math.ceil(width / s)) for s in feature_strides]
        self.cross_task = bool(cross_task) and len(self.tasks) > 1
        self.channel_filters = bool(channel_filters)
        self.complex_filters = bool(complex_filters)
        self.low_freq_radius = float(low_freq_radius)
        self.heads = nn.ModuleDict({
            t: HRNetFusionHead(in_channels, out_channels[t], reduce_channels, hidden_ratio)
            for t in self.tasks})
        self.spectral = nn.ModuleDict({t: self._task_spectral() for t in self.tasks})
        for level, (h, w) in enumerate(self.grids):
            fy = torch.fft.fftfreq(h).abs()[:, None] * 2
            fx = torch.fft.rfftfreq(w)[None, :] * 2
            low = (torch.sqrt(fy ** 2 + fx ** 2) <= self.low_freq_radius).float()
            self.register_buffer(f'low_mask_{level}', low, persistent=False)

    def _task_spectral(self) -> nn.Module:
        module = nn.Module()
        filters, scales, shifts = [], [], []
        for (h, w), c in zip(self.grids, self.in_channels):
            shape = ((c,) if self.channel_filters else (1,)) + (h, w // 2 + 1) + (
                (2,) if self.complex_filters else ())
            filters.append(nn.Parameter(torch.zeros(shape)))
            scales.append(nn.Parameter(torch.ones(c)))
            shifts.append(nn.Parameter(torch.zeros(c)))
        module.filters = nn.ParameterList(filters)
        module.scales = nn.ParameterList(scales)
        module.shifts = nn.ParameterList(shifts)
        if self.cross_task:
            module.alphas = nn.Parameter(torch.zeros(len(self.grids), 2))
        return module

    def task_of(self, name: str) -> Optional[str]:
        """Every parameter belongs to one task (``heads.<task>.*``, ``spectral.<task>.*``)."""
        parts = name.split('.')
        return parts[1] if parts[0] in ('heads', 'spectral') else None

    def num_params_formula(self) -> int:
        """Closed-form parameter count (heads + spectral modules), see the class docs."""
        total = 0
        for task, head in self.heads.items():
            total += fusion_head_params(self.in_channels, head.reduce_channels,
                                        head.out_channels, head.hidden_ratio)
        per_task = 0
        for (h, w), c in zip(self.grids, self.in_channels):
            filt = h * (w // 2 + 1) * (c if self.channel_filters else 1)
            per_task += filt * (2 if self.complex_filters else 1) + 2 * c
            per_task += 2 if self.cross_task else 0
        return total + len(self.tasks) * per_task

    def _filter(self, task: str, level: int) -> torch.Tensor:
        """The filter ``W_t^l = 1 + delta`` (the parameter is the deviation from 1)."""
        delta = self.spectral[task].filters[level]
        return 1 + (torch.view_as_complex(delta) if self.complex_filters else delta)

    def enhance(self, feats: Dict[str, List[torch.Tensor]]) -> Dict[str, List[torch.Tensor]]:
        """The TS-PD feature maps ``{task: [f_1..f_L]}`` (before the heads)."""
        out = {t: [] for t in self.tasks}
        for level, (h, w) in enumerate(self.grids):
            maps = {t: feats[t][level] for t in self.tasks}
            size = maps[self.tasks[0]].shape[-2:]
            if tuple(size) != (h, w):
                raise ValueError(f'TS-PD level {level} was built for a {h}x{w} grid '
                                 f'(img_size), got {tuple(size)}: set decoder.img_size to the '
                                 f'network input size')
            dtype = maps[self.tasks[0]].dtype
            with torch.autocast(maps[self.tasks[0]].device.type, enabled=False):
                spectra = {t: torch.fft.rfft2(m.float(), norm='ortho') * self._filter(t, level)
                           for t, m in maps.items()}
                if self.cross_task:
                    low = getattr(self, f'low_mask_{level}')
                    total = sum(spectra.values())
                    mixed = {}
                    for t, spec in spectra.items():
                        diff = (total - spec) / (len(self.tasks) - 1) - spec
                        a_low, a_high = self.spectral[t].alphas[level]
                        mixed[t] = spec + diff * (a_low * low + a_high * (1 - low))
                    spectra = mixed
                for t, spec in spectra.items():
                    mod = self.spectral[t]
                    feat = torch.fft.irfft2(spec, s=(h, w), norm='ortho')
                    feat = feat * mod.scales[level][:, None, None] + mod.shifts[level][:, None,
                                                                                        None]
                    out[t].append(feat.to(dtype))
        return out

    def forward(self, feats: Dict[str, List[torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """``{task: [B, C_l, H_l, W_l] x L}`` -> ``{task: [B, out_t, H_1, W_1]}``."""
        enhanced = self.enhance(feats)
        return {t: self.heads[t](enhanced[t]) for t in self.tasks}
