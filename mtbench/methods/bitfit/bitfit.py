"""BitFit (Ben Zaken et al., 2022): train the backbone's bias terms only."""
import torch.nn as nn

from mtbench.methods.base import BaseMethod
from mtbench.methods.counting import decoders_formula
from mtbench.registry import METHODS

__all__ = ['BitFit']


@METHODS.register_module()
class BitFit(BaseMethod):
    """Every parameter whose name ends in ``.bias`` in the backbone trains; nothing is added.

    Exactly which biases: the patch-embedding convolution, every LayerNorm (``norm1``, ``norm2``,
    ``patch_embed.norm``, ``downsample.norm``), and ``attn.qkv``, ``attn.proj``, ``mlp.fc1``,
    ``mlp.fc2`` of every block (patch-merging reductions have no bias). LayerNorm weights and
    relative-position tables stay frozen. Trainable parameters: those biases plus the decoders.

    Args:
        norm_biases: also train LayerNorm biases (default True); False restricts BitFit to the
            biases of linear/convolution layers.
    """

    method_id = 'bitfit'

    def __init__(self, norm_biases: bool = True):
        self.norm_biases = norm_biases
        self._norm_bias_names = set()

    def add_modules(self, model: nn.Module) -> None:
        self._norm_bias_names = {f'{n}.bias' for n, m in model.backbone.named_modules()
                                 if isinstance(m, nn.LayerNorm)}

    def keep_pretrained_trainable(self, name: str) -> bool:
        if not name.endswith('.bias'):
            return False
        return self.norm_biases or name not in self._norm_bias_names

    def num_trainable(self, model: nn.Module) -> int:
        bb = model.backbone
        total = bb.embed_dims + (bb.embed_dims if self.norm_biases else 0)  # patch embed
        dim = bb.embed_dims
        for i, depth in enumerate(bb.depths):
            hidden = int(dim * bb.mlp_ratio)
            per_block = 3 * dim + dim + hidden + dim + (2 * dim if self.norm_biases else 0)
            total += depth * per_block
            if i < len(bb.depths) - 1:
                total += 4 * dim if self.norm_biases else 0
                dim *= 2
        return total + decoders_formula(model)

    def extra_repr(self) -> str:
        return f'norm_biases={self.norm_biases}'
