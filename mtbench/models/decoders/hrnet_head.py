"""Per-task multi-scale fusion decoder of the MTLoRA / TADFormer line ("HRNet head").

Each task reduces the four backbone stage features with its own bias-free 1x1 convolutions,
upsamples them to the finest (stride-8) grid, concatenates, and predicts with
1x1 conv -> BatchNorm -> ReLU -> 1x1 conv. The output is upsampled to the input size by the model.
"""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.model import BaseModule

from mtbench.registry import MODELS

__all__ = ['HRNetFusionHead']


@MODELS.register_module()
class HRNetFusionHead(BaseModule):
    """Multi-scale fusion head for one task.

    Parameters: ``sum(in_i * red_i)`` for the reductions, then
    ``R * (4R) + 4R`` (fuse conv with bias, R = sum(reduce_channels), hidden 4R),
    ``2 * 4R`` (BatchNorm) and ``4R * C + C`` (classifier). On Swin-T with the default
    reductions [18, 36, 72, 144]: 183,168 + 294,840 + 1,081 * C.

    Args:
        in_channels: channels of the four stage features (e.g. [192, 384, 768, 768]).
        out_channels: output channels of the task (e.g. 21 for PASCAL semseg).
        reduce_channels: per-scale 1x1 reduction widths; defaults to ``b * 2**i`` with
            ``b = round(3 * in_channels[0] / 32)``, i.e. [18, 36, 72, 144] on Swin-T as in the
            reference code.
        hidden_ratio: hidden width of the fusion MLP relative to sum(reduce_channels).
        norm_momentum: BatchNorm momentum.

    Example:
        >>> head = HRNetFusionHead([16, 32, 64, 64], 3, reduce_channels=[2, 4, 8, 16])
        >>> feats = [torch.rand(2, c, s, s) for c, s in zip([16, 32, 64, 64], [8, 4, 2, 2])]
        >>> head(feats).shape
        torch.Size([2, 3, 8, 8])
    """

    def __init__(self, in_channels: Sequence[int], out_channels: int,
                 reduce_channels: Sequence[int] = None, hidden_ratio: int = 4,
                 norm_momentum: float = 0.1, init_cfg=None):
        super().__init__(init_cfg=init_cfg)
        if reduce_channels is None:
            base = max(1, round(3 * in_channels[0] / 32))
            reduce_channels = [base * 2**i for i in range(len(in_channels))]
        if len(reduce_channels) != len(in_channels):
            raise ValueError(f'reduce_channels {list(reduce_channels)} must have one entry per '
                             f'input scale {list(in_channels)}')
        self.in_channels = list(in_channels)
        self.reduce_channels = list(reduce_channels)
        self.out_channels = out_channels
        self.hidden_ratio = hidden_ratio
        self.reduce = nn.ModuleList(
            nn.Conv2d(c_in, c_red, kernel_size=1, bias=False)
            for c_in, c_red in zip(in_channels, reduce_channels))
        fused = sum(reduce_channels)
        hidden = hidden_ratio * fused
        self.fuse = nn.Sequential(
            nn.Conv2d(fused, hidden, kernel_size=1),
            nn.BatchNorm2d(hidden, momentum=norm_momentum),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, kernel_size=1),
        )

    def forward(self, feats: List[torch.Tensor]) -> torch.Tensor:
        """Fuse four stage features ``[B, C_i, H_i, W_i]`` into ``[B, out, H_0, W_0]``."""
        if len(feats) != len(self.reduce):
            raise ValueError(f'expected {len(self.reduce)} feature maps, got {len(feats)}')
        size = feats[0].shape[-2:]
        maps = []
        for conv, feat in zip(self.reduce, feats):
            x = conv(feat)
            if x.shape[-2:] != size:
                x = F.interpolate(x, size=size, mode='bilinear', align_corners=False)
            maps.append(x)
        return self.fuse(torch.cat(maps, dim=1))
