"""Convert TADFormer reference checkpoints (``MultiTaskSwin`` with ``SwinTransformerTADFormer``)
to mtbench's layout, and back.

Reference -> mtbench names (``<site>`` is ``attn.qkv``, ``attn.proj``, ``mlp.fc1`` or
``mlp.fc2``; every other name is kept, including the frozen ``<site>.linear.*``):

* ``backbone.task_prompts`` -> ``backbone.tad_prompts``
* ``layers.<s>.prompt_gate`` -> ``layers.<s>.tad_gate``
* ``downsample.task_prompts_up.weight`` -> ``downsample.tad_prompt_up.weight``
* ``<site>.lora_shared_{A,B}`` -> ``<site>.tad_lora_{A,B}``
* ``attn.proj.prompt_layernorm.*`` -> ``attn.proj.tad_prompt_norm.*``
* DTF: ``lora_filter.conv.*`` -> ``tad_filter.conv.*``; ``lora_filter.chan_FilterNorm.{std,mean}``
  -> ``tad_filter.{std,mean}``
* static filter: ``lora_filter.<task>.conv2d.{weight,bias}`` -> ``tad_filter.<task>.{weight,bias}``
* ``downsampler.*``, ``decoders.decoders.*`` -> ``decoders.<task>.*``
  (:func:`mtbench.models.reference_keys.convert_reference_decoders`)

The ``attn_mask`` / ``relative_position_index`` buffers are dropped (mtbench recomputes them).
Reference task names are mapped with :func:`mtbench.models.reference_keys.to_mtbench_task`
(``sal`` -> ``saliency``). Row ``i`` of ``task_prompts`` belongs to the reference's task ``i``;
the rows are permuted when the mtbench model lists its tasks in another order.
"""
import re
from typing import Dict, List, Mapping, Optional, Sequence

import torch

from mtbench.models.backbones.swin_checkpoint import extract_state_dict
from mtbench.models.reference_keys import (REFERENCE_TASK_NAMES, convert_reference_decoders,
                                           to_mtbench_task)

__all__ = ['convert_tadformer_checkpoint', 'to_reference_tadformer_checkpoint',
           'reference_task_order']

_SITE = r'(attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)'
_BACKBONE_RULES = [
    (r'^task_prompts$', 'tad_prompts'),
    (r'^(layers\.\d+)\.prompt_gate$', r'\1.tad_gate'),
    (r'\.downsample\.task_prompts_up\.weight$', '.downsample.tad_prompt_up.weight'),
    (rf'\.{_SITE}\.lora_shared_(A|B)$', r'.\1.tad_lora_\2'),
    (r'\.attn\.proj\.prompt_layernorm\.(weight|bias)$', '.attn.proj.tad_prompt_norm.\\1'),
    (r'\.lora_filter\.conv\.(weight|bias)$', '.tad_filter.conv.\\1'),
    (r'\.lora_filter\.chan_FilterNorm\.(std|mean)$', '.tad_filter.\\1'),
]
_STATIC_REF = re.compile(r'\.lora_filter\.(\w+)\.conv2d\.(weight|bias)$')
_STATIC_OURS = re.compile(r'\.tad_filter\.(\w+)\.(weight|bias)$')
_DTF_OURS = ('conv',)
_INVERSE_RULES = [
    (r'^tad_prompts$', 'task_prompts'),
    (r'^(layers\.\d+)\.tad_gate$', r'\1.prompt_gate'),
    (r'\.downsample\.tad_prompt_up\.weight$', '.downsample.task_prompts_up.weight'),
    (rf'\.{_SITE}\.tad_lora_(A|B)$', r'.\1.lora_shared_\2'),
    (r'\.attn\.proj\.tad_prompt_norm\.(weight|bias)$', '.attn.proj.prompt_layernorm.\\1'),
    (r'\.tad_filter\.conv\.(weight|bias)$', '.lora_filter.conv.\\1'),
    (r'\.tad_filter\.(std|mean)$', '.lora_filter.chan_FilterNorm.\\1'),
]
_BUFFERS = ('.attn_mask', '.relative_position_index')
_REF_DECODER_TASK = re.compile(r'^(?:downsampler|decoders\.decoders)\.(\w+?)\.')
_OUR_DECODER = re.compile(r'^decoders\.(\w+)\.(reduce|fuse)\.(\d+)\.(\w+)$')
_TO_REFERENCE = {v: k for k, v in REFERENCE_TASK_NAMES.items()}


def _rename(name: str, rules) -> str:
    for pattern, repl in rules:
        new, hits = re.subn(pattern, repl, name)
        if hits:
            return new
    return name


def reference_task_order(state_dict: Mapping) -> List[str]:
    """Reference task names in the order their decoder keys first appear (the model's order)."""
    order: List[str] = []
    for key in state_dict:
        m = _REF_DECODER_TASK.match(key)
        if m and m.group(1) not in order:
            order.append(m.group(1))
    return order


def _permutation(src: Sequence[str], dst: Sequence[str]) -> List[int]:
    if sorted(src) != sorted(dst):
        raise ValueError(f'task sets differ: checkpoint {list(src)} vs model {list(dst)}')
    return [list(src).index(t) for t in dst]


def convert_tadformer_checkpoint(checkpoint: Mapping, ref_tasks: Optional[Sequence[str]] = None,
                                 tasks: Optional[Sequence[str]] = None
                                 ) -> Dict[str, torch.Tensor]:
    """Reference TADFormer state dict -> mtbench ``MultiTaskModel`` state dict.

    Args:
        checkpoint: the reference checkpoint or state dict (``{'model': sd}`` is unwrapped).
        ref_tasks: the reference task order (row order of ``task_prompts``); by default the
            order of the decoder keys.
        tasks: the mtbench model's task order; by default ``ref_tasks`` mapped to mtbench names.

    Returns:
        ``{name: tensor}`` for ``backbone.*`` and ``decoders.*`` (dtypes unchanged).

    Raises:
        KeyError: for a key outside the backbone that is not a decoder tensor.
        ValueError: when ``tasks`` and ``ref_tasks`` are not the same task set.
    """
    sd = extract_state_dict(checkpoint)
    ref_tasks = [to_mtbench_task(t) for t in (ref_tasks or reference_task_order(sd))]
    tasks = list(tasks) if tasks is not None else list(ref_tasks)
    out: Dict[str, torch.Tensor] = {}
    for key, value in sd.items():
        if not key.startswith('backbone.'):
            continue
        name = key[len('backbone.'):]
        if name.endswith(_BUFFERS):
            continue
        m = _STATIC_REF.search(name)
        if m:
            name = (name[:m.start()] + f'.tad_filter.{to_mtbench_task(m.group(1))}.'
                    f'{m.group(2)}')
        else:
            name = _rename(name, _BACKBONE_RULES)
        if name == 'tad_prompts' and ref_tasks and tasks != ref_tasks:
            value = value[_permutation(ref_tasks, tasks)]
        out[f'backbone.{name}'] = value
    out.update(convert_reference_decoders({k: v for k, v in sd.items()
                                           if not k.startswith('backbone.')}))
    return out


def to_reference_tadformer_checkpoint(state_dict: Mapping,
                                      tasks: Optional[Sequence[str]] = None,
                                      ref_tasks: Optional[Sequence[str]] = None
                                      ) -> Dict[str, torch.Tensor]:
    """Inverse of :func:`convert_tadformer_checkpoint` (without the dropped buffers).

    Args:
        state_dict: an mtbench TADFormer ``MultiTaskModel`` state dict.
        tasks: the model's task order; by default the order of its decoder keys.
        ref_tasks: the reference task order to write (reference names such as ``sal`` or mtbench
            names); by default ``tasks``.

    Returns:
        ``{reference name: tensor}``.
    """
    if tasks is None:
        tasks = []
        for key in state_dict:
            m = _OUR_DECODER.match(key)
            if m and m.group(1) not in tasks:
                tasks.append(m.group(1))
    tasks = list(tasks)
    ref_order = [to_mtbench_task(t) for t in ref_tasks] if ref_tasks is not None else tasks
    out: Dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        m = _OUR_DECODER.match(key)
        if m:
            task, part, idx, leaf = m.groups()
            ref = _TO_REFERENCE.get(task, task)
            name = (f'downsampler.{ref}.downsample_{idx}.{leaf}' if part == 'reduce'
                    else f'decoders.decoders.{ref}.last_layer.{idx}.{leaf}')
            out[name] = value
            continue
        if not key.startswith('backbone.'):
            raise KeyError(f'unexpected key {key!r}: expected backbone.* or decoders.<task>.*')
        name = key[len('backbone.'):]
        if name.endswith(_BUFFERS):
            continue
        s = _STATIC_OURS.search(name)
        if s and s.group(1) not in _DTF_OURS:
            ref = _TO_REFERENCE.get(s.group(1), s.group(1))
            name = name[:s.start()] + f'.lora_filter.{ref}.conv2d.{s.group(2)}'
        else:
            name = _rename(name, _INVERSE_RULES)
        if name == 'task_prompts' and tasks != ref_order:
            value = value[_permutation(tasks, ref_order)]
        out[f'backbone.{name}'] = value
    return out
