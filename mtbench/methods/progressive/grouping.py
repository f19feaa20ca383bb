"""Task-group trees of progressive task-specific adaptation: validation and grouping files.

A *grouping* lists, for every backbone stage, a partition of the tasks into groups, e.g. for
the four PASCAL tasks and a four-stage Swin::

    [[['semseg', 'human_parts', 'saliency', 'normals']],       # stage 0: shared
     [['semseg', 'human_parts', 'saliency', 'normals']],       # stage 1: shared
     [['semseg', 'human_parts'], ['saliency', 'normals']],     # stage 2: two groups
     [['semseg'], ['human_parts'], ['saliency'], ['normals']]]  # stage 3: task-specific

A stage entry may also be the string ``'shared'`` (one group of every task) or ``'task'`` (one
group per task). Each stage's groups must *refine* the previous stage's groups (every group lies
inside one group of the stage before), so that the groups form a tree rooted at the patch
embedding.

A grouping file is JSON with at least ``{"tasks": [...], "grouping": [...]}``; the task-similarity
tool (``tools/analysis/task_similarity.py``) writes it.
"""
import json
from typing import Dict, List, Optional, Sequence, Union

from mtbench.errors import ConfigError
from mtbench.fileio import write_text_atomic

__all__ = ['GroupingError', 'normalize_grouping', 'default_grouping', 'group_key',
           'parent_indices', 'load_grouping_file', 'save_grouping_file']

Grouping = List[List[List[str]]]
StageSpec = Union[str, Sequence[Sequence[str]]]


class GroupingError(ConfigError):
    """A grouping is not a valid tree of task partitions."""


def group_key(group: Sequence[str]) -> str:
    """The name of a group's parameters: its tasks joined by ``'+'`` (e.g. ``'semseg+depth'``)."""
    return '+'.join(group)


def default_grouping(tasks: Sequence[str], num_stages: int) -> Grouping:
    """All tasks shared in every stage but the last, which is task-specific."""
    return ([[list(tasks)] for _ in range(num_stages - 1)] +
            [[[t] for t in tasks]])


def _stage_groups(spec: StageSpec, tasks: Sequence[str], stage: int) -> List[List[str]]:
    if isinstance(spec, str):
        if spec == 'shared':
            return [list(tasks)]
        if spec == 'task':
            return [[t] for t in tasks]
        raise GroupingError(f"stage {stage}: a stage given as a string must be 'shared' or "
                            f"'task', got {spec!r}")
    if not isinstance(spec, (list, tuple)) or not all(isinstance(g, (list, tuple)) for g in spec):
        raise GroupingError(f'stage {stage}: expected a list of task groups (lists of task '
                            f'names), got {spec!r}')
    order = {t: i for i, t in enumerate(tasks)}
    seen: Dict[str, int] = {}
    groups = []
    for i, group in enumerate(spec):
        if not group:
            raise GroupingError(f'stage {stage}: group {i} is empty')
        for task in group:
            if task not in order:
                raise GroupingError(f'stage {stage}: unknown task {task!r}; the model tasks '
                                    f'are {list(tasks)}')
            if task in seen:
                raise GroupingError(f'stage {stage}: task {task!r} is in two groups '
                                    f'({seen[task]} and {i})')
            seen[task] = i
        groups.append(sorted(group, key=order.__getitem__))
    missing = [t for t in tasks if t not in seen]
    if missing:
        raise GroupingError(f'stage {stage}: tasks {missing} are in no group; every stage must '
                            f'partition all tasks {list(tasks)}')
    return sorted(groups, key=lambda g: order[g[0]])


def normalize_grouping(grouping: Optional[Sequence[StageSpec]], tasks: Sequence[str],
                       num_stages: int) -> Grouping:
    """Validate a grouping and put it in canonical order.

    Tasks inside a group follow ``tasks``; groups are ordered by their first task.

    Args:
        grouping: one entry per stage (list of task groups, ``'shared'`` or ``'task'``),
            ``'shared'`` / ``'task'`` for every stage, or ``None`` for :func:`default_grouping`.
        tasks: the model's tasks.
        num_stages: number of backbone stages.

    Raises:
        GroupingError: wrong number of stages, a stage that is not a partition of the tasks, or a
            stage whose groups do not refine the previous stage's groups.
    """
    tasks = list(tasks)
    if grouping is None:
        return default_grouping(tasks, num_stages)
    if isinstance(grouping, str):
        grouping = [grouping] * num_stages
    if len(grouping) != num_stages:
        raise GroupingError(f'grouping must have one entry per backbone stage ({num_stages}), '
                            f'got {grouping!r}')
    stages = [_stage_groups(spec, tasks, s) for s, spec in enumerate(grouping)]
    for s in range(1, num_stages):
        for group in stages[s]:
            if not any(set(group) <= set(parent) for parent in stages[s - 1]):
                raise GroupingError(
                    f'stage {s}: group {group} spans several groups of stage {s - 1} '
                    f'({stages[s - 1]}); groups may only split from one stage to the next '
                    f'(a tree), never merge')
    return stages


def parent_indices(previous: Sequence[Sequence[str]], groups: Sequence[Sequence[str]]
                   ) -> List[int]:
    """For each group, the index of the group of the previous stage that contains it."""
    return [next(i for i, p in enumerate(previous) if set(g) <= set(p)) for g in groups]


def load_grouping_file(path: str, tasks: Optional[Sequence[str]] = None) -> Grouping:
    """Read the ``grouping`` of a grouping file (or a bare JSON list).

    Args:
        path: JSON file.
        tasks: if given, the file's ``tasks`` must be the same set.

    Raises:
        GroupingError: the file has no grouping or names other tasks.
    """
    with open(path) as f:
        data = json.load(f)
    grouping = data.get('grouping') if isinstance(data, dict) else data
    if not isinstance(grouping, list):
        raise GroupingError(f'{path}: expected a JSON list or an object with a "grouping" list')
    file_tasks = data.get('tasks') if isinstance(data, dict) else None
    if tasks is not None and file_tasks is not None and set(file_tasks) != set(tasks):
        raise GroupingError(f'{path} groups tasks {file_tasks}, the model has {list(tasks)}')
    return grouping


def save_grouping_file(path: str, grouping: Grouping, tasks: Sequence[str], **extra) -> None:
    """Write ``{"tasks", "grouping", **extra}`` as JSON (after validating the tree)."""
    grouping = normalize_grouping(grouping, tasks, len(grouping))
    write_text_atomic(path, json.dumps(dict(tasks=list(tasks), grouping=grouping, **extra),
                                       indent=2) + '\n')
