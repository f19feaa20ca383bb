"""Swin blocks and stages converted in place for VMT-Adapter.

Every block keeps one shared stream. A :class:`VMTBlock` adds its adapter's task-generic output
to the MLP output of that stream (the adapter sits in parallel to the MLP) and returns, besides,
the task deltas of its knowledge-extraction modules. A :class:`VMTStage` adds the deltas of its
blocks to the shared stream at the end of the stage, which gives each task its own stream; the
stage merges all of them with the one PatchMerging in a single batched call (inherited from
:class:`~mtbench.methods.mtlora.MTLoRAStage`). Attention, MLP and merging weights run on the
shared stream only, so the frozen backbone costs the same for any number of tasks.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
from torch.utils.checkpoint import checkpoint

from mtbench.methods.mtlora.blocks import MTLoRAStage
from mtbench.models.backbones import SwinBlock

from .layer import VMTAdapterModule

__all__ = ['ADAPTER_INPUTS', 'VMTBlock', 'VMTStage']

#: What the adapter reads: the residual stream ``h`` before ``norm2`` (AdaptFormer's parallel
#: adapter), or the MLP's own input ``norm2(h)``.
ADAPTER_INPUTS = ('residual', 'norm')


class VMTBlock(SwinBlock):
    """A :class:`SwinBlock` with a :class:`VMTAdapterModule` in parallel to its MLP.

    With input ``x``, ``h = x + DropPath(attn(norm1(x)))`` and ``a`` the adapter input (``h`` or
    ``norm2(h)``, see ``ADAPTER_INPUTS``)::

        y   = h + DropPath(mlp(norm2(h))) + g(a)        shared stream (task-generic)
        y_t = h + DropPath(mlp(norm2(h))) + g_t(a)      = y + (g_t(a) - g(a))

    As in AdaptFormer, the adapter output is added outside the stochastic depth of the MLP, so
    the block draws the same random numbers as a plain Swin block. Parameter names of the
    pretrained block are unchanged; the adapter is ``vmt_adapter``.
    """

    vmt_adapter: VMTAdapterModule
    vmt_adapter_input: str

    @classmethod
    def convert(cls, block: SwinBlock, adapter: VMTAdapterModule,
                adapter_input: str = 'residual') -> 'VMTBlock':
        """Turn ``block`` into a VMT block in place, with ``adapter`` as its ``vmt_adapter``."""
        if adapter_input not in ADAPTER_INPUTS:
            raise ValueError(f'VMT-Adapter adapter_input must be one of {ADAPTER_INPUTS}, '
                             f'got {adapter_input!r}')
        block.__class__ = cls
        block.vmt_adapter = adapter
        block.vmt_adapter_input = adapter_input
        return block

    def forward_streams(self, x: torch.Tensor, hw: Tuple[int, int]
                        ) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
        """``(y, deltas)``: the shared output ``[B, L, C]`` and ``y_t - y`` stacked over the
        adapter's tasks ``[T, B, L, C]`` (None when this block has no task modules)."""
        h = x + self.drop_path(self.attention_branch(x, hw))
        normed = self.norm2(h)
        adapter = self.vmt_adapter
        z = adapter.bottleneck(h if self.vmt_adapter_input == 'residual' else normed)
        y = h + self.drop_path(self.mlp(normed)) + adapter.generic_output(z)
        return y, adapter.task_deltas(z)

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]):
        """The shared tokens, or ``(shared, {task: tokens})`` if the block has task modules."""
        y, deltas = self.forward_streams(x, hw)
        if deltas is None:
            return y
        return y, dict(zip(self.vmt_adapter.tasks, (y + deltas).unbind(0)))


class VMTStage(MTLoRAStage):
    """A stage whose task streams are its shared output plus its blocks' task deltas.

    ``y_t = y + sum over the stage's blocks of (y_t^l - y^l)``: with task modules in the last
    block only, ``y_t`` is exactly that block's task output; with task modules in every block,
    every block's task-specific knowledge reaches the task's stream (the deltas are added, not
    fed through the following blocks).
    """

    vmt_tasks: Tuple[str, ...]

    @classmethod
    def convert(cls, layer, tasks: Sequence[str] = ()) -> 'VMTStage':
        """Turn ``layer`` (whose blocks are :class:`VMTBlock`) into a VMT stage in place."""
        layer.__class__ = cls
        layer.vmt_tasks = tuple(tasks)
        return layer

    def forward_blocks(self, x: torch.Tensor, hw: Tuple[int, int]
                       ) -> Tuple[torch.Tensor, Optional[Dict[str, torch.Tensor]]]:
        """Run the blocks on the shared stream; ``(shared, {task: shared + deltas} or None)``."""
        total = None
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                x, deltas = checkpoint(blk.forward_streams, x, hw, use_reentrant=False)
            else:
                x, deltas = blk.forward_streams(x, hw)
            if deltas is not None:
                total = deltas if total is None else total + deltas
        if total is None:
            return x, None
        return x, dict(zip(self.vmt_tasks, (x + total).unbind(0)))
