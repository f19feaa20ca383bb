"""The forward driver that runs one stream per task through a Swin with task-specific norms.

:class:`TaskNormSwinTransformer` is installed on a built :class:`SwinTransformer` in place
(``convert``: its class changes, its modules and parameter names do not). The image is embedded
once; the stream is split into ``T`` task streams, stacked along the batch dimension, at the
first task-specific norm:

* a norm whose input is not on a residual path (the patch-embedding norm, a PatchMerging norm)
  splits the stream itself (``TaskLayerNorm.tsbn_broadcast``);
* otherwise (the first task-specific norm is in a block) the driver repeats the shared tokens
  ``T`` times at the entry of that block's stage, because the block's shortcut must carry the
  task streams too.

From there on every frozen operation runs once on all ``T * B`` rows, and each task reads the
rows of its own stream at every stage.
"""
from typing import Dict, List, Optional, Sequence

import torch

from mtbench.models.backbones import SwinTransformer
from mtbench.models.backbones.swin_blocks import StageOutput

from .norm import TaskLayerNorm

__all__ = ['TaskNormSwinTransformer']


class TaskNormSwinTransformer(SwinTransformer):
    """A :class:`SwinTransformer` whose stages run one stream per task once split.

    Attributes:
        tsbn_tasks: task order of the stacked streams.
        tsbn_expand_stage: the stage at whose entry the driver repeats the shared tokens into
            task streams, or None when a broadcasting norm splits them.
    """

    tsbn_tasks: tuple
    tsbn_expand_stage: Optional[int]

    @classmethod
    def convert(cls, backbone: SwinTransformer, tasks: Sequence[str],
                expand_stage: Optional[int]) -> 'TaskNormSwinTransformer':
        """Install the driver on ``backbone`` in place (parameters and names unchanged)."""
        if expand_stage is not None and not 0 <= expand_stage < len(backbone.layers):
            raise ValueError(f'expand_stage {expand_stage} is not a stage of the backbone')
        backbone.__class__ = cls
        backbone.tsbn_tasks = tuple(tasks)
        backbone.tsbn_expand_stage = expand_stage
        return backbone

    def forward_stages(self, x: torch.Tensor) -> List[StageOutput]:
        """Per-stage :class:`StageOutput`; ``tasks`` holds the task streams once split.

        ``x`` and ``pre_merge`` are the shared stream before the split and the first task's
        stream after it.
        """
        batch, streams = x.shape[0], len(self.tsbn_tasks)
        tokens, hw = self.patch_embed(x)
        split = isinstance(self.patch_embed.norm, TaskLayerNorm)
        outputs = []
        for index, layer in enumerate(self.layers):
            if index == self.tsbn_expand_stage and not split:
                tokens, split = tokens.repeat(streams, 1, 1), True
            pre, _ = layer.forward_blocks(tokens, hw)
            merged, _, out_hw = layer.merge(pre, None, hw)
            if layer.downsample is not None and isinstance(layer.downsample.norm, TaskLayerNorm):
                split = True
            tasks = dict(zip(self.tsbn_tasks, merged.split(batch))) if split else None
            outputs.append(StageOutput(merged[:batch], out_hw, tasks, pre[:batch], hw))
            tokens, hw = merged, out_hw
        return outputs

    def forward(self, x: torch.Tensor, tasks: Optional[Sequence[str]] = None):
        """``{task: [f1, f2, f3, f4]}``: each stage's merged stream of the task.

        Raises:
            ValueError: ``tasks`` is None (after the split there is no shared output).
            KeyError: a task the norms were not built for.
        """
        if isinstance(tasks, str):
            tasks = [tasks]
        if tasks is None:
            raise ValueError('a backbone with task-specific norms has no shared output; call '
                             'it with the task names')
        unknown = [t for t in tasks if t not in self.tsbn_tasks]
        if unknown:
            raise KeyError(f'tasks {unknown} have no task-specific norms; the backbone was '
                           f'built for {list(self.tsbn_tasks)}')
        result: Dict[str, List[torch.Tensor]] = super().forward(x, tasks)
        return result
