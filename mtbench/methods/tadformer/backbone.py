"""TADFormer's stage and backbone: prompts threaded through the stages, gated skip, merging.

:class:`TADFormerLayer` and :class:`TADFormerSwin` are converted in place from mtbench's
:class:`~mtbench.models.backbones.BasicLayer` and
:class:`~mtbench.models.backbones.SwinTransformer` (``__class__``), so that every pretrained
parameter keeps its name. They add

* ``tad_prompts`` ``[T, C_0]`` on the backbone: one prompt per task (row ``i`` is task ``i`` of
  the model), trunc-normal (mean 1, std 1, bounds +-2);
* ``layers.<s>.tad_gate`` ``[1]``: the stage gate ``g`` (init 0);
* ``layers.<s>.downsample.tad_prompt_up`` (bias-free ``C -> 2C``, trunc-normal std 0.02): the
  prompts' path through each patch merging.

After the blocks of a stage the task streams get the gated skip
``y_t <- sigmoid(g) f_t + (1 - sigmoid(g)) y_t`` (``(f_t + y_t) / 2`` without stage-wise
gating; nothing without the skip connection) and are merged by the stage's (frozen) patch
merging, as the shared stream is.
"""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
from torch.autograd.function import once_differentiable
from torch.utils.checkpoint import checkpoint

from mtbench.models.backbones import BasicLayer, StageOutput, SwinTransformer

__all__ = ['TADFormerLayer', 'TADFormerSwin', 'gated_skip']


class _GatedSkip(torch.autograd.Function):
    """``torch.lerp(tasks, skip, gate)`` keeping ``skip - tasks`` for the backward pass, where
    autograd's lerp keeps both full-size inputs; the gradients are lerp's formulas. The forward
    briefly holds the difference beside the inputs and the output (one tensor more than lerp,
    before the inputs are freed); first-order gradients only (no double backward)."""

    @staticmethod
    def forward(ctx, tasks, skip, gate):
        ctx.save_for_backward(skip - tasks, gate)
        return torch.lerp(tasks, skip, gate)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad):
        difference, gate = ctx.saved_tensors
        need_tasks, need_skip, need_gate = ctx.needs_input_grad
        return (grad * (1 - gate) if need_tasks else None, grad * gate if need_skip else None,
                (grad * difference).sum_to_size(gate.shape) if need_gate else None)


def gated_skip(tasks: torch.Tensor, skip: torch.Tensor, gate: torch.Tensor) -> torch.Tensor:
    """``gate * skip + (1 - gate) * tasks`` (``torch.lerp``, one fused pass), storing one
    full-size tensor for the backward pass instead of two; plain ``lerp`` without autograd."""
    if not (torch.is_grad_enabled() and (tasks.requires_grad or skip.requires_grad
                                         or gate.requires_grad)):
        return torch.lerp(tasks, skip, gate)
    return _GatedSkip.apply(tasks, skip, gate)


class TADFormerLayer(BasicLayer):
    """A stage of TADFormer blocks (see the module docstring)."""

    tad_tasks: Tuple[str, ...]
    tad_skip: bool
    tad_stagewise_gating: bool

    @classmethod
    def convert(cls, layer: BasicLayer, tasks: Sequence[str], skip_connection: bool = True,
                stagewise_gating: bool = True) -> 'TADFormerLayer':
        """Turn ``layer`` into a TADFormer stage in place; adds the gate and ``prompt up``."""
        layer.__class__ = cls
        layer.tad_tasks = tuple(tasks)
        layer.tad_skip = bool(skip_connection)
        layer.tad_stagewise_gating = bool(stagewise_gating)
        layer.tad_gate = nn.Parameter(torch.zeros(1))
        if layer.downsample is not None:
            up = nn.Linear(layer.dim, 2 * layer.dim, bias=False)
            nn.init.trunc_normal_(up.weight, std=0.02)
            layer.downsample.tad_prompt_up = up
        return layer

    def forward(self, x: torch.Tensor, hw: Tuple[int, int], prompts: torch.Tensor
                ) -> Tuple[StageOutput, torch.Tensor]:
        """Run the stage.

        Args:
            x: tokens ``[B, H*W, C]``.
            hw: ``(H, W)``.
            prompts: ``[B, T, C]``.

        Returns:
            ``(StageOutput, prompts for the next stage [B, T, C'])``.
        """
        tasks = skip = None
        for blk in self.blocks:
            if self.with_cp and self.training and x.requires_grad:
                out = checkpoint(blk, x, hw, prompts, use_reentrant=False)
            else:
                out = blk(x, hw, prompts)
            x, blk_tasks, prompts, blk_skip = out
            if blk_tasks is not None:
                tasks, skip = blk_tasks, blk_skip
        if tasks is not None and self.tad_skip:
            if self.tad_stagewise_gating:
                tasks = gated_skip(tasks, skip.to(tasks.dtype),
                                   torch.sigmoid(self.tad_gate).to(tasks.dtype))
            else:
                tasks = (skip + tasks) * 0.5
        pre, pre_hw = x, hw
        if self.downsample is not None:
            x, hw = self.downsample(x, pre_hw)
            if tasks is not None:
                t, b, length, c = tasks.shape
                tasks = self.downsample(tasks.reshape(t * b, length, c), pre_hw)[0]
                tasks = tasks.view(t, b, *tasks.shape[1:])
            prompts = self.downsample.tad_prompt_up(prompts)
        task_dict = None if tasks is None else dict(zip(self.tad_tasks, tasks.unbind(0)))
        return StageOutput(x, hw, task_dict, pre, pre_hw), prompts


class TADFormerSwin(SwinTransformer):
    """The Swin backbone driving TADFormer stages with the task prompts."""

    tad_tasks: Tuple[str, ...]

    @classmethod
    def convert(cls, backbone: SwinTransformer, tasks: Sequence[str]) -> 'TADFormerSwin':
        """Turn ``backbone`` into a TADFormer backbone in place; adds ``tad_prompts``."""
        backbone.__class__ = cls
        backbone.tad_tasks = tuple(tasks)
        prompts = torch.empty(len(tasks), backbone.embed_dims)
        backbone.tad_prompts = nn.Parameter(
            nn.init.trunc_normal_(prompts, mean=1.0, std=1.0, a=-2.0, b=2.0))
        return backbone

    def forward_stages(self, x: torch.Tensor) -> List[StageOutput]:
        """Run all stages with the prompts; every stage returns per-task streams."""
        tokens, hw = self.patch_embed(x)
        prompts = self.tad_prompts.unsqueeze(0).expand(tokens.shape[0], -1, -1)
        outputs = []
        for layer in self.layers:
            out, prompts = layer(tokens, hw, prompts)
            outputs.append(out)
            tokens, hw = out.x, out.hw
        return outputs
