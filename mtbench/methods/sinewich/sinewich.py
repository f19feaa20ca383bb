"""Free Sinewich (Liu et al., CVPR 2026, arXiv 2603.21111) as an mtbench method plug-in.

See ``docs/methods/sinewich.md`` for the equations, the sources of every choice and what the
paper leaves open.
"""
import math
import re
from typing import Dict, Optional, Sequence

import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula, is_layer_norm_param
from mtbench.methods.mtlora.blocks import MTLoRAStage
from mtbench.methods.sinewich.blocks import SinewichBlock, SinewichPromptBlock, SinewichTaskState
from mtbench.methods.sinewich.layer import SineAWBLinear
from mtbench.models.decoders.sinewich_group import check_low_pass
from mtbench.registry import METHODS

__all__ = ['FreeSinewich', 'SITES', 'TASK_SITES']

#: Linear sites of a block: owner module and ``(d_in, d_out)`` for width ``C``, MLP width ``H``.
SITES = ('qkv', 'proj', 'fc1', 'fc2')
#: Sites that may carry task streams (qkv cannot: attention runs once, on the shared stream).
TASK_SITES = ('proj', 'fc1', 'fc2')
_TASK_PARAM = re.compile(r'(?:\.sine_task_[ABW]|^sine_state\.(?:task_tokens|task_freq))\.(\w+)$')


def _site_dims(c: int, h: int) -> Dict[str, tuple]:
    return {'qkv': (c, 3 * c), 'proj': (c, c), 'fc1': (c, h), 'fc2': (h, c)}


def _positive(value, name: str, integer: bool = False):
    kinds = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or value <= 0:
        kind = 'integer' if integer else 'number'
        raise ValueError(f'FreeSinewich {name} must be a positive {kind}, got {value!r}')
    return value


@METHODS.register_module()
class FreeSinewich(BaseMethod):
    """Frequency switching of a shared low-rank base (Sine-AWB), task frequencies from a Clock Net.

    * Task-agnostic module: a LoRA ``s B A drop(x)`` (rank ``r``) on qkv/proj/fc1/fc2 of every
      block, for the shared stream.
    * Task-specific module, in the last block of every stage: at ``task_sites`` the task stream
      ``t`` gets the dense update ``g LowPass(sin(w_t B K A))`` of the same (shared) factors plus
      an ``r x r`` intermediate kernel ``K``; the block emits one stream per task, merged by the
      stage's patch merging and read by that task's decoder
      (:class:`~mtbench.methods.sinewich.layer.SineAWBLinear`).
    * ``w_t`` comes from the Lightweight Clock Net applied to a learnable task token, which is
      also a VPT-shallow prompt of stage 0 (``token_prompts``).

    The pretrained backbone is frozen (``train_norms`` keeps MTLoRA's norms / patch embedding /
    relative-position tables trainable). Trainable (added names contain ``sine_``), per stage of
    width ``C``, MLP width ``H``, depth ``d`` and per task site ``(d_in, d_out)``:
    ``d r (8C + 2H)`` (LoRA) + ``r^2`` (shared ``K``) or ``T (r (d_in + d_out) + r^2)``
    (independent bases); plus ``T C_0`` tokens and ``C_0 + 2`` Clock Net (or ``T``
    frequencies), and the decoders. Swin-T, 4 tasks: ``70,656 r + 12 r^2 + 482``
    (4,571,618 at r = 64 before decoders).

    Args:
        rank: rank ``r`` of the shared factors.
        scale: shared-stream LoRA multiplier ``s``.
        dropout: dropout on the shared-stream LoRA input.
        task_sites: sites of the task-specific module (a non-empty subset of ``TASK_SITES``).
        sine: ``sin`` modulation (False: identity, the "w/o sine" ablation).
        clock_net: frequencies from the Clock Net (False: a learnable frequency per task,
            "w/o LCN").
        low_pass: Gaussian low-pass filter of the modulated matrices ("w/o low-pass filter").
        low_pass_kernel: odd filter side (paper: 7).
        low_pass_sigma: filter standard deviation (paper: 1).
        shared_base: one base for all tasks (False: per-task ``A_t, B_t, K_t``, "independent
            base").
        mid_kernel: the intermediate ``r x r`` kernel ``K`` (False: ``M = B A``).
        freq_init: initial frequency (Clock Net scale, or every per-task frequency).
        gain: ``g``; default ``scale / freq_init``, so that a small ``w_t M`` gives the LoRA
            update ``s (w_t / freq_init) LowPass(M)``.
        token_prompts: the task tokens are also VPT-shallow prompts of the stage-0 windows.
        train_norms: keep LayerNorms, patch embedding and relative-position tables trainable.

    Example:
        >>> method = dict(type='FreeSinewich', rank=64)
    """

    method_id = 'sinewich'
    param_prefix = 'sine_'
    supports_merge = True
    #: merging folds every shared LoRA into its frozen weight; the task-specific sites cache one
    #: dense weight ``W + D_t`` per task (their task streams keep per-task weights).
    merge_layer = SineAWBLinear
    identity_at_init = False  # per instance: True without token prompts

    def __init__(self, rank: int = 64, scale: float = 4.0, dropout: float = 0.05,
                 task_sites: Sequence[str] = TASK_SITES, sine: bool = True,
                 clock_net: bool = True, low_pass: bool = True, low_pass_kernel: int = 7,
                 low_pass_sigma: float = 1.0, shared_base: bool = True, mid_kernel: bool = True,
                 freq_init: float = 100.0, gain: Optional[float] = None,
                 token_prompts: bool = True, train_norms: bool = False):
        self.rank = _positive(rank, 'rank', integer=True)
        self.scale = float(_positive(scale, 'scale'))
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or \
                not 0.0 <= dropout < 1.0:
            raise ValueError(f'FreeSinewich dropout must be in [0, 1), got {dropout!r}')
        self.dropout = float(dropout)
        task_sites = (task_sites,) if isinstance(task_sites, str) else tuple(task_sites)
        if not task_sites or any(s not in TASK_SITES for s in task_sites):
            raise ValueError(f'FreeSinewich task_sites must be a non-empty subset of '
                             f'{TASK_SITES}, got {task_sites!r}')
        self.task_sites = task_sites
        check_low_pass(low_pass_kernel, low_pass_sigma, 'FreeSinewich')
        self.low_pass_kernel, self.low_pass_sigma = low_pass_kernel, float(low_pass_sigma)
        self.freq_init = float(_positive(freq_init, 'freq_init'))
        self.gain = self.scale / self.freq_init if gain is None else float(
            _positive(gain, 'gain'))
        self.sine, self.clock_net, self.low_pass = bool(sine), bool(clock_net), bool(low_pass)
        self.shared_base, self.mid_kernel = bool(shared_base), bool(mid_kernel)
        self.token_prompts, self.train_norms = bool(token_prompts), bool(train_norms)
        self.identity_at_init = not self.token_prompts
        self.tasks = ()

    @property
    def has_tokens(self) -> bool:
        """Whether the task tokens exist (the Clock Net reads them, or they are prompts)."""
        return self.clock_net or self.token_prompts

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        self.tasks = tuple(model.tasks)
        embed = backbone.embed_dims
        bound = math.sqrt(6.0 / (3 * backbone.patch_size ** 2 + embed))  # VPT's prompt init
        state = SinewichTaskState(self.tasks, embed, self.clock_net,
                                  bound if self.has_tokens else None, self.freq_init)
        backbone.sine_state = state
        layer_args = dict(scale=self.scale, dropout=self.dropout, shared_base=self.shared_base,
                          mid_kernel=self.mid_kernel, gain=self.gain, sine=self.sine,
                          low_pass=self.low_pass, low_pass_kernel=self.low_pass_kernel,
                          low_pass_sigma=self.low_pass_sigma)
        for s, layer in enumerate(backbone.layers):
            prompt_state = state if s == 0 and self.token_prompts else None
            for j, block in enumerate(layer.blocks):
                task_block = j == len(layer.blocks) - 1
                owners = {'qkv': block.attn, 'proj': block.attn, 'fc1': block.mlp,
                          'fc2': block.mlp}
                for site, owner in owners.items():
                    streams = task_block and site in self.task_sites
                    sine_layer = SineAWBLinear(
                        getattr(owner, site), self.rank, tasks=self.tasks if streams else (),
                        task_input='shared' if site == 'proj' else 'stacked', **layer_args)
                    if streams:
                        sine_layer.set_task_state(state)
                    setattr(owner, site, sine_layer)
                if task_block:
                    SinewichBlock.convert(block, self.tasks, prompt_state)
                elif prompt_state is not None:
                    SinewichPromptBlock.convert(block, prompt_state)
            MTLoRAStage.convert(layer)  # one batched patch merging for all streams

    def keep_pretrained_trainable(self, name: str) -> bool:
        return self.train_norms and (name.startswith('patch_embed.')
                                     or is_layer_norm_param(name)
                                     or name.endswith('relative_position_bias_table'))

    def task_of(self, name: str) -> Optional[str]:
        m = _TASK_PARAM.search(name)
        return m.group(1) if m else None

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        n_tasks, r, embed = len(self.tasks), self.rank, bb.embed_dims
        total = 0
        for i, (depth, heads, window) in enumerate(zip(bb.depths, bb.num_heads,
                                                       bb.window_sizes)):
            c = bb.stage_channels[i]
            dims = _site_dims(c, int(c * bb.mlp_ratio))
            total += depth * r * sum(d_in + d_out for d_in, d_out in dims.values())
            for site in self.task_sites:
                kernel = r * r if self.mid_kernel else 0
                if self.shared_base:
                    total += kernel
                else:
                    total += n_tasks * (r * sum(dims[site]) + kernel)
            if self.train_norms:
                total += depth * (4 * c + (2 * window - 1) ** 2 * heads)
                total += 8 * c if i < len(bb.depths) - 1 else 0  # patch-merging norm
        total += n_tasks * embed if self.has_tokens else 0
        total += embed + 2 if self.clock_net else n_tasks
        if self.train_norms:
            total += bb.in_channels * embed * bb.patch_size ** 2 + embed + 2 * embed
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return (f'rank={self.rank}, task_sites={self.task_sites}, sine={self.sine}, '
                f'clock_net={self.clock_net}, low_pass={self.low_pass}, '
                f'shared_base={self.shared_base}, token_prompts={self.token_prompts}')
