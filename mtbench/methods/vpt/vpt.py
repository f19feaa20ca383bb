"""Visual Prompt Tuning (Jia et al., 2022) for the Swin backbone.

Prompts are extra tokens that every window attends to: they extend the keys and values of each
window (the number of queries is unchanged), with the relative-position bias and the shift mask
applied to the token-token block only (:class:`WindowAttention`'s ``prompts``). Prompts pass
through the block's ``norm1`` like the tokens.

* **deep**: a fresh prompt set ``[P, C_s]`` in every block.
* **shallow**: one prompt set ``[P, C_0]`` at the input; it serves every block of stage 0 and
  is carried to the next stages by that stage's (frozen) patch merging, each prompt entering the
  merging as its own 2x2 neighbourhood (the prompt repeated four times).
"""
import math
from typing import Callable, Optional

import torch
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.models.backbones import SwinBlock, shifted_window_attention
from mtbench.registry import METHODS

__all__ = ['VPT', 'PromptedSwinBlock']


class PromptedSwinBlock(SwinBlock):
    """A :class:`SwinBlock` whose windows also attend to prompt tokens.

    The prompts come from ``vpt_prompts`` (deep) or from a callable set with
    :meth:`set_prompt_source` (shallow), which is not registered as a submodule.
    """

    vpt_prompts: Optional[nn.Parameter]

    @classmethod
    def convert(cls, block: SwinBlock, num_prompts: int = 0) -> 'PromptedSwinBlock':
        """Turn ``block`` into a prompted block in place (parameters and names unchanged)."""
        block.__class__ = cls
        block.vpt_prompts = None
        block._prompt_source = None
        if num_prompts:
            bound = math.sqrt(6.0 / (3 * 4 * 4 + block.dim))  # VPT's Xavier-uniform bound
            block.vpt_prompts = nn.Parameter(torch.empty(num_prompts, block.dim).uniform_(
                -bound, bound))
        return block

    def set_prompt_source(self, source: Callable[[], torch.Tensor]) -> None:
        object.__setattr__(self, '_prompt_source', source)

    def prompts(self) -> Optional[torch.Tensor]:
        if self.vpt_prompts is not None:
            return self.vpt_prompts
        return self._prompt_source() if self._prompt_source is not None else None

    def attention_branch(self, x: torch.Tensor, hw) -> torch.Tensor:
        prompts = self.prompts()
        if prompts is None:
            return super().attention_branch(x, hw)
        prompts = self.norm1(prompts).unsqueeze(0).expand(x.shape[0], -1, -1)
        return shifted_window_attention(self.attn, self.norm1(x), hw, self.window_size,
                                        self.shift_size, prompts=prompts)


class _ShallowPromptChain:
    """Prompts of stage ``s``: the input prompts merged by the patch mergings of stages < s."""

    def __init__(self, backbone: nn.Module):
        self.backbone = backbone

    def __call__(self, stage: int) -> torch.Tensor:
        prompts = self.backbone.vpt_prompt_embeddings
        for layer in self.backbone.layers[:stage]:
            merge = layer.downsample
            prompts = merge.reduction(merge.norm(prompts.repeat(1, 4)))
        return prompts


@METHODS.register_module()
class VPT(BaseMethod):
    """Visual prompt tuning; the backbone is frozen, the prompts and decoders train.

    Trainable parameters: shallow ``P * C_0``; deep ``P * sum over blocks of C_block``
    (on Swin-T ``P * (2*96 + 2*192 + 6*384 + 2*768) = 4,416 P``), plus the decoders.

    Args:
        num_prompts: prompts per set ``P``.
        deep: a prompt set per block (VPT-deep) instead of input prompts only (VPT-shallow).
    """

    method_id = 'vpt'
    param_prefix = 'vpt_'

    def __init__(self, num_prompts: int = 10, deep: bool = True):
        if not isinstance(num_prompts, int) or num_prompts < 1:
            raise ValueError(f'VPT num_prompts must be a positive integer, got {num_prompts!r}')
        self.num_prompts = num_prompts
        self.deep = deep

    def add_modules(self, model: nn.Module) -> None:
        backbone = model.backbone
        if not self.deep:
            embed = backbone.embed_dims
            bound = math.sqrt(6.0 / (3 * 4 * 4 + embed))
            backbone.vpt_prompt_embeddings = nn.Parameter(
                torch.empty(self.num_prompts, embed).uniform_(-bound, bound))
            chain = _ShallowPromptChain(backbone)
        for s, layer in enumerate(backbone.layers):
            for block in layer.blocks:
                PromptedSwinBlock.convert(block, self.num_prompts if self.deep else 0)
                if not self.deep:
                    block.set_prompt_source(lambda s=s: chain(s))

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        if not self.deep:
            return self.num_prompts * bb.embed_dims + decoders_formula(model)
        widths = sum(d * bb.embed_dims * 2 ** i for i, d in enumerate(bb.depths))
        return self.num_prompts * widths + decoders_formula(model)

    def extra_repr(self) -> str:
        return f'num_prompts={self.num_prompts}, deep={self.deep}'
