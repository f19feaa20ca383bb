"""``GELU(base + low @ up^T) @ down^T`` for several task streams, without storing the hidden layer.

Multi-task LoRA methods (MTLoRA, TADFormer) give every task its own MLP hidden activations
``[N, 4C]`` that differ from the shared pre-activation ``base`` only by a rank-``r`` update, and
that are read only through a rank-``r`` down-projection. With plain autograd each task's hidden
layer is written to memory, kept for the backward pass and read back several times: on a CPU
that memory traffic, not arithmetic, dominates those methods' training step.

:func:`gelu_lowrank` computes the same expression in row chunks small enough to stay in the CPU
cache, stores only its inputs, and recomputes each chunk's hidden layer in the backward pass.
The arithmetic is that of the unfused expression (chunked sums of the weight gradients aside).

Example:
    >>> base, low = torch.randn(10, 32), torch.randn(3, 10, 4)
    >>> up, down = torch.randn(3, 32, 4), torch.randn(3, 2, 32)
    >>> gelu_lowrank(base, low, up, down).shape
    torch.Size([3, 10, 2])
"""
import torch
import torch.nn.functional as F
from torch.autograd.function import once_differentiable

from mtbench.methods.amp import autocast_inputs

__all__ = ['gelu_lowrank', 'is_plain_gelu_mlp', 'CHUNK_ELEMENTS']

#: Elements of one ``[T, rows, H]`` chunk (float32: 4 MiB), sized for a CPU's L2/L3 cache.
CHUNK_ELEMENTS = 1 << 20


def _row_chunks(n: int, tasks: int, hidden: int):
    rows = max(1, CHUNK_ELEMENTS // (tasks * hidden))
    return [slice(i, min(i + rows, n)) for i in range(0, n, rows)]


def _hidden(base: torch.Tensor, low: torch.Tensor, up: torch.Tensor) -> torch.Tensor:
    return torch.baddbmm(base.unsqueeze(0).expand(low.shape[0], -1, -1), low, up.transpose(1, 2))


class _GeluLowRank(torch.autograd.Function):

    @staticmethod
    def forward(ctx, base, low, up, down):
        tasks, n, _ = low.shape
        out = low.new_empty(tasks, n, down.shape[1])
        for rows in _row_chunks(n, tasks, base.shape[1]):
            out[:, rows] = torch.bmm(F.gelu(_hidden(base[rows], low[:, rows], up)),
                                     down.transpose(1, 2))
        ctx.save_for_backward(base, low, up, down)
        return out

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        base, low, up, down = ctx.saved_tensors
        tasks, n, _ = low.shape
        grad_base, grad_low = torch.empty_like(base), torch.empty_like(low)
        grad_up, grad_down = torch.zeros_like(up), torch.zeros_like(down)
        for rows in _row_chunks(n, tasks, base.shape[1]):
            hidden = _hidden(base[rows], low[:, rows], up)
            grad_down.baddbmm_(grad_out[:, rows].transpose(1, 2), F.gelu(hidden))
            grad_hidden = torch.ops.aten.gelu_backward(torch.bmm(grad_out[:, rows], down), hidden)
            torch.sum(grad_hidden, 0, out=grad_base[rows])
            grad_up.baddbmm_(grad_hidden.transpose(1, 2), low[:, rows])
            grad_low[:, rows] = torch.bmm(grad_hidden, up)
        return grad_base, grad_low, grad_up, grad_down


def is_plain_gelu_mlp(mlp: torch.nn.Module) -> bool:
    """Whether a Swin ``Mlp``'s hidden layer is what :func:`gelu_lowrank` computes: exact GELU
    and no active dropout."""
    drop = mlp.drop
    return (isinstance(mlp.act, torch.nn.GELU) and mlp.act.approximate == 'none'
            and not (isinstance(drop, torch.nn.Dropout) and drop.p > 0 and drop.training))


def gelu_lowrank(base: torch.Tensor, low: torch.Tensor, up: torch.Tensor,
                 down: torch.Tensor) -> torch.Tensor:
    """``GELU(base + low_t @ up_t^T) @ down_t^T`` for every task ``t`` (exact GELU).

    Args:
        base: pre-activation shared by the tasks, ``[N, H]``.
        low: the tasks' rank-``r1`` inputs ``[T, N, r1]``.
        up: ``[T, H, r1]``, or ``[H, r1]`` shared by the tasks.
        down: ``[T, r2, H]``, or ``[r2, H]`` shared by the tasks.

    Returns:
        ``[T, N, r2]``.
    """
    base, low, up, down = autocast_inputs(base, low, up, down)
    tasks = low.shape[0]
    if up.dim() == 2:
        up = up.unsqueeze(0).expand(tasks, -1, -1)
    if down.dim() == 2:
        down = down.unsqueeze(0).expand(tasks, -1, -1)
    return _GeluLowRank.apply(base, low.contiguous(), up.contiguous(), down.contiguous())
