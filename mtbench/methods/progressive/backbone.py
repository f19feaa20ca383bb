"""The forward driver that runs the group streams of a task-group tree through a frozen Swin.

:class:`ProgressiveSwinTransformer` is installed on a built :class:`SwinTransformer` in place
(``convert``: its class changes, its modules and parameter names do not). Stage ``s`` runs
``k_s`` streams, one per task group, concatenated along the batch dimension so that every frozen
operation runs once per stage; the :class:`GroupLoRALinear` sites apply each group's update to
its slice. A group's input is the merged output of its parent group of stage ``s - 1`` (the patch
embedding for stage 0), so a stream branches exactly where its group splits and is never
duplicated where tasks share a group.
"""
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from mtbench.models.backbones import SwinTransformer
from mtbench.models.backbones.swin_blocks import StageOutput

from .grouping import parent_indices

__all__ = ['ProgressiveSwinTransformer']

StageStreams = Tuple[torch.Tensor, Tuple[int, int], torch.Tensor, Tuple[int, int]]


class ProgressiveSwinTransformer(SwinTransformer):
    """A :class:`SwinTransformer` whose stages run one stream per task group.

    Attributes:
        progressive_grouping: per stage, the list of task groups (validated tree).
    """

    progressive_grouping: List[List[List[str]]]

    @classmethod
    def convert(cls, backbone: SwinTransformer, grouping: List[List[List[str]]]
                ) -> 'ProgressiveSwinTransformer':
        """Install the driver on ``backbone`` in place (parameters and names unchanged)."""
        if len(grouping) != len(backbone.layers):
            raise ValueError(f'grouping has {len(grouping)} stages, the backbone '
                             f'{len(backbone.layers)}')
        backbone.__class__ = cls
        backbone.progressive_grouping = [[list(g) for g in stage] for stage in grouping]
        return backbone

    def forward_streams(self, x: torch.Tensor) -> List[StageStreams]:
        """Run every stage on its group streams.

        Args:
            x: images ``[B, C, H, W]``.

        Returns:
            Per stage ``(merged, hw, pre_merge, pre_hw)``; ``merged`` is ``[k_s * B, L, C]``
            with the stream of group ``g`` in rows ``g * B ... (g + 1) * B``.
        """
        tokens, hw = self.patch_embed(x)
        batch = x.shape[0]
        previous = [[t for g in self.progressive_grouping[0] for t in g]]
        outputs = []
        for layer, groups in zip(self.layers, self.progressive_grouping):
            parents = parent_indices(previous, groups)
            if parents != list(range(len(previous))):  # some group splits: branch its stream
                streams = tokens.reshape(len(previous), batch, *tokens.shape[1:])
                tokens = streams[parents].flatten(0, 1)
            pre, _ = layer.forward_blocks(tokens, hw)
            merged, _, out_hw = layer.merge(pre, None, hw)
            outputs.append((merged, out_hw, pre, hw))
            tokens, hw, previous = merged, out_hw, groups
        return outputs

    def forward_stages(self, x: torch.Tensor) -> List[StageOutput]:
        """Per-stage :class:`StageOutput` with per-task streams (``x`` is the first group's)."""
        batch = x.shape[0]
        result = []
        for (merged, hw, pre, pre_hw), groups in zip(self.forward_streams(x),
                                                     self.progressive_grouping):
            tasks = {t: merged[i * batch:(i + 1) * batch]
                     for i, g in enumerate(groups) for t in g}
            result.append(StageOutput(merged[:batch], hw, tasks, pre[:batch], pre_hw))
        return result

    def forward(self, x: torch.Tensor, tasks: Optional[Sequence[str]] = None
                ) -> Dict[str, List[torch.Tensor]]:
        """``{task: [f1, f2, f3, f4]}``: each stage's merged stream of the task's group.

        Tasks of one group receive the same tensors.

        Raises:
            ValueError: ``tasks`` is None while the tree branches (there is no shared output).
            KeyError: a task that is not in the grouping.
        """
        if isinstance(tasks, str):
            tasks = [tasks]
        batch = x.shape[0]
        streams = self.forward_streams(x)
        if tasks is None:
            if any(len(groups) > 1 for groups in self.progressive_grouping):
                raise ValueError('a branching progressive backbone has no shared output; '
                                 'call it with the task names')
            return [self._to_map(merged, hw) for merged, hw, _, _ in streams]
        known = {t for g in self.progressive_grouping[0] for t in g}
        unknown = [t for t in tasks if t not in known]
        if unknown:
            raise KeyError(f'tasks {unknown} are not in the progressive grouping {sorted(known)}')
        result = {t: [] for t in tasks}
        for (merged, hw, _, _), groups in zip(streams, self.progressive_grouping):
            for i, group in enumerate(groups):
                wanted = [t for t in group if t in result]
                if wanted:
                    feat = self._to_map(merged[i * batch:(i + 1) * batch], hw)
                    for t in wanted:
                        result[t].append(feat)
        return result
