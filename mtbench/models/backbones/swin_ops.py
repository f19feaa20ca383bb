"""Window helpers shared by mtbench's Swin blocks and by methods that re-implement a block.

Token grids are kept as ``[B, H, W, C]`` (channels last) inside these helpers, and windows as
``[B * nW, ws * ws, C]`` with the windows of one image contiguous and in row-major order
(window index ``b * nW + wh * nWw + ww``), which is the order the official Swin code uses.

Padding follows mmseg's Swin: the grid is zero-padded at the bottom/right to a multiple of the
window *before* the cyclic shift, and the shift mask is computed for the padded grid.
"""
from __future__ import annotations

from functools import lru_cache

import torch
import torch.nn.functional as F

__all__ = [
    'MASK_VALUE',
    'compute_shift_mask',
    'pad_to_window',
    'relative_position_index',
    'tokens_to_windows',
    'window_partition',
    'window_reverse',
    'windows_to_tokens',
]

#: Additive value used by the official code for token pairs in different shifted sub-windows.
MASK_VALUE = -100.0


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Split a padded grid into non-overlapping windows.

    Args:
        x: ``[B, H, W, C]`` with ``H`` and ``W`` multiples of ``window_size``.
        window_size: side of a square window.

    Returns:
        ``[B * nW, window_size ** 2, C]`` windows, row-major inside each window.
    """
    b, h, w, c = x.shape
    ws = window_size
    x = x.view(b, h // ws, ws, w // ws, ws, c).transpose(2, 3)
    return x.reshape(-1, ws * ws, c)


def window_reverse(windows: torch.Tensor, window_size: int, height: int,
                   width: int) -> torch.Tensor:
    """Inverse of :func:`window_partition`.

    Args:
        windows: ``[B * nW, window_size ** 2, C]`` (or ``[B * nW, ws, ws, C]``).
        window_size: side of a square window.
        height: padded grid height (a multiple of ``window_size``).
        width: padded grid width (a multiple of ``window_size``).

    Returns:
        ``[B, height, width, C]``.
    """
    ws = window_size
    c = windows.shape[-1]
    n_h, n_w = height // ws, width // ws
    x = windows.reshape(-1, n_h, n_w, ws, ws, c).transpose(2, 3)
    return x.reshape(-1, height, width, c)


def relative_position_index(window_size: int) -> torch.Tensor:
    """Index into the ``(2w-1)^2`` relative-position table for every token pair of a window.

    Args:
        window_size: side of a square window ``w``.

    Returns:
        int64 ``[w*w, w*w]``; entry ``(i, j)`` is ``(dy + w - 1) * (2w - 1) + (dx + w - 1)``
        with ``(dy, dx)`` the offset of token ``i`` from token ``j``.
    """
    w = window_size
    ys, xs = torch.meshgrid(torch.arange(w), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    dy = ys[:, None] - ys[None, :] + (w - 1)
    dx = xs[:, None] - xs[None, :] + (w - 1)
    return dy * (2 * w - 1) + dx


@lru_cache(maxsize=64)
def _shift_mask_cached(height: int, width: int, window_size: int, shift_size: int,
                       device: torch.device) -> torch.Tensor:
    ws, s = window_size, shift_size
    # Label the nine regions produced by the cyclic shift; tokens of one window that came from
    # different regions must not attend to each other.
    bounds = ((0, -ws), (-ws, -s), (-s, None))
    labels = torch.zeros(1, height, width, 1, device=device)
    region = 0
    for h0, h1 in bounds:
        for w0, w1 in bounds:
            labels[:, h0:h1, w0:w1, :] = region
            region += 1
    lab = window_partition(labels, ws).squeeze(-1)  # [nW, N]
    diff = lab[:, None, :] != lab[:, :, None]
    mask = torch.zeros(diff.shape, device=device)
    return mask.masked_fill_(diff, MASK_VALUE)


def compute_shift_mask(height: int, width: int, window_size: int, shift_size: int,
                       device=None) -> torch.Tensor | None:
    """Additive attention mask of the shifted-window scheme for a padded grid (cached by shape).

    Args:
        height: padded grid height (a multiple of ``window_size``).
        width: padded grid width (a multiple of ``window_size``).
        window_size: window side.
        shift_size: cyclic shift; 0 gives ``None``.
        device: device of the mask.

    Returns:
        float32 ``[nW, N, N]`` of 0 / -100 (``N = window_size ** 2``), or ``None`` without shift.
        The tensor is shared by the cache: do not modify it in place.
    """
    if shift_size == 0:
        return None
    return _shift_mask_cached(int(height), int(width), int(window_size), int(shift_size),
                              torch.device(device if device is not None else 'cpu'))


def pad_to_window(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """Zero-pad a ``[B, H, W, C]`` grid at the bottom/right to multiples of ``window_size``."""
    _, h, w, _ = x.shape
    pad_h = (-h) % window_size
    pad_w = (-w) % window_size
    if pad_h or pad_w:
        x = F.pad(x, (0, 0, 0, pad_w, 0, pad_h))
    return x


def tokens_to_windows(x: torch.Tensor, hw: tuple[int, int], window_size: int, shift_size: int
                      ) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, int]]:
    """Pad, cyclically shift and partition tokens into windows.

    Args:
        x: tokens ``[B, H*W, C]`` (row-major).
        hw: ``(H, W)``.
        window_size: window side.
        shift_size: cyclic shift (0 for regular windows).

    Returns:
        ``(windows [B*nW, ws*ws, C], mask [nW, N, N] or None, (Hp, Wp))``.
    """
    b, _, c = x.shape
    grid = pad_to_window(x.view(b, hw[0], hw[1], c), window_size)
    hp, wp = grid.shape[1], grid.shape[2]
    if shift_size:
        grid = torch.roll(grid, shifts=(-shift_size, -shift_size), dims=(1, 2))
    mask = compute_shift_mask(hp, wp, window_size, shift_size, x.device)
    return window_partition(grid, window_size), mask, (hp, wp)


def windows_to_tokens(windows: torch.Tensor, hw: tuple[int, int], padded_hw: tuple[int, int],
                      window_size: int, shift_size: int) -> torch.Tensor:
    """Inverse of :func:`tokens_to_windows`: reverse windows, undo the shift, crop the padding.

    Args:
        windows: ``[B*nW, ws*ws, C]``.
        hw: unpadded ``(H, W)``.
        padded_hw: ``(Hp, Wp)`` returned by :func:`tokens_to_windows`.
        window_size: window side.
        shift_size: cyclic shift used by :func:`tokens_to_windows`.

    Returns:
        tokens ``[B, H*W, C]``.
    """
    grid = window_reverse(windows, window_size, *padded_hw)
    if shift_size:
        grid = torch.roll(grid, shifts=(shift_size, shift_size), dims=(1, 2))
    h, w = hw
    if padded_hw != (h, w):
        grid = grid[:, :h, :w, :]
    return grid.reshape(grid.shape[0], h * w, grid.shape[-1])
