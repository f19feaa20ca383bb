"""TADFormer (Baek et al., 2025, arXiv 2501.04293) as an mtbench method plug-in."""
import re
from typing import List, Optional, Tuple

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.methods.tadformer.backbone import TADFormerLayer, TADFormerSwin
from mtbench.methods.tadformer.block import TADFormerBlock
from mtbench.methods.tadformer.filters import build_task_filter
from mtbench.methods.tadformer.linear import TADLinear
from mtbench.registry import METHODS

__all__ = ['TADFormer', 'tadformer_num_trainable']

FILTERS = ('dtf', 'static')
_STATIC_FILTER = re.compile(r'\.tad_filter\.(\w+)\.(weight|bias)$')
_PRETRAINED_NORMS = ('norm1', 'norm2', 'norm')


def tadformer_num_trainable(embed_dims: int, depths, num_heads, window_sizes, num_tasks: int,
                            rank: int, filter: str = 'dtf', patch_size: int = 4,
                            in_channels: int = 3, mlp_hidden: Optional[List[int]] = None) -> int:
    """Closed-form count of TADFormer's trainable backbone parameters (decoders excluded).

    Per block of width ``C`` (MLP hidden ``H``, ``4C`` by default): shared LoRA
    ``r (C + 3C) + r (C + C) + 2 r (C + H)``, two LayerNorms ``4C``, the relative-position table
    ``(2w - 1)^2 heads`` and the prompt LayerNorm ``2C``. Per stage: the gate (1), the task filters
    at proj/fc1/fc2 of its last block (DTF ``3 (9 r^2 + 27 r)``; static ``3 T 10 r``) and, for
    stages with a patch merging, its LayerNorm ``8C`` and ``prompt up`` ``2 C^2``. Plus the patch
    embedding ``in_channels p^2 C_0 + C_0 + 2 C_0`` and the prompts ``T C_0``.

    Example:
        >>> tadformer_num_trainable(96, [2, 2, 6, 2], [3, 6, 12, 24], [7] * 4, 4, 16)
        1610878
    """
    if filter not in FILTERS:
        raise ValueError(f'filter must be one of {FILTERS}, got {filter!r}')
    total = in_channels * patch_size ** 2 * embed_dims + embed_dims + 2 * embed_dims
    total += num_tasks * embed_dims
    per_filter = 9 * rank * rank + 27 * rank if filter == 'dtf' else num_tasks * 10 * rank
    n = len(depths)
    for s, (depth, heads, window) in enumerate(zip(depths, num_heads, window_sizes)):
        c = embed_dims * 2 ** s
        hidden = mlp_hidden[s] if mlp_hidden else 4 * c
        block = (rank * (c + 3 * c) + rank * (c + c) + 2 * rank * (c + hidden)
                 + 4 * c + (2 * window - 1) ** 2 * heads + 2 * c)
        total += depth * block + 1 + 3 * per_filter
        if s < n - 1:
            total += 8 * c + 2 * c * c
    return total


@METHODS.register_module()
class TADFormer(BaseMethod):
    """Task-adaptive dynamic transformer: shared LoRA, task prompts, TPC and task filters.

    The backbone is frozen except its LayerNorms, patch embedding and relative-position tables
    (which train, as in the reference); the patch-merging reduction and every pretrained Linear
    are frozen. Added (all trainable, names contain ``tad_``): shared LoRA on qkv/proj/fc1/fc2 of
    every block, the task prompts, ``prompt up`` at each merging, a gate per stage, a prompt
    LayerNorm in every block's ``attn.proj`` (only the task-adapting blocks use it: the others are
    dead parameters kept for count parity with the reference) and the task filters at
    proj/fc1/fc2 of each stage's last block. See :func:`tadformer_num_trainable` and
    ``docs/methods/tadformer.md``; Swin-T, PASCAL 4 tasks, DTF: 3,557,502 / 4,776,126 /
    7,379,262 trainable at r = 16 / 32 / 64 (decoders included).

    Args:
        rank: shared LoRA rank ``r`` (also the filters' channels).
        scale: LoRA multiplier (plain, not ``alpha / r``).
        dropout: dropout on the shared LoRA input.
        filter: ``'dtf'`` (the paper's shared Dynamic Task Filter, default) or ``'static'`` (the
            released code's per-task depthwise conv).
        skip_connection: add the TPC skip feature to the task streams at the end of each stage.
        stagewise_gating: weight that skip with a learned per-stage gate (else 0.5 / 0.5).

    Example:
        >>> method = dict(type='TADFormer', rank=16)
    """

    method_id = 'tadformer'
    param_prefix = 'tad_'

    def __init__(self, rank: int = 16, scale: float = 4.0, dropout: float = 0.05,
                 filter: str = 'dtf', skip_connection: bool = True,
                 stagewise_gating: bool = True):
        if not isinstance(rank, int) or isinstance(rank, bool) or rank < 1:
            raise ValueError(f'TADFormer rank must be a positive integer, got {rank!r}')
        if filter not in FILTERS:
            raise ValueError(f'TADFormer filter must be one of {FILTERS}, got {filter!r}')
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f'TADFormer dropout must be in [0, 1), got {dropout!r}')
        self.rank = rank
        self.scale = float(scale)
        self.dropout = float(dropout)
        self.filter = filter
        self.skip_connection = bool(skip_connection)
        self.stagewise_gating = bool(stagewise_gating)
        self.tasks: Tuple[str, ...] = ()
        self.mlp_hidden: List[int] = []

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        n = len(backbone.layers)
        self.mlp_hidden = [layer.blocks[0].mlp.fc1.out_features for layer in backbone.layers]
        for s, layer in enumerate(backbone.layers):
            depth = len(layer.blocks)
            for j, block in enumerate(layer.blocks):
                task_block = j == depth - 1
                attn, mlp = block.attn, block.mlp
                attn.qkv = self._linear(attn.qkv, False)
                attn.proj = self._linear(attn.proj, task_block, prompt_norm=True)
                mlp.fc1 = self._linear(mlp.fc1, task_block)
                mlp.fc2 = self._linear(mlp.fc2, task_block)
                TADFormerBlock.convert(block, task_block,
                                       update_prompts=not (task_block and s == n - 1))
            TADFormerLayer.convert(layer, self.tasks, self.skip_connection,
                                   self.stagewise_gating)
        TADFormerSwin.convert(backbone, self.tasks)

    def _linear(self, linear: nn.Linear, with_filter: bool, prompt_norm: bool = False):
        task_filter = build_task_filter(self.filter, self.rank, self.tasks) if with_filter \
            else None
        return TADLinear(linear, self.rank, self.scale, self.dropout, task_filter, prompt_norm)

    def keep_pretrained_trainable(self, name: str) -> bool:
        parts = name.split('.')
        return (name.startswith('patch_embed.') or parts[-1] == 'relative_position_bias_table'
                or (len(parts) > 1 and parts[-2] in _PRETRAINED_NORMS))

    def task_of(self, name: str) -> Optional[str]:
        """The static filter's convs belong to their task; everything else (including the prompt
        matrix, one tensor with a row per task) is shared."""
        m = _STATIC_FILTER.search(name)
        return m.group(1) if m and m.group(1) in self.tasks else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        backbone = tadformer_num_trainable(
            bb.embed_dims, bb.depths, bb.num_heads, bb.window_sizes, len(model.tasks), self.rank,
            self.filter, bb.patch_embed.patch_size, bb.patch_embed.proj.in_channels,
            self.mlp_hidden or None)
        return backbone + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'rank={self.rank}, scale={self.scale}, dropout={self.dropout}, '
                f'filter={self.filter!r}, skip_connection={self.skip_connection}, '
                f'stagewise_gating={self.stagewise_gating}')
