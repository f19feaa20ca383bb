"""Trainable-parameter accounting: one definition used by hooks, records and tools."""
from typing import Dict

import torch.nn as nn
from tabulate import tabulate

__all__ = ['count_parameters', 'format_parameter_table']


def count_parameters(model: nn.Module) -> Dict:
    """Count parameters of a :class:`~mtbench.models.MultiTaskModel` by role.

    Returns:
        A dict with integer fields ``total`` (every parameter), ``trainable``
        (``requires_grad``), and the trainable split into ``backbone_added`` (parameters the
        method added: LoRA, adapters, prompts, ...), ``backbone_original`` (pretrained backbone
        weights left trainable), ``decoders`` (task decoders/heads), and into ``shared`` vs
        ``per_task`` (``{task: n}``: the task's decoder, or its own part of a decoder group,
        plus added parameters the method assigns to that task).
        ``trainable == backbone_added + backbone_original + decoders`` and
        ``trainable == shared + sum(per_task.values())``.
    """
    method = model.method
    per_task = {task: 0 for task in model.tasks}
    counts = dict(total=0, trainable=0, backbone_added=0, backbone_original=0, decoders=0)
    for name, param in model.named_parameters():
        n = param.numel()
        counts['total'] += n
        if not param.requires_grad:
            continue
        counts['trainable'] += n
        if name.startswith('decoders.'):
            counts['decoders'] += n
            task = model.decoder_task_of(name[len('decoders.'):])
            if task is not None:
                per_task[task] += n
        elif name.startswith('backbone.'):
            sub = name[len('backbone.'):]
            if method.is_added(sub):
                counts['backbone_added'] += n
                task = method.task_of(sub)
                if task is not None:
                    per_task[task] += n
            else:
                counts['backbone_original'] += n
        else:
            raise ValueError(f'parameter {name!r} is neither in the backbone nor in a decoder; '
                             'parameter accounting cannot classify it')
    counts['shared'] = counts['trainable'] - sum(per_task.values())
    counts['per_task'] = per_task
    return counts


def format_parameter_table(counts: Dict) -> str:
    """A plain-text table of :func:`count_parameters` for logs and the CLI."""
    rows = [(key, f'{counts[key]:,}') for key in
            ('total', 'trainable', 'backbone_added', 'backbone_original', 'decoders', 'shared')]
    rows += [(f'per_task.{task}', f'{n:,}') for task, n in counts['per_task'].items()]
    return tabulate(rows, headers=('parameters', 'count'), colalign=('left', 'right'))
