"""Swin Transformer building blocks with mtbench's extension points.

Module and parameter names follow the official Swin layout (``norm1``, ``attn.qkv``,
``attn.proj``, ``attn.relative_position_bias_table``, ``norm2``, ``mlp.fc1``, ``mlp.fc2``,
``downsample.norm``, ``downsample.reduction``). Every linear site is a plain ``nn.Linear`` that
a fine-tuning method may replace with any module of the same call signature.

Tokens travel as ``[B, H*W, C]`` together with their grid ``hw = (H, W)``.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, Union

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from .swin_attention import WindowAttention, shifted_window_attention

__all__ = ['BasicLayer', 'DropPath', 'Mlp', 'PatchMerging', 'StageOutput', 'SwinBlock']

TaskTokens = dict[str, torch.Tensor]
BlockOutput = Union[torch.Tensor, tuple[torch.Tensor, TaskTokens]]


class DropPath(nn.Module):
    """Stochastic depth per sample (identity in eval mode or with ``p == 0``).

    Args:
        p: probability of dropping the residual branch of a sample.
    """

    def __init__(self, p: float = 0.0):
        super().__init__()
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Drop whole samples of ``x`` with probability ``p`` and rescale the kept ones."""
        if self.p == 0.0 or not self.training:
            return x
        keep = 1.0 - self.p
        shape = (x.shape[0],) + (1,) * (x.dim() - 1)
        return x * x.new_empty(shape).bernoulli_(keep).div_(keep)

    def extra_repr(self) -> str:
        return f'p={self.p}'


class Mlp(nn.Module):
    """Two-layer GELU MLP (``fc1`` -> GELU -> dropout -> ``fc2`` -> dropout).

    Args:
        dim: input and output channels.
        hidden_dim: hidden channels.
        drop: dropout probability.
    """

    def __init__(self, dim: int, hidden_dim: int, drop: float = 0.0):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden_dim)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden_dim, dim)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the MLP to the last dimension of ``x``."""
        return self.drop(self.fc2(self.drop(self.act(self.fc1(x)))))


class SwinBlock(nn.Module):
    """One Swin Transformer block: (S)W-MSA and MLP, each pre-norm with a residual.

    Args:
        dim: channels.
        num_heads: attention heads.
        window_size: window side.
        shift_size: cyclic shift (0 for W-MSA, ``window_size // 2`` for SW-MSA).
        mlp_ratio: MLP hidden width / ``dim``.
        qkv_bias: whether ``attn.qkv`` has a bias.
        drop: dropout after ``attn.proj`` and inside the MLP.
        attn_drop: attention dropout.
        drop_path: stochastic-depth probability.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int = 7, shift_size: int = 0,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop: float = 0.0,
                 attn_drop: float = 0.0, drop_path: float = 0.0):
        super().__init__()
        if not 0 <= shift_size < max(window_size, 1):
            raise ValueError(f'shift_size {shift_size} must be in [0, {window_size})')
        self.dim = dim
        self.window_size = window_size
        self.shift_size = shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, num_heads, window_size, qkv_bias, attn_drop, drop)
        self.drop_path = DropPath(drop_path)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop)

    def attention_branch(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """``attn`` applied over (shifted) windows of ``norm1(x)``, before the residual."""
        return shifted_window_attention(self.attn, self.norm1(x), hw, self.window_size,
                                        self.shift_size)

    def mlp_branch(self, x: torch.Tensor) -> torch.Tensor:
        """``mlp(norm2(x))``, before the residual."""
        return self.mlp(self.norm2(x))

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> BlockOutput:
        """Apply the block.

        Args:
            x: tokens ``[B, H*W, C]``.
            hw: ``(H, W)``.

        Returns:
            Tokens of the same shape. A subclass may instead return
            ``(shared_tokens, {task: tokens})``; see :class:`BasicLayer`.
        """
        x = x + self.drop_path(self.attention_branch(x, hw))
        return x + self.drop_path(self.mlp_branch(x))


class PatchMerging(nn.Module):
    """Concatenate each 2x2 neighbourhood (official order), LayerNorm, reduce 4C -> 2C.

    The concatenation order is ``x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2]``
    (row offset first). Odd grids are zero-padded at the bottom/right.

    Args:
        dim: input channels ``C``.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim
        self.norm = nn.LayerNorm(4 * dim)
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)

    def forward(self, x: torch.Tensor, hw: tuple[int, int]
                ) -> tuple[torch.Tensor, tuple[int, int]]:
        """Merge 2x2 neighbourhoods.

        Args:
            x: tokens ``[B, H*W, C]``.
            hw: ``(H, W)``.

        Returns:
            ``([B, H'*W', 2C], (H', W'))`` with ``H' = ceil(H / 2)``, ``W' = ceil(W / 2)``.
        """
        b, _, c = x.shape
        h, w = hw
        grid = x.view(b, h, w, c)
        if h % 2 or w % 2:
            grid = F.pad(grid, (0, 0, 0, w % 2, 0, h % 2))
        h2, w2 = grid.shape[1] // 2, grid.shape[2] // 2
        # [B, h2, dy, w2, dx, C] -> [B, h2, w2, dx, dy, C] flattens to (0,0),(1,0),(0,1),(1,1).
        grid = grid.view(b, h2, 2, w2, 2, c).permute(0, 1, 3, 4, 2, 5)
        out = self.reduction(self.norm(grid.reshape(b, h2 * w2, 4 * c)))
        return out, (h2, w2)


class StageOutput(NamedTuple):
    """What a :class:`BasicLayer` returns.

    Attributes:
        x: shared tokens after the stage's merging (the next stage's input).
        hw: grid of ``x``.
        tasks: ``{task: tokens}`` merged task streams, or ``None`` without task streams.
        pre_merge: shared tokens before merging.
        pre_hw: grid of ``pre_merge``.
    """

    x: torch.Tensor
    hw: tuple[int, int]
    tasks: TaskTokens | None
    pre_merge: torch.Tensor
    pre_hw: tuple[int, int]


class BasicLayer(nn.Module):
    """One stage: ``blocks`` then an optional ``downsample`` (PatchMerging) at the end.

    Blocks alternate regular and shifted windows. A block may return
    ``(shared, {task: tokens})``: the shared stream feeds the next block, and the task streams
    of the last block that produced them are merged by the same ``downsample``.

    Args:
        dim: channels.
        depth: number of blocks.
        num_heads: attention heads.
        window_size: window side of this stage.
        shift_size: shift of the odd blocks (0 disables shifting).
        mlp_ratio: MLP ratio.
        qkv_bias: qkv bias.
        drop_path: per-block stochastic-depth probabilities (or one float).
        downsample: whether the stage ends with a :class:`PatchMerging`.
        with_cp: use activation checkpointing for the blocks when training.
        drop: dropout; attn_drop: attention dropout.
    """

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, shift_size: int,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float | Sequence[float] = 0.0, downsample: bool = False,
                 with_cp: bool = False, drop: float = 0.0, attn_drop: float = 0.0):
        super().__init__()
        if isinstance(drop_path, (int, float)):
            drop_path = [float(drop_path)] * depth
        self.dim = dim
        self.with_cp = with_cp
        self.blocks = nn.ModuleList([
            SwinBlock(dim, num_heads, window_size, shift_size if i % 2 else 0, mlp_ratio,
                      qkv_bias, drop, attn_drop, drop_path[i]) for i in range(depth)])
        self.downsample = PatchMerging(dim) if downsample else None

    def forward_blocks(self, x: torch.Tensor, hw: tuple[int, int]
                       ) -> tuple[torch.Tensor, TaskTokens | None]:
        """Run the blocks; returns ``(shared tokens, task tokens or None)`` before merging."""
        tasks = None
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                out = checkpoint(blk, x, hw, use_reentrant=False)
            else:
                out = blk(x, hw)
            if isinstance(out, tuple):
                x, tasks = out
            else:
                x = out
        return x, tasks

    def merge(self, x: torch.Tensor, tasks: TaskTokens | None, hw: tuple[int, int]
              ) -> tuple[torch.Tensor, TaskTokens | None, tuple[int, int]]:
        """Apply ``downsample`` to the shared stream and to every task stream."""
        if self.downsample is None:
            return x, tasks, hw
        merged, out_hw = self.downsample(x, hw)
        if tasks is not None:
            tasks = {t: self.downsample(v, hw)[0] for t, v in tasks.items()}
        return merged, tasks, out_hw

    def forward(self, x: torch.Tensor, hw: tuple[int, int]) -> StageOutput:
        """Run the stage.

        Args:
            x: tokens ``[B, H*W, C]``.
            hw: ``(H, W)``.

        Returns:
            A :class:`StageOutput`.
        """
        pre, tasks = self.forward_blocks(x, hw)
        merged, tasks, out_hw = self.merge(pre, tasks, hw)
        return StageOutput(merged, out_hw, tasks, pre, hw)
