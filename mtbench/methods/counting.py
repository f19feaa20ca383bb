"""Closed-form trainable-parameter counts shared by methods.

They read only hyper-parameters (the backbone's arch and the decoders' widths), never the
modules' parameters, so that contract tests compare two independent numbers.
"""
import re

import torch.nn as nn

from mtbench.models.param_formulas import fusion_head_params, swin_num_params

__all__ = ['backbone_formula', 'decoder_formula', 'decoders_formula', 'is_layer_norm_param',
           'layer_norm_params']

_NORM = re.compile(r'(^|\.)norm\d?\.(weight|bias)$')


def backbone_formula(backbone: nn.Module) -> int:
    """Closed-form parameter count of a :class:`SwinTransformer` from its arch settings."""
    return swin_num_params(backbone.embed_dims, backbone.depths, backbone.num_heads,
                           backbone.window_sizes, backbone.patch_size, backbone.in_channels,
                           backbone.mlp_ratio)


def decoder_formula(decoder: nn.Module) -> int:
    """Closed-form parameter count of one decoder (a per-task head or a decoder group).

    A decoder class other than the HRNet fusion head provides ``num_params_formula()``.
    """
    if hasattr(decoder, 'num_params_formula'):
        return decoder.num_params_formula()
    return fusion_head_params(decoder.in_channels, decoder.reduce_channels,
                              decoder.out_channels, decoder.hidden_ratio)


def decoders_formula(model: nn.Module) -> int:
    """Closed-form parameter count of every task decoder of ``model``."""
    if not isinstance(model.decoders, nn.ModuleDict):
        return decoder_formula(model.decoders)
    return sum(decoder_formula(d) for d in model.decoders.values())


def is_layer_norm_param(name: str) -> bool:
    """Whether backbone parameter ``name`` belongs to a Swin LayerNorm (patch embedding,
    ``norm1``/``norm2`` of a block, patch merging)."""
    return _NORM.search(name) is not None


def layer_norm_params(backbone: nn.Module) -> int:
    """Closed-form parameter count of every LayerNorm of a Swin backbone, from its arch:
    ``2 C0`` (patch embedding) + ``4 C`` per block + ``8 C`` per patch merging."""
    widths, depths = backbone.stage_channels, backbone.depths
    return (2 * backbone.embed_dims + sum(4 * c * d for c, d in zip(widths, depths))
            + sum(8 * c for c in widths[:len(depths) - 1]))
