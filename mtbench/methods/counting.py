"""Closed-form trainable-parameter counts shared by methods.

They read only hyper-parameters (the backbone's arch and the decoders' widths), never the
modules' parameters, so that contract tests compare two independent numbers.
"""
import torch.nn as nn

from mtbench.models.param_formulas import fusion_head_params, swin_num_params

__all__ = ['backbone_formula', 'decoders_formula']


def backbone_formula(backbone: nn.Module) -> int:
    """Closed-form parameter count of a :class:`SwinTransformer` from its arch settings."""
    return swin_num_params(backbone.embed_dims, backbone.depths, backbone.num_heads,
                           backbone.window_sizes, backbone.patch_size, backbone.in_channels,
                           backbone.mlp_ratio)


def decoders_formula(model: nn.Module) -> int:
    """Closed-form parameter count of every task decoder of ``model``."""
    return sum(fusion_head_params(d.in_channels, d.reduce_channels, d.out_channels,
                                  d.hidden_ratio) for d in model.decoders.values())
