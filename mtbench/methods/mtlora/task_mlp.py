"""The task streams of an MTLoRA block's MLP as one autograd function, computed in row chunks.

For every task ``t`` (all tasks at once, batched), with the shared ``norm2`` parameters and the
frozen weights' shared outputs ``base1 = W1 n + b1`` and ``base2 = W2 a + b2`` (MTLoRA's
``matrix`` mode: the frozen weights see the shared stream):

    y_t = base2 + (s B2_t) A2_t GELU(base1 + (s B1_t) A1_t LayerNorm(h_t))

Each task's ``[N, 4C]`` hidden activations are what make MTLoRA's task paths expensive: with
plain autograd every one is written to memory, read back by GELU, kept for the backward pass and
read again there, several times over. Here rows are processed in chunks small enough to stay in
the CPU cache, the hidden activations are never stored (the backward pass recomputes them per
chunk from ``base1`` and the rank-``r`` products), and only ``h_t`` and the ``[T, N, r]`` products
are saved. The arithmetic is that of the unfused expression (sums over chunks aside).
"""
from typing import Tuple

import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

__all__ = ['task_mlp', 'CHUNK_ELEMENTS']

#: Elements of one ``[T, rows, 4C]`` chunk (float32: 4 MiB), sized for a CPU's L2/L3 cache.
CHUNK_ELEMENTS = 1 << 20


def _chunks(n: int, tasks: int, hidden: int):
    rows = max(1, CHUNK_ELEMENTS // (tasks * hidden))
    return [slice(i, min(i + rows, n)) for i in range(0, n, rows)]


def _hidden(base1: torch.Tensor, low1: torch.Tensor, b1: torch.Tensor) -> torch.Tensor:
    """``base1 + low1 @ b1^T`` for every task: ``[T, rows, H]``."""
    return torch.baddbmm(base1.unsqueeze(0).expand(low1.shape[0], -1, -1), low1,
                         b1.transpose(1, 2))


class _TaskMLP(torch.autograd.Function):

    @staticmethod
    def forward(ctx, h, base1, base2, ln_weight, ln_bias, a1, b1, a2, b2, eps):
        tasks, n, c = h.shape
        out = torch.empty_like(h)
        low1 = h.new_empty(tasks, n, a1.shape[1])
        low2 = h.new_empty(tasks, n, a2.shape[1])
        for rows in _chunks(n, tasks, base1.shape[1]):
            normed = F.layer_norm(h[:, rows], (c,), ln_weight, ln_bias, eps)
            low1[:, rows] = torch.bmm(normed, a1.transpose(1, 2))
            act = F.gelu(_hidden(base1[rows], low1[:, rows], b1))
            low2[:, rows] = torch.bmm(act, a2.transpose(1, 2))
            out[:, rows] = torch.baddbmm(base2[rows].unsqueeze(0).expand(tasks, -1, -1),
                                         low2[:, rows], b2.transpose(1, 2))
        ctx.save_for_backward(h, base1, ln_weight, ln_bias, a1, b1, a2, b2, low1, low2)
        ctx.eps = eps
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        h, base1, ln_weight, ln_bias, a1, b1, a2, b2, low1, low2 = ctx.saved_tensors
        tasks, n, c = h.shape
        grad_out = grad_out.contiguous()
        grad_base2 = grad_out.sum(0)
        grad_low2 = torch.bmm(grad_out, b2)
        grad_b2 = torch.bmm(grad_out.transpose(1, 2), low2)
        grad_h = torch.empty_like(h)
        grad_base1 = torch.empty_like(base1)
        grad_a1, grad_b1, grad_a2 = (torch.zeros_like(t) for t in (a1, b1, a2))
        grad_ln_weight, grad_ln_bias = torch.zeros_like(ln_weight), torch.zeros_like(ln_bias)
        for rows in _chunks(n, tasks, base1.shape[1]):
            h_rows = h[:, rows].contiguous()
            normed, mean, rstd = torch.native_layer_norm(h_rows, (c,), ln_weight, ln_bias,
                                                         ctx.eps)
            hidden = _hidden(base1[rows], low1[:, rows], b1)
            grad_a2.baddbmm_(grad_low2[:, rows].transpose(1, 2), F.gelu(hidden))
            grad_hidden = torch.ops.aten.gelu_backward(torch.bmm(grad_low2[:, rows], a2), hidden)
            torch.sum(grad_hidden, 0, out=grad_base1[rows])
            grad_b1.baddbmm_(grad_hidden.transpose(1, 2), low1[:, rows])
            grad_low1 = torch.bmm(grad_hidden, b1)
            grad_a1.baddbmm_(grad_low1.transpose(1, 2), normed)
            grad_h_rows, grad_w, grad_b = torch.ops.aten.native_layer_norm_backward(
                torch.bmm(grad_low1, a1), h_rows, (c,), mean, rstd, ln_weight, ln_bias,
                (True, True, True))
            grad_h[:, rows] = grad_h_rows
            grad_ln_weight += grad_w
            grad_ln_bias += grad_b
        return (grad_h, grad_base1, grad_base2, grad_ln_weight, grad_ln_bias, grad_a1, grad_b1,
                grad_a2, grad_b2, None)


def task_mlp(h: torch.Tensor, base1: torch.Tensor, base2: torch.Tensor,
             norm: torch.nn.LayerNorm, fc1_factors: Tuple[torch.Tensor, torch.Tensor],
             fc2_factors: Tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """MLP outputs (before the residual) of all task streams, ``[T, N, C]``.

    Args:
        h: task-stream tokens ``[T, N, C]`` (the MLP's residual input).
        base1: ``[N, 4C]``, what ``fc1``'s frozen weight gives on the shared stream (in
            ``matrixv2`` mode: the shared ``fc1`` output).
        base2: ``[N, C]``, the same for ``fc2``.
        norm: the block's ``norm2``.
        fc1_factors: ``A1`` ``[T, r, C]`` and ``s B1`` ``[T, 4C, r]`` (see
            :meth:`MTLoRALinear.task_factors`).
        fc2_factors: ``A2`` ``[T, r, 4C]`` and ``s B2`` ``[T, C, r]``.
    """
    return _TaskMLP.apply(h, base1, base2, norm.weight, norm.bias, *fc1_factors, *fc2_factors,
                          norm.eps)
