"""Swin checkpoint conversion (timm / official / MTLoRA-TADFormer -> mtbench) and loading.

mtbench uses the official Swin key layout (``layers.{i}.downsample`` at the *end* of stage i)
without classifier head, final norm or buffers. Supported source layouts:

* ``'official'``: Microsoft's Swin (``{'model': sd}``, ``head.*``, persistent ``attn_mask`` and
  ``relative_position_index`` buffers). A bare mtbench backbone state dict is also detected as
  ``'official'`` and converts to itself.
* ``'timm'``: timm >= 0.9 (downsample at the *start* of stage i, i.e. ``layers.{i}.downsample``
  becomes ``layers.{i-1}.downsample``; ``head.fc.*``; ``layers_{i}`` names of feature wrappers).
* ``'mtlora'``: MTLoRA / TADFormer ``MultiTaskSwin`` checkpoints (``{'model': sd}`` with a
  ``backbone.`` prefix and wrapped linears ``<site>.linear.{weight,bias}``). Method tensors
  (names containing ``lora_`` or ``prompt``) are **not** part of the converted state dict; they are
  returned in :attr:`SwinConversion.method_state` (``backbone.`` stripped, names otherwise
  unchanged) for method-specific converters. Keys outside the backbone (decoders,
  downsamplers) are listed in :attr:`SwinConversion.non_backbone` and ignored.

The classifier head, the final ``norm`` and the buffers are dropped and reported in
:attr:`SwinConversion.dropped`.
"""
from __future__ import annotations

import math
import pickle
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from mmengine.logging import print_log
from torch import nn

from mtbench.errors import CheckpointError, MissingPathError

__all__ = ['SwinConversion', 'convert_swin_checkpoint', 'convert_swin_state_dict',
           'detect_swin_layout', 'extract_state_dict', 'load_swin_pretrained',
           'resize_relative_position_bias_table']

LAYOUTS = ('timm', 'official', 'mtlora')
_METHOD_MARKERS = ('lora_', 'prompt')
_WRAPPED = re.compile(r'\.(qkv|proj|fc1|fc2|reduction)\.linear\.(weight|bias)$')
_DOWNSAMPLE = re.compile(r'^layers\.(\d+)\.downsample\.')
_BUFFERS = ('.attn_mask', '.relative_position_index')


@dataclass
class SwinConversion:
    """Result of :func:`convert_swin_checkpoint`.

    Attributes:
        state_dict: backbone tensors in mtbench's layout.
        layout: the source layout (``'timm'``, ``'official'`` or ``'mtlora'``).
        dropped: source keys dropped on purpose (head, final norm, buffers).
        method_state: method tensors (``lora_*``, ``*prompt*``) under their backbone names.
        non_backbone: source keys outside the backbone (ignored).
    """

    state_dict: dict
    layout: str
    dropped: list = field(default_factory=list)
    method_state: dict = field(default_factory=dict)
    non_backbone: list = field(default_factory=list)


def extract_state_dict(checkpoint: Mapping) -> dict:
    """Unwrap ``{'model': ...}`` / ``{'state_dict': ...}`` and a ``module.`` prefix.

    Args:
        checkpoint: a checkpoint or state dict.

    Returns:
        ``{name: tensor}`` (non-tensor entries removed).
    """
    sd = checkpoint
    for key in ('state_dict', 'model', 'module'):
        if isinstance(sd, Mapping) and isinstance(sd.get(key), Mapping):
            sd = sd[key]
    if not isinstance(sd, Mapping):
        raise TypeError(f'Expected a state dict, got {type(sd).__name__}')
    sd = {k: v for k, v in sd.items() if isinstance(v, torch.Tensor)}
    if sd and all(k.startswith('module.') for k in sd):
        sd = {k[len('module.'):]: v for k, v in sd.items()}
    return sd


def detect_swin_layout(state_dict: Mapping) -> str:
    """Guess the layout of an (unwrapped) Swin state dict.

    Raises:
        ValueError: when no Swin keys are found.
    """
    keys = list(state_dict)
    if any(k.startswith('backbone.') for k in keys) or any(_WRAPPED.search(k) for k in keys):
        return 'mtlora'
    if any(k.startswith('layers_') for k in keys):
        return 'timm'
    if not any(k.startswith(('patch_embed.', 'layers.')) for k in keys):
        sample = ', '.join(keys[:5]) or '<empty>'
        raise CheckpointError(f'Not a Swin Transformer checkpoint: no patch_embed.* / '
                              f'layers.* keys (first keys: {sample})')
    stages = {int(m.group(1)) for k in keys if (m := _DOWNSAMPLE.match(k))}
    if 0 in stages:
        return 'official'
    if stages or any(k.startswith('head.fc.') for k in keys):
        return 'timm'
    return 'official'


def _is_dropped(name: str) -> bool:
    return (name.startswith('head.') or name in ('norm.weight', 'norm.bias')
            or name.endswith(_BUFFERS))


def _rename_timm(name: str) -> str:
    name = re.sub(r'^layers_(\d+)\.', r'layers.\1.', name)
    m = _DOWNSAMPLE.match(name)
    if m:
        stage = int(m.group(1))
        if stage == 0:
            raise ValueError(f'{name!r} cannot be in a timm-layout checkpoint (timm stage 0 has '
                             f'no downsample); is it an official checkpoint?')
        name = f'layers.{stage - 1}.downsample.' + name[m.end():]
    return name


def convert_swin_checkpoint(checkpoint: Mapping, src: str = 'auto') -> SwinConversion:
    """Convert a Swin checkpoint of any supported layout to mtbench's layout.

    Args:
        checkpoint: checkpoint or state dict (see :func:`extract_state_dict`).
        src: ``'auto'`` (detect), ``'timm'``, ``'official'`` or ``'mtlora'``.

    Returns:
        A :class:`SwinConversion`.

    Raises:
        ValueError: for an unknown ``src`` or a checkpoint without Swin keys.
    """
    if src not in ('auto', *LAYOUTS):
        raise ValueError(f"src must be 'auto' or one of {LAYOUTS}, got {src!r}")
    sd = extract_state_dict(checkpoint)
    layout = detect_swin_layout(sd) if src == 'auto' else src
    prefixed = any(k.startswith('backbone.') for k in sd)
    result = SwinConversion({}, layout)
    for key, value in sd.items():
        name = key
        if layout == 'mtlora' and prefixed:
            if not name.startswith('backbone.'):
                result.non_backbone.append(key)
                continue
            name = name[len('backbone.'):]
        if any(marker in name for marker in _METHOD_MARKERS):
            result.method_state[name] = value
            continue
        if layout == 'mtlora':
            name = _WRAPPED.sub(r'.\1.\2', name)
        elif layout == 'timm':
            name = _rename_timm(name)
        if _is_dropped(name):
            result.dropped.append(key)
            continue
        result.state_dict[name] = value
    if not any(k.startswith(('patch_embed.', 'layers.')) for k in result.state_dict):
        raise ValueError(f'No Swin backbone tensors found in the {layout!r}-layout checkpoint')
    return result


def convert_swin_state_dict(state_dict: Mapping, src: str = 'auto') -> dict:
    """Convert to mtbench's layout and return only the backbone tensors.

    Method tensors, dropped keys and the detected layout are logged; use
    :func:`convert_swin_checkpoint` to get them.

    Args:
        state_dict: checkpoint or state dict.
        src: ``'auto'``, ``'timm'``, ``'official'`` or ``'mtlora'``.
    """
    conv = convert_swin_checkpoint(state_dict, src)
    print_log(f'Swin checkpoint layout: {conv.layout} ({len(conv.state_dict)} backbone tensors, '
              f'{len(conv.dropped)} dropped, {len(conv.method_state)} method tensors, '
              f'{len(conv.non_backbone)} non-backbone keys ignored)', logger='current')
    return conv.state_dict


def resize_relative_position_bias_table(table: torch.Tensor, window_size: int) -> torch.Tensor:
    """Bicubically resample a ``[(2w-1)^2, heads]`` bias table to another window side.

    Args:
        table: the source table.
        window_size: the target window side.
    """
    side = math.isqrt(table.shape[0])
    new = 2 * window_size - 1
    if side * side != table.shape[0]:
        raise ValueError(f'relative_position_bias_table of shape {tuple(table.shape)} '
                         f'is not square')
    if side == new:
        return table
    grid = table.float().T.reshape(1, -1, side, side)
    grid = F.interpolate(grid, size=(new, new), mode='bicubic', align_corners=False)
    return grid.reshape(-1, new * new).T.contiguous().to(table.dtype)


def missing_pretrained_message(path) -> str:
    """The one-line error for a ``model.pretrained`` file that does not exist."""
    return (f'model.pretrained: Swin checkpoint {path} not found; put the ImageNet weights at '
            "that path (README, 'Using it on real data'), point model.pretrained at your copy, "
            'or pass --cfg-options model.pretrained=None to start from random weights')


def _read_source(path_or_tag, allow_pickle: bool) -> tuple[Mapping, str]:
    if isinstance(path_or_tag, Mapping):
        return path_or_tag, 'auto'
    text = str(path_or_tag)
    if text.startswith('timm:'):
        import timm  # only when the user explicitly asks for a timm checkpoint
        net = timm.create_model(text[len('timm:'):], pretrained=True)
        return net.state_dict(), 'timm'
    path = Path(text).expanduser()
    if not path.is_file():
        raise MissingPathError(missing_pretrained_message(path))
    if path.suffix == '.safetensors':
        from safetensors.torch import load_file
        return load_file(str(path)), 'auto'
    try:
        return torch.load(path, map_location='cpu', weights_only=not allow_pickle), 'auto'
    except pickle.UnpicklingError as exc:
        if 'weights only' not in str(exc).lower():
            raise CheckpointError(f'{path} is not a readable checkpoint ({exc}); check that the '
                                  'download finished and that it is a .pth/.safetensors file'
                                  ) from None
        raise CheckpointError(f'{path} holds non-tensor objects that weights_only loading '
                              'refuses; save its state dict alone, or pass allow_pickle=True if '
                              'you trust the file') from None
    except (RuntimeError, EOFError, ValueError) as exc:
        raise CheckpointError(f'{path} is not a readable checkpoint ({type(exc).__name__}: '
                              f'{str(exc).splitlines()[0] if str(exc) else ""}); it may be '
                              'truncated: download or save it again') from None


def _describe(model: nn.Module) -> str:
    arch = getattr(model, 'arch_name', type(model).__name__)
    dims = getattr(model, 'embed_dims', '?')
    return f"arch {arch!r} (embed_dims={dims}, depths={getattr(model, 'depths', '?')})"


def _fit_to_model(state_dict: dict, target: dict) -> tuple[dict, list]:
    """Map ``<site>.weight`` to ``<site>.{linear,base_layer}.weight`` where the model wraps the
    linear, and resize relative-position tables to the model's windows."""
    out, resized = {}, []
    for name, value in state_dict.items():
        if name not in target:
            stem, _, leaf = name.rpartition('.')
            for wrapper in ('linear', 'base_layer'):
                if f'{stem}.{wrapper}.{leaf}' in target:
                    name = f'{stem}.{wrapper}.{leaf}'
                    break
        ref = target.get(name)
        if (name.endswith('relative_position_bias_table') and ref is not None
                and value.shape != ref.shape and value.shape[1:] == ref.shape[1:]):
            value = resize_relative_position_bias_table(value, (math.isqrt(ref.shape[0]) + 1) // 2)
            resized.append(name)
        out[name] = value
    return out, resized


def load_swin_pretrained(model: nn.Module, path_or_tag, strict: bool = False, logger=None,
                         src: str = 'auto', allow_pickle: bool = False) -> dict:
    """Load a Swin checkpoint of any supported layout into an mtbench Swin backbone.

    Args:
        model: the backbone (mtbench key layout; wrapped ``<site>.linear`` modules are fine).
        path_or_tag: a local ``.pth``/``.pt``/``.safetensors`` file, ``'timm:<model tag>'``
            (``timm.create_model(tag, pretrained=True)``, which may download), or a state dict.
        strict: passed to ``load_state_dict``.
        logger: mmengine logger (name) for the report; default the current logger.
        src: source layout or ``'auto'``.
        allow_pickle: allow non-tensor pickled objects (only for trusted files).

    Returns:
        dict with ``layout``, ``missing_keys``, ``unexpected_keys``, ``dropped_keys``,
        ``method_keys``, ``non_backbone_keys`` and ``resized_keys``.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: not a Swin checkpoint, or tensor shapes that do not fit ``model``.
    """
    source, detected = _read_source(path_or_tag, allow_pickle)
    conv = convert_swin_checkpoint(source, src if src != 'auto' else detected)
    target = model.state_dict()
    state_dict, resized = _fit_to_model(conv.state_dict, target)
    bad = [f'{k}: checkpoint {tuple(v.shape)} vs model {tuple(target[k].shape)}'
           for k, v in state_dict.items() if k in target and v.shape != target[k].shape]
    if bad:
        raise CheckpointError(f'Swin checkpoint ({conv.layout} layout) does not fit the '
                              f'backbone {_describe(model)}: {len(bad)} shape mismatches, first: '
                         + '; '.join(bad[:5]))
    incompatible = model.load_state_dict(state_dict, strict=strict)
    report = {
        'layout': conv.layout,
        'missing_keys': list(incompatible.missing_keys),
        'unexpected_keys': list(incompatible.unexpected_keys),
        'dropped_keys': conv.dropped,
        'method_keys': sorted(conv.method_state),
        'non_backbone_keys': conv.non_backbone,
        'resized_keys': resized,
    }
    name = path_or_tag if isinstance(path_or_tag, str) else '<state dict>'
    print_log(f'Loaded Swin weights from {name} ({conv.layout} layout) into {_describe(model)}: '
              f"{len(state_dict)} tensors, missing {report['missing_keys'][:10]}, unexpected "
              f"{report['unexpected_keys'][:10]}, dropped {len(conv.dropped)}, ignored "
              f'{len(conv.method_state)} method and {len(conv.non_backbone)} non-backbone '
              f'tensors, resized {resized}', logger=logger or 'current')
    return report
