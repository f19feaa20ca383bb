"""Swin blocks and stages converted in place for MTLoRA's per-task streams.

A task-specific block (the last block of each stage, or every block with intermediate
specialisation) runs its shared and task streams stacked along the batch dimension (see
:mod:`mtbench.methods.mtlora.layer`). The attention runs once on the shared stream, and its
``proj`` emits ``1 + T`` streams in token order. The MLP runs the shared stream through the
layers; the task streams' hidden layers, which differ from the shared one by a rank-``r`` term,
run in :func:`~mtbench.methods.gelu_lowrank.gelu_lowrank` without being stored. The block
returns ``(shared, {task: tokens})`` as the backbone contract allows; the stage merges every
stream with the one shared :class:`PatchMerging` in a single batched call.
"""
from typing import Dict, Optional, Sequence, Tuple

import torch

from mtbench.methods.gelu_lowrank import gelu_lowrank, is_plain_gelu_mlp
from mtbench.methods.mtlora.layer import MTLoRALinear
from mtbench.models.backbones import BasicLayer, SwinBlock
from mtbench.models.backbones.swin_attention import shifted_window_attention

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
        attn = self._attention_streams(x, hw)
        if attn.shape[0] == b:  # proj has no task LoRA: every task stream starts as the shared
            attn = attn.repeat(streams, 1, 1)
        h = (x.unsqueeze(0) + self.drop_path(attn).view(streams, b, length, c)).flatten(0, 1)
        mlp = self.mlp
        if self._fused_task_mlp():
            out = self._mlp_streams(h.view(streams, b * length, c)).view_as(h)
        else:
            # An MTLoRA fc2 with task LoRA keeps the streams apart (frozen weight on the shared
            # activation, each task's own LoRA on its activation) and returns them stacked.
            out = mlp.fc2(mlp.drop(mlp.act(mlp.fc1(self.norm2(h)))))
        chunks = (h + self.drop_path(mlp.drop(out))).split(b)
        return chunks[0], dict(zip(self.mtlora_tasks, chunks[1:]))

    def _attention_streams(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        """:meth:`attention_branch`, with ``proj`` applied in token order: the window attention
        runs on the shared stream only, so only its context (not the ``1 + T`` ``proj`` output
        streams) goes through the window reversal and the cyclic shift. ``proj`` acts on each
        token alone, so the result is the same."""
        context = shifted_window_attention(self.attn.context, self.norm1(x), hw,
                                           self.window_size, self.shift_size)
        return self.attn.proj_drop(self.attn.proj(context))

    def _fused_task_mlp(self) -> bool:
        """Whether the MLP fits :meth:`_mlp_streams` (MTLoRA on fc1 and fc2, exact GELU, no MLP
        dropout, frozen base weights); otherwise the stacked layers run it."""
        fc1, fc2, mlp = self.mlp.fc1, self.mlp.fc2, self.mlp
        return (isinstance(fc1, MTLoRALinear) and isinstance(fc2, MTLoRALinear)
                and bool(fc1.tasks) and fc1.tasks == fc2.tasks == self.mtlora_tasks
                and fc1.shared_mode == fc2.shared_mode
                and is_plain_gelu_mlp(mlp)
                and not fc1.linear.weight.requires_grad and not fc2.linear.weight.requires_grad)

    def _mlp_streams(self, h: torch.Tensor) -> torch.Tensor:
        """MLP outputs ``[1 + T, N, C]`` of the stacked streams ``h``: the shared stream by the
        layers, the task streams with their hidden layers in
        :func:`~mtbench.methods.gelu_lowrank.gelu_lowrank` (same equations as MTLoRALinear)."""
        fc1, fc2 = self.mlp.fc1, self.mlp.fc2
        h_shared, h_tasks = h.split([1, h.shape[0] - 1])
        h_shared = h_shared.squeeze(0)
        matrixv2 = fc1.shared_mode == 'matrixv2'
        normed = self.norm2(h_shared)
        base1 = fc1.linear(normed)
        hidden = fc1.shared_update(normed, base1)
        act = self.mlp.act(hidden)
        base2 = fc2.linear(act)
        shared = fc2.shared_update(act, base2) if fc2.shared_lora_output or matrixv2 else base2
        if matrixv2:  # the tasks' LoRA adds to the shared outputs
            base1, base2 = hidden, shared
        (a1, b1), (a2, b2) = fc1.task_factors(), fc2.task_factors()
        low1 = torch.bmm(self.norm2(h_tasks), a1.transpose(1, 2))
        low2 = gelu_lowrank(base1, low1, b1, a2)
        tasks = torch.baddbmm(base2.unsqueeze(0).expand(len(h_tasks), -1, -1), low2,
                              b2.transpose(1, 2))
        return torch.cat([shared.unsqueeze(0), tasks])


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
