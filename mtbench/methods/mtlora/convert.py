"""Convert released MTLoRA checkpoints (``MultiTaskSwin`` of scale-lab/MTLoRA) to mtbench, and back.

Reference layout (``{'model': state_dict}`` as ``main.py`` saves it):

* ``backbone.<swin key>``; every MTLoRA site is wrapped: ``<site>.linear.{weight,bias}``,
  ``<site>.lora_shared_{A,B}``, ``<site>.lora_tasks_{A,B}.<task>``; buffers ``attn_mask`` and
  ``relative_position_index``;
* ``downsampler.<task>.downsample_<i>.weight`` and ``decoders.decoders.<task>.last_layer.*``
  (see :mod:`mtbench.models.reference_keys`); the reference calls saliency ``sal``.

mtbench's :class:`~mtbench.methods.mtlora.MTLoRALinear` keeps the frozen layer as ``linear`` and
the LoRA tensors under the reference names, so backbone keys only lose the buffers and have their
task names mapped. The conversion reads shapes from the tensors only, so any depth, width, rank
and task set converts.
"""
import re
from typing import Dict, Mapping, Optional

import torch

from mtbench.models.backbones.swin_checkpoint import extract_state_dict
from mtbench.models.reference_keys import (REFERENCE_TASK_NAMES, convert_reference_decoders,
                                           to_mtbench_task)

__all__ = ['convert_mtlora_checkpoint', 'mtlora_key_map', 'to_mtlora_reference']

_METHOD_KEY = re.compile(r'^(?P<site>.+)\.lora_(?:shared_[AB]|tasks_[AB]\.\w+)$')
_TASK_KEY = re.compile(r'(\.lora_tasks_[AB]\.)(\w+)$')
_WRAPPED = re.compile(r'^(?P<site>.+)\.linear\.(?P<leaf>weight|bias)$')
_BUFFERS = ('.attn_mask', '.relative_position_index')
_TO_REFERENCE = {v: k for k, v in REFERENCE_TASK_NAMES.items()}
_OURS_REDUCE = re.compile(r'^decoders\.(\w+)\.reduce\.(\d+)\.weight$')
_OURS_FUSE = re.compile(r'^decoders\.(\w+)\.fuse\.(\d+)\.(\w+)$')


def _backbone_key(name: str, lora_sites: set) -> Optional[str]:
    """mtbench name of a reference backbone key (without ``backbone.``); None if dropped."""
    if name.endswith(_BUFFERS) or name.startswith('head.') or name in ('norm.weight',
                                                                       'norm.bias'):
        return None
    if 'lora_' in name or 'prompt' in name:
        if _METHOD_KEY.match(name) is None:
            raise KeyError(f'{name!r} is not an MTLoRA tensor (expected <site>.lora_shared_A/B '
                           'or <site>.lora_tasks_A/B.<task>)')
        return _TASK_KEY.sub(lambda t: t.group(1) + to_mtbench_task(t.group(2)), name)
    m = _WRAPPED.match(name)
    site, leaf = (m.group('site'), m.group('leaf')) if m else name.rsplit('.', 1)
    # The frozen layer of an MTLoRA site is `<site>.linear`; a site without LoRA is a Linear.
    return f'{site}.linear.{leaf}' if site in lora_sites else f'{site}.{leaf}'


def mtlora_key_map(state_dict: Mapping) -> Dict[str, Optional[str]]:
    """``{reference key: mtbench key}`` for every key of a reference state dict.

    Dropped keys (buffers, a classifier head, a final norm) map to ``None``.

    Raises:
        KeyError: for method tensors MTLoRA does not define (e.g. TADFormer's prompts and
            filters, or the unsupported ``'addition'`` mode's ``lora_norm``), or an unknown
            non-backbone key.
    """
    prefixed = any(k.startswith('backbone.') for k in state_dict)
    strip = len('backbone.') if prefixed else 0
    lora_sites = set()
    for key in state_dict:
        m = _METHOD_KEY.match(key[strip:])
        if m and (key.startswith('backbone.') or not prefixed):
            lora_sites.add(m.group('site'))
    out = {}
    for key in state_dict:
        if prefixed and not key.startswith('backbone.'):
            out[key] = next(iter(convert_reference_decoders({key: None})))
            continue
        name = _backbone_key(key[strip:], lora_sites)
        out[key] = None if name is None else f'backbone.{name}'
    return out


def convert_mtlora_checkpoint(checkpoint: Mapping, dtype: Optional[torch.dtype] = None
                              ) -> Dict[str, torch.Tensor]:
    """Convert a reference MTLoRA checkpoint to a :class:`MultiTaskModel` state dict.

    Args:
        checkpoint: the reference checkpoint (``{'model': sd}``) or its state dict; a bare
            backbone state dict (no ``backbone.`` prefix) converts its backbone part only.
        dtype: cast floating tensors to this dtype (e.g. ``torch.float32``); default: keep.

    Returns:
        ``{'backbone.<key>': tensor, 'decoders.<task>.<key>': tensor}`` for
        ``model.load_state_dict`` of a model built with ``method=dict(type='MTLoRA', ...)`` of
        the same geometry, ranks, tasks and site switches.

    Raises:
        KeyError: see :func:`mtlora_key_map`.
        ValueError: when the checkpoint holds no Swin backbone tensors.
    """
    state = extract_state_dict(checkpoint)
    out = {}
    for old, new in mtlora_key_map(state).items():
        if new is not None:
            value = state[old]
            out[new] = value.to(dtype) if dtype is not None and value.is_floating_point() \
                else value
    if not any(k.startswith(('backbone.patch_embed.', 'backbone.layers.')) for k in out):
        raise ValueError('No Swin backbone tensors found in the MTLoRA checkpoint')
    return out


def to_mtlora_reference(state_dict: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """The inverse of :func:`convert_mtlora_checkpoint`: mtbench keys -> reference keys.

    The reference's persistent buffers (``attn_mask``, ``relative_position_index``) are not
    produced: load the result into the reference model with ``strict=False`` (it rebuilds them).

    Args:
        state_dict: an mtbench ``MultiTaskModel`` (MTLoRA) state dict.

    Returns:
        The state dict in the reference ``MultiTaskSwin`` layout.

    Raises:
        KeyError: for a key outside ``backbone.*`` and the fusion heads.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            key = _TASK_KEY.sub(lambda t: t.group(1) + _TO_REFERENCE.get(t.group(2), t.group(2)),
                                key)
            out[key] = value
            continue
        m = _OURS_REDUCE.match(key)
        if m:
            task = _TO_REFERENCE.get(m.group(1), m.group(1))
            out[f'downsampler.{task}.downsample_{m.group(2)}.weight'] = value
            continue
        m = _OURS_FUSE.match(key)
        if m:
            task = _TO_REFERENCE.get(m.group(1), m.group(1))
            out[f'decoders.decoders.{task}.last_layer.{m.group(2)}.{m.group(3)}'] = value
            continue
        raise KeyError(f'unexpected mtbench key {key!r}: expected backbone.*, '
                       'decoders.<task>.reduce.<i>.weight or decoders.<task>.fuse.<i>.*')
    return out
