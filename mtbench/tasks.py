"""The dense prediction tasks mtbench knows, and their conventions.

Example:
    >>> from mtbench.tasks import TASKS
    >>> TASKS['normals'].higher_is_better
    False
"""
from dataclasses import dataclass, field
from typing import Dict, Optional

from mtbench.errors import ConfigError

__all__ = ['TaskSpec', 'TASKS', 'num_outputs', 'check_tasks']


@dataclass(frozen=True)
class TaskSpec:
    """Conventions of one task.

    Attributes:
        name: task name used in configs, records and metric keys.
        kind: 'labels' (int64 class map), 'binary' (int64 0/1 map, one logit),
            'vector' (float32 3-channel unit vectors) or 'scalar' (float32 map).
        ignore_value: value marking ignored ground-truth pixels (for 'vector' the all-zero vector).
        outputs: number of network output channels per dataset name.
        primary_metric: the metric key that Δm uses.
        higher_is_better: direction of ``primary_metric``.
        loss_weight: the reference code's loss weight.
    """
    name: str
    kind: str
    ignore_value: float
    outputs: Dict[str, int] = field(default_factory=dict)
    primary_metric: str = 'mIoU'
    higher_is_better: bool = True
    loss_weight: float = 1.0


TASKS: Dict[str, TaskSpec] = {
    'semseg': TaskSpec('semseg', 'labels', 255, {'pascal-mt': 21, 'nyud-mt': 40}, 'mIoU', True,
                       1.0),
    'human_parts': TaskSpec('human_parts', 'labels', 255, {'pascal-mt': 7}, 'mIoU', True, 2.0),
    'saliency': TaskSpec('saliency', 'binary', 255, {'pascal-mt': 1}, 'mIoU', True, 5.0),
    'normals': TaskSpec('normals', 'vector', 0, {'pascal-mt': 3, 'nyud-mt': 3}, 'mean', False,
                        10.0),
    'edge': TaskSpec('edge', 'binary', 255, {'pascal-mt': 1, 'nyud-mt': 1}, 'odsF', True, 50.0),
    'depth': TaskSpec('depth', 'scalar', 0, {'nyud-mt': 1}, 'rmse', False, 1.0),
}


def check_tasks(tasks, dataset: Optional[str] = None) -> None:
    """Raise a ConfigError (a ValueError) naming an unknown task, or one the dataset lacks."""
    for task in tasks:
        if task not in TASKS:
            raise ConfigError(f'Unknown task {task!r}; known tasks: {", ".join(TASKS)}')
        if dataset is not None and dataset not in TASKS[task].outputs:
            have = [t for t, s in TASKS.items() if dataset in s.outputs]
            raise ConfigError(f'Task {task!r} is not available on dataset {dataset!r}; '
                             f'it provides: {", ".join(have)}')


def num_outputs(task: str, dataset: str) -> int:
    """Number of output channels of ``task`` on ``dataset`` (e.g. semseg on nyud-mt: 40)."""
    check_tasks([task], dataset)
    return TASKS[task].outputs[dataset]
