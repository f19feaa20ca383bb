"""VMT-Adapter and VMT-Adapter-Lite (Xin et al., AAAI 2024, arXiv 2312.08733) as mtbench methods.

Paper-stated (abstract; Fig. 3 caption): a once-for-all multi-task adapter whose projections are
shared by all tasks, with independent, few-parameter task-specific knowledge-extraction modules,
approximately O(1) training and inference cost in the number of tasks, inserted in parallel to
the MLP of the Swin blocks; the Lite version shares parameters between the down- and
up-projections. Everything finer (the knowledge-extraction operator, bottleneck, scale,
initialisation, how task features reach the decoders) is mtbench's choice: see
``docs/methods/vmt_adapter.md``, "Deviations and decisions".
"""
import re
from typing import Optional, Tuple

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.registry import METHODS

from .blocks import ADAPTER_INPUTS, VMTBlock, VMTStage
from .layer import ACTIVATIONS, VMTAdapterModule

__all__ = ['DEFAULT_BOTTLENECK', 'TASK_BLOCKS', 'VMTAdapter', 'VMTAdapterLite']

#: Which blocks own task knowledge-extraction modules: the last block of every stage, or all.
TASK_BLOCKS = ('last', 'all')
#: Bottleneck width when neither ``bottleneck`` nor ``reduction`` is given.
DEFAULT_BOTTLENECK = 32
_TASK_PARAM = re.compile(r'\.task_(?:scale|shift)\.(\w+)$')


def _optional_positive_int(value, name: str) -> Optional[int]:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'VMT-Adapter {name} must be a positive integer, got {value!r}')
    return value


@METHODS.register_module()
class VMTAdapter(BaseMethod):
    """A shared bottleneck adapter parallel to every MLP, with per-task knowledge extraction.

    In every block of width ``C`` (bottleneck ``k``), the adapter reads the block's residual
    stream ``a`` after attention and adds ``s (z W_u^T + b_u)``, ``z = act(a W_d^T + b_d)``,
    next to the MLP output of the single shared stream. In the blocks with task modules (the
    last block of each stage by default), task ``t`` gets ``s ((z * gamma_t + beta_t) W_u^T +
    b_u)`` in place of that generic term. The stage's shared output plus these task deltas,
    merged by the stage's PatchMerging, is what task ``t``'s decoder reads at that scale. The
    backbone runs once for all tasks; each task adds ``2k`` parameters and one ``k x C``
    product per task block. The pretrained backbone is frozen; the adapters and the decoders
    train.

    Trainable count (stage widths ``C_s``, depths ``D_s``, ``T`` tasks, ``m_s`` task blocks per
    stage, 1 or ``D_s``; ``u = 2`` with shift, 1 without)::

        sum_s [D_s (2 C_s k_s + k_s + C_s) + m_s T u k_s] + decoders     (VMT-Adapter)
        sum_s [D_s (C_s k_s + k_s + C_s) + m_s T u k_s] + decoders       (Lite)

    Swin-T, 4 PASCAL tasks, ``k = 32``: 288,448 (Lite 147,136) plus 1,946,624 of decoders.

    Args:
        bottleneck: bottleneck width ``k`` of every block (excludes ``reduction``); 32 when
            neither is given.
        reduction: ``k = C // reduction`` per block instead of a fixed width.
        scale: output multiplier ``s`` of the adapter.
        dropout: dropout on the bottleneck activation.
        task_blocks: ``'last'`` (task modules in the last block of each stage) or ``'all'``
            (in every block; each block's task delta is added to the stage's task stream).
        task_shift: give each task a shift ``beta_t`` besides its scale ``gamma_t``.
        adapter_input: ``'residual'`` (the stream ``h`` before ``norm2``, AdaptFormer's choice)
            or ``'norm'`` (the MLP's own input ``norm2(h)``).
        activation: bottleneck activation, ``'relu'`` or ``'gelu'``.

    Example:
        >>> method = dict(type='VMTAdapter', bottleneck=32)
    """

    method_id = 'vmt_adapter'
    param_prefix = 'vmt_adapter.'
    identity_at_init = True
    lite = False

    def __init__(self, bottleneck: Optional[int] = None, reduction: Optional[int] = None,
                 scale: float = 1.0, dropout: float = 0.0, task_blocks: str = 'last',
                 task_shift: bool = True, adapter_input: str = 'residual',
                 activation: str = 'relu'):
        if bottleneck is not None and reduction is not None:
            raise ValueError(f'give either VMT-Adapter bottleneck ({bottleneck!r}) or '
                             f'reduction ({reduction!r}), not both')
        self.reduction = _optional_positive_int(reduction, 'reduction')
        self.bottleneck = _optional_positive_int(bottleneck, 'bottleneck')
        if self.bottleneck is None and self.reduction is None:
            self.bottleneck = DEFAULT_BOTTLENECK
        if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
            raise ValueError(f'VMT-Adapter scale must be a positive number, got {scale!r}')
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0.0 <= dropout < 1.0:
            raise ValueError(f'VMT-Adapter dropout must be in [0, 1), got {dropout!r}')
        if task_blocks not in TASK_BLOCKS:
            raise ValueError(f'VMT-Adapter task_blocks must be one of {TASK_BLOCKS}, '
                             f'got {task_blocks!r}')
        if adapter_input not in ADAPTER_INPUTS:
            raise ValueError(f'VMT-Adapter adapter_input must be one of {ADAPTER_INPUTS}, '
                             f'got {adapter_input!r}')
        if activation not in ACTIVATIONS:
            raise ValueError(f'VMT-Adapter activation must be one of {sorted(ACTIVATIONS)}, '
                             f'got {activation!r}')
        self.scale = float(scale)
        self.dropout = float(dropout)
        self.task_blocks = task_blocks
        self.task_shift = bool(task_shift)
        self.adapter_input = adapter_input
        self.activation = activation
        self.tasks: Tuple[str, ...] = ()

    def hidden_dim(self, dim: int) -> int:
        """Bottleneck width of a block of width ``dim``.

        Raises:
            ValueError: when it is not in ``[1, dim]``.
        """
        hidden = dim // self.reduction if self.reduction else self.bottleneck
        if not 1 <= hidden <= dim:
            what = (f'reduction {self.reduction}' if self.reduction
                    else f'bottleneck {self.bottleneck}')
            raise ValueError(f'VMT-Adapter {what} gives a bottleneck of {hidden} for a block of '
                             f'width {dim}; it must be in [1, {dim}]')
        return hidden

    def add_modules(self, model: nn.Module) -> None:
        self.tasks = tuple(model.tasks)
        for layer in model.backbone.layers:
            depth = len(layer.blocks)
            for j, block in enumerate(layer.blocks):
                with_tasks = self.task_blocks == 'all' or j == depth - 1
                like = block.norm2.weight
                adapter = VMTAdapterModule(
                    block.dim, self.hidden_dim(block.dim), self.tasks if with_tasks else (),
                    self.scale, self.dropout, self.lite, self.task_shift, self.activation,
                    device=like.device, dtype=like.dtype)
                VMTBlock.convert(block, adapter, self.adapter_input)
            VMTStage.convert(layer, self.tasks)

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        num_tasks = len(model.tasks)
        per_task = 2 if self.task_shift else 1
        total = 0
        for depth, dim in zip(bb.depths, bb.stage_channels):
            k = self.hidden_dim(dim)
            projections = dim * k if self.lite else 2 * dim * k
            task_blocks = depth if self.task_blocks == 'all' else 1
            total += depth * (projections + k + dim) + task_blocks * num_tasks * per_task * k
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        width = (f'reduction={self.reduction}' if self.reduction
                 else f'bottleneck={self.bottleneck}')
        return (f'{width}, scale={self.scale}, task_blocks={self.task_blocks!r}, '
                f'task_shift={self.task_shift}, adapter_input={self.adapter_input!r}')


@METHODS.register_module()
class VMTAdapterLite(VMTAdapter):
    """VMT-Adapter-Lite: the up-projection is the transposed down-projection (one matrix).

    Same arguments and placement as :class:`VMTAdapter`; each adapter has ``C k + k + C``
    shared parameters instead of ``2 C k + k + C``. The shared matrix cannot start at zero
    (the adapter would never train), so the adapted backbone is not the pretrained function at
    step 0 (it is close to it: truncated-normal std 0.02).

    Example:
        >>> method = dict(type='VMTAdapterLite', bottleneck=32)
    """

    method_id = 'vmt_adapter_lite'
    identity_at_init = False
    lite = True
