"""Free Sinewich's frequency modulation and its shared decoder group (arXiv 2603.21111).

Frequency switching turns one shared matrix ``M`` into one matrix per task ``t``::

    M~_t = g * LowPass(sin(w_t * M))

with a task frequency ``w_t``, a gain ``g`` and a 2-D Gaussian low-pass filter over the matrix
entries (7 x 7, sigma 1 in the paper). :func:`frequency_modulate` computes it for the backbone
sites of :class:`~mtbench.methods.sinewich.FreeSinewich` and for the decoder group below.

:class:`SinewichDecoderGroup` ("shared decoder group") is the HRNet fusion head of
:class:`~mtbench.models.decoders.HRNetFusionHead` with its first fusion convolution shared:

* per task: bias-free 1x1 reductions of the four stage features, upsampled to the finest grid and
  concatenated into ``x_t`` (``R = sum(reduce_channels)`` channels);
* shared: one 1x1 kernel ``K`` ``[4R, R]``; task ``t`` convolves with ``M~_t`` (``M = K``, its
  own learnable frequency ``w_t``) and adds its own bias: ``h_t = M~_t * x_t + b_t``;
* per task: BatchNorm -> ReLU -> 1x1 classifier.

Parameters: ``sum_t sum_i in_i red_i + 4R * R + sum_t (1 + 4R + 2 * 4R + 4R C_t + C_t)``; on
Swin-T with the reductions [18, 36, 72, 144] and the PASCAL tasks (21 / 7 / 1 / 3 outputs) that is
732,672 + 291,600 + 12,964 + 34,592 = 1,071,828 (the paper: 1.07M, vs 1,946,624 for four HRNet
heads).
"""
import math
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mtbench.registry import MODELS

__all__ = ['SinewichDecoderGroup', 'check_low_pass', 'frequency_modulate', 'gaussian_kernel1d',
           'gaussian_low_pass']


def gaussian_kernel1d(size: int, sigma: float, device=None, dtype=None) -> torch.Tensor:
    """Normalised 1-D Gaussian taps ``exp(-(i - size // 2)^2 / (2 sigma^2))``, summing to 1."""
    offsets = torch.arange(size, device=device, dtype=dtype or torch.float32) - size // 2
    taps = torch.exp(-offsets ** 2 / (2.0 * sigma ** 2))
    return taps / taps.sum()


def gaussian_low_pass(matrices: torch.Tensor, size: int = 7, sigma: float = 1.0
                      ) -> torch.Tensor:
    """Blur the last two dimensions of ``matrices`` with a ``size x size`` Gaussian.

    The 2-D Gaussian is separable, so this is one pass along the rows and one along the columns
    ('same' output size, zero padding outside the matrix). Each pass sums ``size`` shifted views
    of the padded matrix times their (constant) taps: on a CPU that is several times faster,
    forward and backward, than a one-channel ``conv2d`` or a sliding-window view times the taps
    (whose backward scatters through ``unfold``).

    Args:
        matrices: ``[..., H, W]``.
        size: odd kernel side.
        sigma: standard deviation in entries.
    """
    taps = gaussian_kernel1d(size, sigma, dtype=matrices.dtype).tolist()
    pad = size // 2

    def blur(x: torch.Tensor, dim: int) -> torch.Tensor:
        n = x.shape[dim]
        padded = F.pad(x, (pad, pad) if dim == -1 else (0, 0, pad, pad))
        out = padded.narrow(dim, 0, n) * taps[0]
        for k in range(1, size):
            out = out.add(padded.narrow(dim, k, n), alpha=taps[k])
        return out

    return blur(blur(matrices, -2), -1)


def frequency_modulate(base: torch.Tensor, frequencies: torch.Tensor, gain: float,
                       sine: bool = True, low_pass: bool = True, low_pass_kernel: int = 7,
                       low_pass_sigma: float = 1.0) -> torch.Tensor:
    """``gain * LowPass(sin(w_t * M))`` for every task ``t``.

    Args:
        base: the shared matrix ``[1, H, W]`` (or one per task, ``[T, H, W]``).
        frequencies: ``[T]``.
        gain: output multiplier ``g``.
        sine: apply ``sin`` (else the identity: ``g * LowPass(w_t * M)``, the "w/o sine"
            ablation).
        low_pass: apply the Gaussian low-pass filter.
        low_pass_kernel: its odd side.
        low_pass_sigma: its standard deviation.

    Returns:
        ``[T, H, W]``, in float32 (computed outside autocast: with ``w_t`` in the hundreds, a
        half-precision phase would lose the sine's detail).
    """
    with torch.autocast(base.device.type, enabled=False):
        phase = frequencies.view(-1, 1, 1).float() * base.float()
        out = torch.sin(phase) if sine else phase
        if low_pass:
            out = gaussian_low_pass(out, low_pass_kernel, low_pass_sigma)
        return out * gain


def check_low_pass(kernel: int, sigma: float, owner: str) -> None:
    """Raise ``ValueError`` for a low-pass kernel that is not odd and positive, or sigma <= 0."""
    if isinstance(kernel, bool) or not isinstance(kernel, int) or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f'{owner} low_pass_kernel must be an odd positive integer, got '
                         f'{kernel!r}')
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma <= 0:
        raise ValueError(f'{owner} low_pass_sigma must be a positive number, got {sigma!r}')


@MODELS.register_module()
class SinewichDecoderGroup(BaseModule):
    """Free Sinewich's shared decoder group (see the module docstring).

    Args:
        tasks: task names (filled by the model).
        in_channels: channels of the four stage features (filled by the model).
        out_channels: ``{task: output channels}`` (filled by the model).
        reduce_channels: per-scale 1x1 reduction widths; default as
            :class:`~mtbench.models.decoders.HRNetFusionHead` ([18, 36, 72, 144] on Swin-T).
        hidden_ratio: hidden width of the fusion conv relative to ``sum(reduce_channels)``.
        sine: modulate the shared kernel with ``sin`` (else identity; "w/o sine").
        low_pass: Gaussian low-pass filter on the modulated kernel ("w/o low-pass filter").
        low_pass_kernel: odd side of the filter (paper: 7).
        low_pass_sigma: its standard deviation (paper: 1).
        freq_init: initial value of every task frequency ``w_t``.
        gain: ``g``; default ``1 / freq_init`` (so that ``M~_t ~ K`` while ``w_t K`` is small).
        norm_momentum: BatchNorm momentum.

    Example:
        >>> group = SinewichDecoderGroup(['semseg', 'normals'], [16, 32, 64, 64],
        ...                              dict(semseg=21, normals=3), reduce_channels=[2, 2, 4, 8])
        >>> feats = [torch.rand(2, c, s, s) for c, s in zip([16, 32, 64, 64], [8, 4, 2, 2])]
        >>> {t: tuple(o.shape) for t, o in group({'semseg': feats, 'normals': feats}).items()}
        {'semseg': (2, 21, 8, 8), 'normals': (2, 3, 8, 8)}
    """

    multi_task = True

    def __init__(self, tasks: Sequence[str], in_channels: Sequence[int],
                 out_channels: Dict[str, int], reduce_channels: Optional[Sequence[int]] = None,
                 hidden_ratio: int = 4, sine: bool = True, low_pass: bool = True,
                 low_pass_kernel: int = 7, low_pass_sigma: float = 1.0, freq_init: float = 10.0,
                 gain: Optional[float] = None, norm_momentum: float = 0.1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        tasks = list(tasks)
        missing = [t for t in tasks if t not in out_channels]
        if not tasks or missing:
            raise ValueError(f'SinewichDecoderGroup needs out_channels for every task; tasks '
                             f'{tasks}, missing {missing}')
        if reduce_channels is None:
            width = max(1, round(3 * in_channels[0] / 32))
            reduce_channels = [width * 2 ** i for i in range(len(in_channels))]
        if len(reduce_channels) != len(in_channels):
            raise ValueError(f'reduce_channels {list(reduce_channels)} must have one entry per '
                             f'input scale {list(in_channels)}')
        if isinstance(hidden_ratio, bool) or not isinstance(hidden_ratio, int) or \
                hidden_ratio < 1:
            raise ValueError(f'SinewichDecoderGroup hidden_ratio must be a positive integer, got '
                             f'{hidden_ratio!r}')
        if not isinstance(freq_init, (int, float)) or isinstance(freq_init, bool) or \
                freq_init <= 0:
            raise ValueError(f'SinewichDecoderGroup freq_init must be a positive number, got '
                             f'{freq_init!r}')
        if gain is not None and (not isinstance(gain, (int, float)) or gain <= 0):
            raise ValueError(f'SinewichDecoderGroup gain must be a positive number, got '
                             f'{gain!r}')
        check_low_pass(low_pass_kernel, low_pass_sigma, 'SinewichDecoderGroup')
        self.tasks = tasks
        self.in_channels = list(in_channels)
        self.reduce_channels = list(reduce_channels)
        self.out_channels = {t: int(out_channels[t]) for t in tasks}
        self.hidden_ratio = hidden_ratio
        self.sine, self.low_pass = bool(sine), bool(low_pass)
        self.low_pass_kernel, self.low_pass_sigma = low_pass_kernel, float(low_pass_sigma)
        self.freq_init = float(freq_init)
        self.gain = 1.0 / self.freq_init if gain is None else float(gain)
        fused = sum(self.reduce_channels)
        hidden = hidden_ratio * fused
        self.reduce = nn.ModuleDict({t: nn.ModuleList(
            nn.Conv2d(c_in, c_red, kernel_size=1, bias=False)
            for c_in, c_red in zip(self.in_channels, self.reduce_channels)) for t in tasks})
        self.kernel = nn.Parameter(torch.empty(hidden, fused))
        nn.init.kaiming_uniform_(self.kernel, a=math.sqrt(5))  # nn.Conv2d's default
        self.freq = nn.ParameterDict(
            {t: nn.Parameter(torch.full((), self.freq_init)) for t in tasks})
        self.bias = nn.ParameterDict({t: nn.Parameter(torch.zeros(hidden)) for t in tasks})
        self.norm = nn.ModuleDict(
            {t: nn.BatchNorm2d(hidden, momentum=norm_momentum) for t in tasks})
        self.classifier = nn.ModuleDict(
            {t: nn.Conv2d(hidden, self.out_channels[t], kernel_size=1) for t in tasks})

    def task_kernels(self) -> torch.Tensor:
        """The modulated fusion kernels ``M~_t`` of every task, ``[T, 4R, R]``."""
        frequencies = torch.stack([self.freq[t] for t in self.tasks])
        return frequency_modulate(self.kernel.unsqueeze(0), frequencies, self.gain, self.sine,
                                  self.low_pass, self.low_pass_kernel, self.low_pass_sigma)

    def fuse_inputs(self, task: str, feats: List[torch.Tensor]) -> torch.Tensor:
        """``x_t``: the task's reduced stage features, upsampled to the finest grid, stacked."""
        if len(feats) != len(self.in_channels):
            raise ValueError(f'expected {len(self.in_channels)} feature maps, got {len(feats)}')
        size = feats[0].shape[-2:]
        maps = []
        for conv, feat in zip(self.reduce[task], feats):
            x = conv(feat)
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
            maps.append(x)
        return torch.cat(maps, dim=1)

    def forward(self, feats: Dict[str, List[torch.Tensor]]) -> Dict[str, torch.Tensor]:
        """``{task: [f1, .., f4]}`` -> ``{task: [B, C_t, H_0, W_0]}``."""
        kernels = self.task_kernels()
        out = {}
        for i, task in enumerate(self.tasks):
            x = self.fuse_inputs(task, feats[task])
            h = F.conv2d(x, kernels[i][:, :, None, None], self.bias[task])
            out[task] = self.classifier[task](F.relu(self.norm[task](h)))
        return out

    def task_of(self, name: str) -> Optional[str]:
        """Every parameter but the shared ``kernel`` belongs to the task in its name."""
        head, _, rest = name.partition('.')
        if head in ('reduce', 'freq', 'bias', 'norm', 'classifier'):
            return rest.split('.', 1)[0]
        return None

    def num_params_formula(self) -> int:
        """Closed-form parameter count from the widths (see the module docstring)."""
        fused = sum(self.reduce_channels)
        hidden = self.hidden_ratio * fused
        reductions = sum(c * r for c, r in zip(self.in_channels, self.reduce_channels))
        per_task = sum(reductions + 1 + hidden + 2 * hidden + hidden * c + c
                       for c in self.out_channels.values())
        return hidden * fused + per_task

    def extra_repr(self) -> str:
        return (f'tasks={self.tasks}, reduce_channels={self.reduce_channels}, sine={self.sine}, '
                f'low_pass={self.low_pass}, gain={self.gain:g}')
