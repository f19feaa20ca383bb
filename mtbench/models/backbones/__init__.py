"""Backbones: mtbench's Swin Transformer and its checkpoint conversion."""
from .swin import ARCH_SETTINGS, PatchEmbed, SwinTransformer, resolve_arch, stage_window_config
from .swin_attention import WindowAttention, shifted_window_attention
from .swin_blocks import BasicLayer, DropPath, Mlp, PatchMerging, StageOutput, SwinBlock
from .swin_checkpoint import (
    SwinConversion,
    convert_swin_checkpoint,
    convert_swin_state_dict,
    detect_swin_layout,
    load_swin_pretrained,
    resize_relative_position_bias_table,
)
from .swin_ops import (
    compute_shift_mask,
    relative_position_index,
    tokens_to_windows,
    window_partition,
    window_reverse,
    windows_to_tokens,
)

__all__ = [
    'ARCH_SETTINGS', 'BasicLayer', 'DropPath', 'Mlp', 'PatchEmbed', 'PatchMerging',
    'StageOutput', 'SwinBlock', 'SwinConversion', 'SwinTransformer', 'WindowAttention',
    'compute_shift_mask', 'convert_swin_checkpoint', 'convert_swin_state_dict',
    'detect_swin_layout', 'load_swin_pretrained', 'relative_position_index',
    'resize_relative_position_bias_table', 'resolve_arch', 'shifted_window_attention',
    'stage_window_config', 'tokens_to_windows', 'window_partition', 'window_reverse',
    'windows_to_tokens',
]
