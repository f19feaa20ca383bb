"""Swin blocks and stages converted in place for MTLoRA's per-task streams.

A task-specific block (the last block of each stage, or every block with intermediate
specialisation) runs its shared and task streams stacked along the batch dimension (see
:mod:`mtbench.methods.mtlora.layer`): the attention runs once on the shared stream, its ``proj``
emits ``1 + T`` streams, and ``norm2``/``fc1``/GELU/``fc2`` then process all streams in one call.
The block returns ``(shared, {task: tokens})`` as the backbone contract allows; the stage merges
every stream with the one shared :class:`PatchMerging` in a single batched call.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch

from mtbench.models.backbones import BasicLayer, SwinBlock

__all__ = ['MTLoRABlock', 'MTLoRAStage']


class MTLoRABlock(SwinBlock):
    """A :class:`SwinBlock` that also produces one output stream per task.

    With shared input ``x`` (shortcut), attention context ``a`` and ``proj`` outputs ``p``
    (shared) and ``p_t`` (tasks):

    * ``h = x + DropPath(p)``, ``h_t = x + DropPath(p_t)``;
    * ``y = h + DropPath(fc2(GELU(fc1(norm2(h)))))`` and the same for every ``h_t``, where the
      MTLoRA ``fc1``/``fc2`` apply the frozen weight to the shared activation and the task LoRA
      to the task activation (``norm2`` is shared).

    A site without task LoRA (disabled site, plain ``nn.Linear``) applies its shared function to
    every stream. Parameter names are unchanged by the conversion.
    """

    mtlora_tasks: Tuple[str, ...]

    @classmethod
    def convert(cls, block: SwinBlock, tasks: Sequence[str]) -> 'MTLoRABlock':
        """Turn ``block`` into an MTLoRA block in place."""
        block.__class__ = cls
        block.mtlora_tasks = tuple(tasks)
        return block

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Apply the block; returns ``(shared tokens, {task: tokens})``, each ``[B, H*W, C]``."""
        b, length, c = x.shape
        streams = 1 + len(self.mtlora_tasks)
        attn = self.attention_branch(x, hw)
        if attn.shape[0] == b:  # proj has no task LoRA: every task stream starts as the shared
            attn = attn.repeat(streams, 1, 1)
        h = (x.unsqueeze(0) + self.drop_path(attn).view(streams, b, length, c)).flatten(0, 1)
        mlp = self.mlp
        act = mlp.drop(mlp.act(mlp.fc1(self.norm2(h))))
        # An MTLoRA fc2 with task LoRA keeps the streams apart (frozen weight on the shared
        # activation, each task's own LoRA on its activation) and returns them stacked.
        chunks = (h + self.drop_path(mlp.drop(mlp.fc2(act)))).split(b)
        return chunks[0], dict(zip(self.mtlora_tasks, chunks[1:]))


class MTLoRAStage(BasicLayer):
    """A :class:`BasicLayer` that merges the shared and all task streams in one call."""

    @classmethod
    def convert(cls, layer: BasicLayer) -> 'MTLoRAStage':
        """Turn ``layer`` into an MTLoRA stage in place."""
        layer.__class__ = cls
        return layer

    def merge(self, x: torch.Tensor, tasks: Optional[Dict[str, torch.Tensor]],
              hw: Tuple[int, int]):
        """Apply the shared ``downsample`` to ``x`` and every task stream (batched)."""
        if self.downsample is None or not tasks:
            return super().merge(x, tasks, hw)
        merged, out_hw = self.downsample(torch.cat([x, *tasks.values()]), hw)
        chunks = merged.split(x.shape[0])
        return chunks[0], dict(zip(tasks, chunks[1:])), out_hw
