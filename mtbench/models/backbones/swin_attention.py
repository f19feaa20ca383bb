"""Window attention with relative-position bias and optional prompt tokens.

:class:`WindowAttention` is the ``attn`` module of a Swin block; :func:`shifted_window_attention`
wraps any module with its call signature with the pad / shift / partition / reverse steps, so
that methods replacing a block or its attention can reuse them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .swin_ops import relative_position_index, tokens_to_windows, windows_to_tokens

__all__ = ['WindowAttention', 'shifted_window_attention']


class WindowAttention(nn.Module):
    """Multi-head self-attention inside windows with a learned relative-position bias.

    Args:
        dim: channels ``C``.
        num_heads: attention heads (head dim ``C // num_heads``, scale ``head_dim ** -0.5``).
        window_size: window side ``w``; the bias table has ``(2w-1)^2`` rows.
        qkv_bias: whether ``qkv`` has a bias.
        attn_drop: attention dropout.
        proj_drop: dropout after ``proj``.
    """

    def __init__(self, dim: int, num_heads: int, window_size: int, qkv_bias: bool = True,
                 attn_drop: float = 0.0, proj_drop: float = 0.0):
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'dim {dim} is not divisible by num_heads {num_heads}')
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = window_size
        self.attn_drop = attn_drop
        self.relative_position_bias_table = nn.Parameter(
            torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer('relative_position_index', relative_position_index(window_size),
                             persistent=False)
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def relative_position_bias(self) -> torch.Tensor:
        """The bias added to the token-token logits, ``[num_heads, N, N]``."""
        n = self.window_size ** 2
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        # Contiguous: fused SDPA kernels need a unit stride in the last dimension of the mask.
        return bias.view(n, n, self.num_heads).permute(2, 0, 1).contiguous()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                prompts: torch.Tensor | None = None) -> torch.Tensor:
        """Attend within windows: ``proj_drop(proj(context(x, mask, prompts)))``.

        Args:
            x: window tokens ``[B*nW, N, C]``.
            mask: additive shift mask ``[nW, N, N]`` (0 / -100) or ``None``.
            prompts: extra key/value tokens ``[B*nW, P, C]`` (see :meth:`context`).

        Returns:
            ``[B*nW, N, C]``.
        """
        return self.proj_drop(self.proj(self.context(x, mask, prompts)))

    def context(self, x: torch.Tensor, mask: torch.Tensor | None = None,
                prompts: torch.Tensor | None = None) -> torch.Tensor:
        """The attention output before ``proj``.

        Args:
            x: window tokens ``[B*nW, N, C]``.
            mask: additive shift mask ``[nW, N, N]`` (0 / -100) or ``None``.
            prompts: extra tokens ``[B*nW, P, C]`` that extend keys and values only. They pass
                through the same ``qkv`` call as the tokens; bias and mask apply to the
                token-token block only (prompt columns get neither).

        Returns:
            ``[B*nW, N, C]``.
        """
        bw, n, c = x.shape
        heads = self.num_heads
        inp = x if prompts is None else torch.cat([x, prompts.to(x.dtype)], dim=1)
        qkv = self.qkv(inp).reshape(bw, inp.shape[1], 3, heads, c // heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # [B*nW, heads, N(+P), d]
        q = q[:, :, :n]
        bias = self.relative_position_bias().unsqueeze(0)  # [1, heads, N, N]
        if mask is not None:
            # Fold the windows of an image into the head dimension: q/k/v become
            # [B, nW*heads, ., d] and the bias + mask [1, nW*heads, N, N] broadcasts over B.
            n_win = mask.shape[0]
            bias = (bias + mask.unsqueeze(1).to(bias.dtype)).reshape(1, n_win * heads, n, n)
            q, k, v = (t.reshape(bw // n_win, n_win * heads, *t.shape[2:]) for t in (q, k, v))
        if prompts is not None:
            bias = F.pad(bias, (0, prompts.shape[1]))
        bias = bias.to(q.dtype)
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=bias, dropout_p=self.attn_drop if self.training else 0.0)
        return out.reshape(bw, heads, n, c // heads).transpose(1, 2).reshape(bw, n, c)

    def extra_repr(self) -> str:
        return f'dim={self.dim}, num_heads={self.num_heads}, window_size={self.window_size}'


def shifted_window_attention(attn: nn.Module, x: torch.Tensor, hw: tuple[int, int],
                             window_size: int, shift_size: int,
                             prompts: torch.Tensor | None = None):
    """Run (shifted) window attention over a token grid.

    Pads the grid to multiples of the window, shifts it, partitions it, calls
    ``attn(windows, mask=mask, prompts=...)`` and undoes all of it.

    Args:
        attn: a :class:`WindowAttention` or any module with its call signature. If it returns a
            tuple, the first element is the window output and the rest is passed back as is.
        x: (normalised) tokens ``[B, H*W, C]``.
        hw: ``(H, W)``.
        window_size: window side.
        shift_size: cyclic shift (0 for regular windows).
        prompts: optional ``[B, P, C]`` prompt tokens, copied into every window.

    Returns:
        tokens ``[B, H*W, C]``, or ``(tokens, *extras)`` when ``attn`` returns a tuple.
    """
    windows, mask, padded = tokens_to_windows(x, hw, window_size, shift_size)
    kwargs = {}
    if prompts is not None:
        n_win = windows.shape[0] // x.shape[0]
        b, p, c = prompts.shape
        kwargs['prompts'] = prompts.unsqueeze(1).expand(b, n_win, p, c).reshape(b * n_win, p, c)
    out = attn(windows, mask=mask, **kwargs)
    extras = ()
    if isinstance(out, tuple):
        out, extras = out[0], tuple(out[1:])
    tokens = windows_to_tokens(out, hw, padded, window_size, shift_size)
    return (tokens, *extras) if extras else tokens
