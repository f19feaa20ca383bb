"""mtbench's Swin Transformer backbone (official key layout, multi-task feature contract).

``SwinTransformer.forward(x, tasks)`` returns ``{task: [f1, f2, f3, f4]}``: the output of each
stage *after* its patch merging, ``[B, C_i, H_i, W_i]`` at strides 8/16/32/32 (192/384/768/768
channels on Swin-T), as the MTLoRA/TADFormer decoders read them. See ``docs/conventions.md``
("Backbone contract").

Parameter counts (no classifier head, no final norm, 224 geometry): tiny 27,517,818;
small 48,835,722; base 86,741,176; nano 2,278,366. The official Swin-T classifier has
28,288,354 parameters: minus its head (768 * 1000 + 1000 = 769,000) and its final LayerNorm
(2 * 768 = 1,536) that is 27,517,818. The multi-task model reads post-merge features, so the final
norm is never used and mtbench does not build it.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from mmengine.model import BaseModule
from torch import nn

from mtbench.registry import MODELS

from .swin_blocks import BasicLayer, StageOutput
from .swin_checkpoint import load_swin_pretrained

__all__ = ['ARCH_SETTINGS', 'PatchEmbed', 'SwinTransformer', 'resolve_arch',
           'stage_window_config']

ARCH_SETTINGS = {
    'tiny': {'embed_dims': 96, 'depths': (2, 2, 6, 2), 'num_heads': (3, 6, 12, 24),
             'window_size': 7},
    'small': {'embed_dims': 96, 'depths': (2, 2, 18, 2), 'num_heads': (3, 6, 12, 24),
              'window_size': 7},
    'base': {'embed_dims': 128, 'depths': (2, 2, 18, 2), 'num_heads': (4, 8, 16, 32),
             'window_size': 7},
    # CPU tests and demos only.
    'nano': {'embed_dims': 32, 'depths': (2, 2, 2, 2), 'num_heads': (1, 2, 4, 8),
             'window_size': 4},
}
_ALIASES = {'swin-t': 'tiny', 'swin-s': 'small', 'swin-b': 'base', 'swin-nano': 'nano'}


def resolve_arch(arch: str | dict) -> tuple[str, dict]:
    """Return ``(name, settings)`` for an arch name, alias or custom dict.

    Args:
        arch: ``'tiny'``/``'swin-t'``, ``'small'``/``'swin-s'``, ``'base'``/``'swin-b'``,
            ``'nano'``, or a dict with ``embed_dims``, ``depths``, ``num_heads`` and optionally
            ``window_size`` (default 7).

    Raises:
        ValueError: for an unknown name or an incomplete / inconsistent dict.
    """
    if isinstance(arch, str):
        name = _ALIASES.get(arch.lower(), arch.lower())
        if name not in ARCH_SETTINGS:
            raise ValueError(f'Unknown Swin arch {arch!r}; choose from '
                             f'{sorted(ARCH_SETTINGS) + sorted(_ALIASES)} or pass a dict')
        return name, dict(ARCH_SETTINGS[name])
    missing = {'embed_dims', 'depths', 'num_heads'} - set(arch)
    if missing:
        raise ValueError(f'Custom Swin arch dict lacks {sorted(missing)}')
    settings = {'window_size': 7, **arch}
    if len(settings['depths']) != len(settings['num_heads']):
        raise ValueError('Swin arch: depths and num_heads must have the same length')
    return 'custom', settings


def stage_window_config(img_size: int | Sequence[int], patch_size: int, window_size: int,
                        num_stages: int) -> list[tuple[int, int]]:
    """Per-stage ``(window, shift)`` with the official clipping rule.

    A stage whose token grid at ``img_size`` has ``min(H, W) <= window_size`` uses one window of
    side ``min(H, W)`` and no shift; the other stages use ``window_size`` and shift
    ``window_size // 2`` in their odd blocks.

    Args:
        img_size: nominal input size (int or ``(H, W)``).
        patch_size: patch size of the embedding.
        window_size: nominal window side.
        num_stages: number of stages.
    """
    h, w = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    h, w = math.ceil(h / patch_size), math.ceil(w / patch_size)
    config = []
    for _ in range(num_stages):
        side = min(h, w)
        config.append((side, 0) if side <= window_size else (window_size, window_size // 2))
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return config


class PatchEmbed(nn.Module):
    """Non-overlapping patch embedding (``proj`` conv + ``norm``), padding to a multiple.

    Args:
        in_channels: image channels.
        embed_dims: output channels.
        patch_size: patch side (also the conv stride).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int):
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, patch_size, patch_size)
        self.norm = nn.LayerNorm(embed_dims)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """Embed ``[B, 3, H, W]`` (zero-padded at the bottom/right) into ``([B, L, C], hw)``."""
        p = self.patch_size
        pad_h, pad_w = (-x.shape[2]) % p, (-x.shape[3]) % p
        if pad_h or pad_w:
            x = nn.functional.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        hw = (x.shape[2], x.shape[3])
        return self.norm(x.flatten(2).transpose(1, 2)), hw


def _per_stage_flags(value, stages: int) -> tuple:
    """``with_cp`` as one bool per stage (a bool applies to every stage)."""
    if isinstance(value, bool):
        return (value,) * stages
    flags = tuple(value) if isinstance(value, (list, tuple)) else None
    if flags is None or len(flags) != stages or not all(isinstance(f, bool) for f in flags):
        raise ValueError(f'backbone with_cp must be a bool or {stages} bools (one per stage), '
                         f'got {value!r}')
    return flags


@MODELS.register_module()
class SwinTransformer(BaseModule):
    """Swin Transformer backbone with per-task outputs.

    Args:
        arch: see :func:`resolve_arch`.
        img_size: nominal input size, used only for the official window/shift clipping rule
            (:func:`stage_window_config`); any input size runs.
        patch_size: patch size.
        in_channels: image channels.
        mlp_ratio: MLP hidden width / channels.
        qkv_bias: bias in ``attn.qkv``.
        drop_rate: dropout after projections.
        attn_drop_rate: attention dropout.
        drop_path_rate: stochastic depth of the last block (linear from 0 over all blocks).
        with_cp: activation checkpointing of the blocks during training: one bool for every
            stage, or one per stage (e.g. ``(True, False, False, False)`` recomputes only the
            first, largest-resolution stage, where multi-stream methods keep most activations).
        pretrained: local checkpoint path or ``'timm:<tag>'``; loaded by :meth:`init_weights`.
        init_cfg: mmengine init config, used when ``pretrained`` is not given.
    """

    def __init__(self, arch: str | dict = 'tiny', img_size: int | Sequence[int] = 224,
                 patch_size: int = 4, in_channels: int = 3, mlp_ratio: float = 4.0,
                 qkv_bias: bool = True, drop_rate: float = 0.0, attn_drop_rate: float = 0.0,
                 drop_path_rate: float = 0.2, with_cp: bool | Sequence[bool] = False,
                 pretrained: str | None = None,
                 init_cfg: dict | list | None = None):
        super().__init__(init_cfg=init_cfg)
        self.arch_name, settings = resolve_arch(arch)
        self.embed_dims = int(settings['embed_dims'])
        self.depths = tuple(int(d) for d in settings['depths'])
        self.num_heads = tuple(int(h) for h in settings['num_heads'])
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_channels = in_channels
        self.mlp_ratio = mlp_ratio
        self.qkv_bias = qkv_bias
        self.drop_path_rate = drop_path_rate
        self.pretrained = pretrained
        n = len(self.depths)
        stage_cp = _per_stage_flags(with_cp, n)
        geometry = stage_window_config(img_size, patch_size, int(settings['window_size']), n)
        self.window_sizes = tuple(w for w, _ in geometry)
        self.shift_sizes = tuple(s for _, s in geometry)
        self.stage_channels = tuple(self.embed_dims * 2 ** i for i in range(n))
        # Post-merge channels: stages 0..n-2 end with PatchMerging (C -> 2C), the last does not.
        self.out_channels = tuple(2 * c for c in self.stage_channels[:-1]) + (
            self.stage_channels[-1],)
        self.out_strides = tuple(patch_size * 2 ** min(i + 1, n - 1) for i in range(n))

        self.patch_embed = PatchEmbed(in_channels, self.embed_dims, patch_size)
        total = sum(self.depths)
        rates = [drop_path_rate * i / max(total - 1, 1) for i in range(total)]
        self.layers = nn.ModuleList()
        for i in range(n):
            start = sum(self.depths[:i])
            self.layers.append(BasicLayer(
                self.stage_channels[i], self.depths[i], self.num_heads[i], self.window_sizes[i],
                self.shift_sizes[i], mlp_ratio, qkv_bias, rates[start:start + self.depths[i]],
                downsample=i < n - 1, with_cp=stage_cp[i], drop=drop_rate,
                attn_drop=attn_drop_rate))
        self.apply(self._default_init)

    @staticmethod
    def _default_init(module: nn.Module) -> None:
        # Official Swin init: trunc-normal(0.02) linears and bias tables, unit LayerNorms.
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
        table = getattr(module, 'relative_position_bias_table', None)
        if isinstance(table, nn.Parameter):
            nn.init.trunc_normal_(table, std=0.02)

    def init_weights(self) -> None:
        """Load ``pretrained`` (converted, see :func:`load_swin_pretrained`) or apply init_cfg."""
        if self.pretrained:
            load_swin_pretrained(self, self.pretrained)
            self._is_init = True
        else:
            super().init_weights()

    def forward_stages(self, x: torch.Tensor) -> list[StageOutput]:
        """Run all stages on images ``[B, C, H, W]``; returns one :class:`StageOutput` each."""
        tokens, hw = self.patch_embed(x)
        outputs = []
        for layer in self.layers:
            out = layer(tokens, hw)
            outputs.append(out)
            tokens, hw = out.x, out.hw
        return outputs

    def forward_stage_tokens(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Shared pre-merge stage outputs, channels last ``[B, H_i, W_i, C_i]`` (strides 4..32)."""
        return [o.pre_merge.view(o.pre_merge.shape[0], *o.pre_hw, -1)
                for o in self.forward_stages(x)]

    @staticmethod
    def _to_map(tokens: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], *hw)

    def forward(self, x: torch.Tensor, tasks: Sequence[str] | None = None
                ) -> list[torch.Tensor] | dict[str, list[torch.Tensor]]:
        """Multi-scale post-merge features.

        Args:
            x: images ``[B, C, H, W]`` (any size; grids are padded internally).
            tasks: task names, or ``None``.

        Returns:
            ``{task: [f1, f2, f3, f4]}`` with ``f_i`` of shape ``[B, C_i, H_i, W_i]``; a stage
            without task streams gives its shared tensor to every task. With ``tasks=None``
            the list of shared features.

        Raises:
            KeyError: when a stage produced task streams but none for a requested task.
        """
        if isinstance(tasks, str):
            tasks = [tasks]
        stages = self.forward_stages(x)
        shared = [self._to_map(o.x, o.hw) for o in stages]
        if tasks is None:
            return shared
        result = {t: [] for t in tasks}
        for o, feat in zip(stages, shared):
            for t in tasks:
                if o.tasks is None:
                    result[t].append(feat)
                elif t in o.tasks:
                    result[t].append(self._to_map(o.tasks[t], o.hw))
                else:
                    raise KeyError(f'A stage produced task streams for {sorted(o.tasks)} '
                                   f'but not for {t!r}')
        return result
