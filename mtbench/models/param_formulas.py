"""Closed-form parameter counts of mtbench's building blocks.

These are written from the architecture definitions, independently of the modules, so that tests
can compare them with counts taken from built models.
"""
from typing import Sequence

__all__ = ['swin_block_params', 'swin_num_params', 'fusion_head_params']


def swin_block_params(dim: int, num_heads: int, window: int, mlp_ratio: float = 4.0) -> int:
    """One Swin block: two LayerNorms, qkv and proj (with bias), rel-pos table, the MLP."""
    hidden = int(dim * mlp_ratio)
    norms = 2 * 2 * dim
    attn = (3 * dim * dim + 3 * dim) + (dim * dim + dim) + (2 * window - 1) ** 2 * num_heads
    mlp = (dim * hidden + hidden) + (hidden * dim + dim)
    return norms + attn + mlp


def swin_num_params(embed_dims: int, depths: Sequence[int], num_heads: Sequence[int],
                    window_sizes: Sequence[int], patch_size: int = 4, in_channels: int = 3,
                    mlp_ratio: float = 4.0) -> int:
    """Swin backbone without classifier head and without final norm.

    Patch embedding (conv + LayerNorm), the blocks of every stage, and a patch merging
    (LayerNorm over 4C + bias-free 4C -> 2C reduction) after every stage but the last.

    Example:
        >>> swin_num_params(96, [2, 2, 6, 2], [3, 6, 12, 24], [7, 7, 7, 7])  # Swin-T
        27517818
    """
    total = in_channels * embed_dims * patch_size ** 2 + embed_dims + 2 * embed_dims
    dim = embed_dims
    for i, (depth, heads, window) in enumerate(zip(depths, num_heads, window_sizes)):
        total += depth * swin_block_params(dim, heads, window, mlp_ratio)
        if i < len(depths) - 1:
            total += 2 * 4 * dim + 4 * dim * 2 * dim
            dim *= 2
    return total


def fusion_head_params(in_channels: Sequence[int], reduce_channels: Sequence[int],
                       out_channels: int, hidden_ratio: int = 4) -> int:
    """:class:`~mtbench.models.decoders.HRNetFusionHead`: reductions, fuse conv, BN, classifier.

    Example:
        >>> fusion_head_params([192, 384, 768, 768], [18, 36, 72, 144], 21)  # PASCAL semseg
        500709
    """
    fused = sum(reduce_channels)
    hidden = hidden_ratio * fused
    reductions = sum(c * r for c, r in zip(in_channels, reduce_channels))
    return reductions + fused * hidden + hidden + 2 * hidden + hidden * out_channels + out_channels
