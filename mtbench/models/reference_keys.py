"""Convert MTLoRA / TADFormer ``MultiTaskSwin`` state dicts (decoder side) to mtbench's layout.

The reference model stores the per-task 1x1 reductions as
``downsampler.<task>.downsample_<i>.weight`` and the fusion heads as
``decoders.decoders.<task>.last_layer.{0,1,3}.*``; mtbench keeps both in one
:class:`~mtbench.models.decoders.HRNetFusionHead` per task (``decoders.<task>.reduce.<i>`` and
``decoders.<task>.fuse.{0,1,3}``). The reference calls saliency ``sal``.
Backbone keys are converted by :func:`mtbench.models.backbones.convert_swin_checkpoint`; method
tensors by each method's converter.
"""
import re
from typing import Dict, Mapping, Tuple

import torch

__all__ = ['REFERENCE_TASK_NAMES', 'to_mtbench_task', 'convert_reference_decoders',
           'split_reference_state_dict']

REFERENCE_TASK_NAMES = {'sal': 'saliency'}
_DOWN = re.compile(r'^downsampler\.(\w+)\.downsample_(\d+)\.weight$')
_HEAD = re.compile(r'^decoders\.decoders\.(\w+)\.last_layer\.(\d+)\.(\w+)$')


def to_mtbench_task(name: str) -> str:
    """The mtbench name of a reference task name (``'sal'`` -> ``'saliency'``)."""
    return REFERENCE_TASK_NAMES.get(name, name)


def split_reference_state_dict(state_dict: Mapping) -> Tuple[Dict, Dict]:
    """Split a reference ``MultiTaskSwin`` state dict into (backbone keys, other keys)."""
    backbone = {k: v for k, v in state_dict.items() if k.startswith('backbone.')}
    other = {k: v for k, v in state_dict.items() if not k.startswith('backbone.')}
    return backbone, other


def convert_reference_decoders(state_dict: Mapping) -> Dict[str, torch.Tensor]:
    """Map the reference downsamplers and HRNet heads onto ``decoders.<task>.*``.

    Raises:
        KeyError: for a non-backbone key that is neither a downsampler nor a head tensor.
    """
    out = {}
    for key, value in state_dict.items():
        if key.startswith('backbone.'):
            continue
        m = _DOWN.match(key)
        if m:
            out[f'decoders.{to_mtbench_task(m.group(1))}.reduce.{m.group(2)}.weight'] = value
            continue
        m = _HEAD.match(key)
        if m:
            task, idx, name = m.groups()
            out[f'decoders.{to_mtbench_task(task)}.fuse.{idx}.{name}'] = value
            continue
        raise KeyError(f'unexpected reference key {key!r}: expected backbone.*, '
                       'downsampler.<task>.downsample_<i>.weight or '
                       'decoders.decoders.<task>.last_layer.<i>.*')
    return out
