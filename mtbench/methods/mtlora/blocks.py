"""Swin blocks and stages converted in place for MTLoRA's per-task streams.

A task-specific block (the last block of each stage, or every block with intermediate
specialisation) runs a shared stream ``[B, L, C]`` and the task streams stacked in one
``[T, B, L, C]`` tensor. The attention runs once on the shared stream, and its ``proj`` emits
the shared and the task outputs in token order. The MLP runs the shared stream through the
layers; the task streams' hidden layers, which differ from the shared one by a rank-``r`` term,
run in :func:`~mtbench.methods.gelu_lowrank.gelu_lowrank` without being stored. The block
returns ``(shared, {task: tokens})`` as the backbone contract allows; the stage merges all task
streams with the one shared :class:`PatchMerging` in one batched call. Shared and task streams
are never concatenated: at stage 1 of Swin-T at 448 every copy of the ``1 + T`` streams (and its
gradient) moves 48 MB per image pair.
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
        """Apply the block; returns ``(shared tokens, {task: tokens})``, each ``[B, H*W, C]``.

        The task tokens are views of one ``[T, B, H*W, C]`` tensor, which
        :meth:`MTLoRAStage.merge` merges without stacking the streams again.
        """
        b, length, c = x.shape
        tasks = len(self.mtlora_tasks)
        attn_s, attn_t = self._attention_pair(x, hw)
        # One stochastic-depth mask per residual for all 1 + T streams (as for a stacked batch).
        h_s, h_t = self._residual(x, x, attn_s, attn_t.view(tasks, b, length, c))
        if self._fused_task_mlp():
            out_s, out_t = self._mlp_pair(h_s.view(b * length, c), h_t.view(tasks, b * length, c))
        else:
            # A layer with task LoRA keeps the streams apart (frozen weight on the shared
            # activation, each task's own LoRA on its activation) and returns them stacked.
            mlp = self.mlp
            out = mlp.drop(mlp.fc2(mlp.drop(mlp.act(mlp.fc1(self.norm2(
                torch.cat([h_s.unsqueeze(0), h_t]).flatten(0, 1)))))))
            out_s, out_t = out.split([b, tasks * b])
        y_s, y_t = self._residual(h_s, h_t, out_s.view(b, length, c),
                                  out_t.reshape(tasks, b, length, c))
        return y_s, dict(zip(self.mtlora_tasks, y_t.unbind(0)))

    def _residual(self, shortcut_s: torch.Tensor, shortcut_t: torch.Tensor,
                  branch_s: torch.Tensor, branch_t: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """``shortcut + DropPath(branch)`` for the shared ``[B, L, C]`` and the task
        ``[T, B, L, C]`` streams (a task shortcut may be the shared ``[B, L, C]``), with the
        mask :class:`DropPath` draws for the ``(1 + T) B`` samples of the stacked streams."""
        drop = self.drop_path
        if drop.p == 0.0 or not drop.training:
            return shortcut_s + branch_s, shortcut_t + branch_t
        keep = 1.0 - drop.p
        b, tasks = branch_s.shape[0], branch_t.shape[0]
        mask = branch_s.new_empty(((1 + tasks) * b, 1, 1)).bernoulli_(keep).div_(keep)
        return (shortcut_s + branch_s * mask[:b],
                shortcut_t + branch_t * mask[b:].view(tasks, b, 1, 1))

    def _attention_pair(self, x: torch.Tensor, hw: Tuple[int, int]
                        ) -> Tuple[torch.Tensor, torch.Tensor]:
        """:meth:`attention_branch` for the shared ``[B, L, C]`` and the task streams
        ``[T * B, L, C]``: the window attention runs on the shared stream only, so only its
        context (not the ``1 + T`` ``proj`` output streams) goes through the window reversal and
        the cyclic shift; ``proj`` acts on each token alone, so the result is the same."""
        context = shifted_window_attention(self.attn.context, self.norm1(x), hw,
                                           self.window_size, self.shift_size)
        proj, drop, b = self.attn.proj, self.attn.proj_drop, x.shape[0]
        tasks = len(self.mtlora_tasks)
        if isinstance(proj, MTLoRALinear) and proj.tasks == self.mtlora_tasks:
            shared, task = proj.forward_pair(context)
            return drop(shared), drop(task).flatten(0, 1)
        out = drop(proj(context))
        if out.shape[0] == b:  # proj has no task LoRA: every task stream starts as the shared
            return out, out.unsqueeze(0).expand(tasks, -1, -1, -1).flatten(0, 1)
        return out.split([b, tasks * b])

    def _fused_task_mlp(self) -> bool:
        """Whether the MLP fits :meth:`_mlp_streams` (MTLoRA on fc1 and fc2, exact GELU, no MLP
        dropout, frozen base weights); otherwise the stacked layers run it."""
        fc1, fc2, mlp = self.mlp.fc1, self.mlp.fc2, self.mlp
        return (isinstance(fc1, MTLoRALinear) and isinstance(fc2, MTLoRALinear)
                and bool(fc1.tasks) and fc1.tasks == fc2.tasks == self.mtlora_tasks
                and fc1.shared_mode == fc2.shared_mode
                and is_plain_gelu_mlp(mlp)
                and not fc1.linear.weight.requires_grad and not fc2.linear.weight.requires_grad)

    def _mlp_pair(self, h_shared: torch.Tensor, h_tasks: torch.Tensor
                  ) -> Tuple[torch.Tensor, torch.Tensor]:
        """MLP outputs of the shared stream ``h_shared`` ``[N, C]`` (by the layers) and of the
        task streams ``h_tasks`` ``[T, N, C]``, whose hidden layers run in
        :func:`~mtbench.methods.gelu_lowrank.gelu_lowrank` (same equations as MTLoRALinear)."""
        fc1, fc2 = self.mlp.fc1, self.mlp.fc2
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
        return shared, tasks


class MTLoRAStage(BasicLayer):
    """A :class:`BasicLayer` that merges the shared and all task streams in one call."""

    @classmethod
    def convert(cls, layer: BasicLayer) -> 'MTLoRAStage':
        """Turn ``layer`` into an MTLoRA stage in place."""
        layer.__class__ = cls
        return layer

    def merge(self, x: torch.Tensor, tasks: Optional[Dict[str, torch.Tensor]],
              hw: Tuple[int, int]):
        """Apply the shared ``downsample`` to ``x`` and to all task streams in one batched call
        (on their common ``[T, B, L, C]`` tensor when they are its views, as
        :class:`MTLoRABlock` returns them)."""
        if self.downsample is None or not tasks:
            return super().merge(x, tasks, hw)
        merged, out_hw = self.downsample(x, hw)
        stacked = _stacked(list(tasks.values()))
        merged_t, _ = self.downsample(stacked.flatten(0, 1), hw)
        return merged, dict(zip(tasks, merged_t.split(x.shape[0]))), out_hw


def _stacked(views):
    """The ``[T, ...]`` tensor whose ``unbind(0)`` the ``views`` are, else their stack."""
    base = views[0]._base
    if (base is not None and base.dim() == views[0].dim() + 1 and base.shape[0] == len(views)
            and all(v._base is base and v.shape == base.shape[1:]
                    and v.stride() == base.stride()[1:]
                    and v.storage_offset() == base.storage_offset() + i * base.stride(0)
                    for i, v in enumerate(views))):
        return base
    return torch.stack(views)
