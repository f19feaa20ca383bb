"""The fine-tuning method plug-in interface.

A method is applied to a built :class:`~mtbench.models.MultiTaskModel`: it may add modules to the
backbone, and it decides which parameters train. Every method declares

* ``param_prefix``: a name fragment shared by every parameter it adds ('' when it adds none);
* :meth:`keep_pretrained_trainable`: which pretrained backbone parameters stay trainable;
* :meth:`num_trainable`: a closed-form count of trainable parameters from its hyper-parameters
  and the backbone's shape (the contract tests compare it with the real count);
* ``supports_merge``: whether :meth:`merge` / :meth:`unmerge` fold it into the base weights;
  ``merge_layer``: the layer class whose own ``merge()`` / ``unmerge()`` the default
  :meth:`merge` / :meth:`unmerge` call on every such module of the backbone.

Decoders are always trainable. Registering a subclass in :data:`mtbench.registry.METHODS` makes it
available to configs as ``model.method=dict(type='<id>', ...)``.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn

__all__ = ['BaseMethod']


class BaseMethod:
    """Base class of fine-tuning methods.

    Attributes:
        method_id: the id used in records and leaderboards (e.g. 'full_ft').
        param_prefix: fragment contained in the names of every parameter the method adds.
        supports_merge: whether the method can be merged into the frozen weights.
        merge_layer: the layer type the default :meth:`merge` / :meth:`unmerge` act on.
        frozen_norms_eval: keep frozen normalisation layers in eval mode during training.
    """

    method_id: str = 'base'
    param_prefix: str = ''
    supports_merge: bool = False
    merge_layer: Optional[type] = None
    frozen_norms_eval: bool = False

    def apply(self, model: nn.Module) -> None:
        """Inject the method's modules into ``model`` and set ``requires_grad`` everywhere."""
        self.add_modules(model)
        self.set_trainable(model)

    def add_modules(self, model: nn.Module) -> None:
        """Add the method's modules to ``model.backbone``; baselines add nothing."""

    def is_added(self, name: str) -> bool:
        """Whether backbone parameter ``name`` was added by this method."""
        return bool(self.param_prefix) and self.param_prefix in name

    def keep_pretrained_trainable(self, name: str) -> bool:
        """Whether pretrained backbone parameter ``name`` stays trainable (default: no)."""
        return False

    def task_of(self, name: str) -> Optional[str]:
        """The task an added parameter belongs to, or None for shared parameters."""
        return None

    def set_trainable(self, model: nn.Module) -> None:
        """Freeze every backbone parameter the method does not train; decoders train."""
        for name, param in model.backbone.named_parameters():
            param.requires_grad_(self.is_added(name) or self.keep_pretrained_trainable(name))
        for param in model.decoders.parameters():
            param.requires_grad_(True)

    def num_trainable(self, model: nn.Module) -> int:
        """Closed-form count of trainable parameters of ``model`` under this method."""
        raise NotImplementedError(f'{type(self).__name__} must implement num_trainable')

    def train_mode_hook(self, model: nn.Module, mode: bool) -> None:
        """Called after ``model.train(mode)``: put frozen norms in eval mode if requested."""
        if not (mode and self.frozen_norms_eval):
            return
        for module in model.backbone.modules():
            if isinstance(module, (nn.LayerNorm, nn.modules.batchnorm._BatchNorm)):
                if not any(p.requires_grad for p in module.parameters(recurse=False)):
                    module.eval()

    def trainable_state_dict(self, model: nn.Module) -> Dict[str, torch.Tensor]:
        """Only what fine-tuning changed: trainable parameters plus the decoders' buffers."""
        state = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        for name, buf in model.decoders.named_buffers():
            state[f'decoders.{name}'] = buf.detach().clone()
        return state

    def load_trainable_state_dict(self, model: nn.Module, state: Dict[str, torch.Tensor]) -> None:
        """Load a :meth:`trainable_state_dict` onto a freshly built pretrained model."""
        expected = set(self.trainable_state_dict(model))
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            raise KeyError(f'{self.method_id}: trainable state does not match the model; '
                           f'missing {missing[:5]}, unexpected {unexpected[:5]}')
        model.load_state_dict(state, strict=False)

    def _merge_layers(self, model: nn.Module):
        if self.merge_layer is None:
            raise NotImplementedError(f'{self.method_id} does not support merging')
        return [m for m in model.backbone.modules() if isinstance(m, self.merge_layer)]

    def merge(self, model: nn.Module) -> None:
        """Fold the method into the base weights (only if ``supports_merge``): by default
        ``merge()`` of every ``merge_layer`` module of the backbone."""
        for layer in self._merge_layers(model):
            layer.merge()

    def unmerge(self, model: nn.Module) -> None:
        """Undo :meth:`merge`."""
        for layer in self._merge_layers(model):
            layer.unmerge()

    def extra_repr(self) -> str:
        return ''

    def __repr__(self) -> str:
        return f'{type(self).__name__}({self.extra_repr()})'
