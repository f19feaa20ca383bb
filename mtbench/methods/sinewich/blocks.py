"""Free Sinewich's task state (task tokens, Lightweight Clock Net) and its Swin blocks.

The task state lives on the backbone as ``sine_state``. The Sine-AWB layers and the blocks that
need it hold a plain reference to it (set with ``set_task_state``; not a submodule, so it is
neither counted twice nor copied twice).

* :class:`SinewichBlock` is the last block of every stage (the task-specific module). Attention
  runs once, on the shared stream; the Sine-AWB ``proj`` emits the shared and the ``T`` task
  streams, which then run through the MLP stacked along the batch dimension (shared ``norm2``),
  as in :class:`~mtbench.methods.mtlora.MTLoRABlock`. The block returns
  ``(shared, {task: tokens})``.
* :class:`SinewichPromptBlock` is any other block of stage 0 when the task tokens are also
  VPT-shallow prompts: its windows attend to them (keys / values only).
"""
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.nn as nn

from mtbench.models.backbones import SwinBlock, shifted_window_attention

__all__ = ['ClockNet', 'SinewichBlock', 'SinewichPromptBlock', 'SinewichTaskState']


class ClockNet(nn.Module):
    """Lightweight Clock Net: ``w_t = s (tanh(W_q ReLU(p_t)) + c)`` from the task token ``p_t``.

    ``W_q`` is ``[1, C]`` (``nn.Linear`` default init, no bias); ``s`` (``scale``) and ``c``
    (``shift``) are learnable scalars initialised to ``freq_init`` and 1, so ``w_t`` starts
    near ``freq_init`` and stays in ``s (c - 1, c + 1)``.

    Args:
        channels: token width ``C``.
        freq_init: initial ``s``.
    """

    def __init__(self, channels: int, freq_init: float):
        super().__init__()
        self.weight = nn.Parameter(nn.Linear(channels, 1, bias=False).weight.detach().clone())
        self.scale = nn.Parameter(torch.full((), float(freq_init)))
        self.shift = nn.Parameter(torch.ones(()))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Frequencies ``[T]`` of the tokens ``[T, C]``."""
        logits = torch.relu(tokens) @ self.weight.t()
        return self.scale * (torch.tanh(logits.squeeze(-1)) + self.shift)


class SinewichTaskState(nn.Module):
    """Task tokens and the frequency source of Free Sinewich.

    Args:
        tasks: task names (the order of every ``[T, ...]`` tensor).
        channels: token width (the patch embedding's ``C_0``).
        clock_net: frequencies from the :class:`ClockNet` (else one learnable frequency per
            task, initialised to ``freq_init``: the "w/o LCN" ablation).
        token_bound: task tokens are uniform in ``[-bound, bound]``; ``None``: no tokens (only
            valid without the clock net and without token prompts).
        freq_init: initial frequency.
    """

    def __init__(self, tasks: Sequence[str], channels: int, clock_net: bool,
                 token_bound: Optional[float], freq_init: float):
        super().__init__()
        self.tasks = tuple(tasks)
        if token_bound is not None:
            self.task_tokens = nn.ParameterDict({t: nn.Parameter(
                torch.empty(channels).uniform_(-token_bound, token_bound)) for t in self.tasks})
        if clock_net:
            self.clock = ClockNet(channels, freq_init)
        else:
            self.task_freq = nn.ParameterDict(
                {t: nn.Parameter(torch.full((), float(freq_init))) for t in self.tasks})

    def tokens(self) -> Optional[torch.Tensor]:
        """The task tokens ``[T, C]`` (None without tokens)."""
        if not hasattr(self, 'task_tokens'):
            return None
        return torch.stack([self.task_tokens[t] for t in self.tasks])

    def frequencies(self) -> torch.Tensor:
        """The task frequencies ``w_t``, ``[T]``."""
        if hasattr(self, 'clock'):
            return self.clock(self.tokens())
        return torch.stack([self.task_freq[t] for t in self.tasks])


def _prompts(block: SwinBlock, batch: int) -> Optional[torch.Tensor]:
    """``norm1`` of the task tokens, ``[batch, T, C]``, or None when the block has no prompts."""
    state = block._prompt_state
    if state is None:
        return None
    return block.norm1(state.tokens()).unsqueeze(0).expand(batch, -1, -1)


class SinewichPromptBlock(SwinBlock):
    """A stage-0 :class:`SwinBlock` whose windows also attend to the task tokens."""

    @classmethod
    def convert(cls, block: SwinBlock, state: SinewichTaskState) -> 'SinewichPromptBlock':
        """Turn ``block`` into a prompted block in place (parameter names unchanged)."""
        block.__class__ = cls
        object.__setattr__(block, '_prompt_state', state)
        return block

    def attention_branch(self, x: torch.Tensor, hw: Tuple[int, int]) -> torch.Tensor:
        return shifted_window_attention(self.attn, self.norm1(x), hw, self.window_size,
                                        self.shift_size, prompts=_prompts(self, x.shape[0]))


class SinewichBlock(SwinBlock):
    """The task-specific block: one shared and ``T`` task output streams (module docstring)."""

    sine_tasks: Tuple[str, ...]

    @classmethod
    def convert(cls, block: SwinBlock, tasks: Sequence[str],
                prompt_state: Optional[SinewichTaskState] = None) -> 'SinewichBlock':
        """Turn ``block`` into a task-specific block in place (parameter names unchanged).

        Args:
            block: the block; its Sine-AWB sites must already carry the task streams.
            tasks: task names, in the order of the Sine-AWB layers' streams.
            prompt_state: the task state whose tokens the windows attend to (stage 0 with token
                prompts), or None.
        """
        block.__class__ = cls
        block.sine_tasks = tuple(tasks)
        object.__setattr__(block, '_prompt_state', prompt_state)
        return block

    def forward(self, x: torch.Tensor, hw: Tuple[int, int]
                ) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
        """Apply the block; returns ``(shared tokens, {task: tokens})``, each ``[B, H*W, C]``."""
        b, length, c = x.shape
        streams = 1 + len(self.sine_tasks)
        context = shifted_window_attention(self.attn.context, self.norm1(x), hw,
                                           self.window_size, self.shift_size,
                                           prompts=_prompts(self, b))
        # proj acts on each token alone, so it may run after the window reversal.
        attn = self.attn.proj_drop(self.attn.proj(context))
        if attn.shape[0] == b:  # proj without task streams: every stream starts as the shared
            attn = attn.repeat(streams, 1, 1)
        h = (x.unsqueeze(0) + self.drop_path(attn).view(streams, b, length, c)).flatten(0, 1)
        out = h + self.drop_path(self.mlp(self.norm2(h)))
        chunks = out.split(b)
        return chunks[0], dict(zip(self.sine_tasks, chunks[1:]))
