"""Δm: mean relative gain over single-task references, and the reference tables.

Δm = 100 / T · Σ_t s_t · (M_t − M_ST,t) / M_ST,t, with s_t = +1 when the task's metric is
higher-is-better and −1 otherwise (``mtbench.tasks.TASKS``); the formula itself is
:func:`mtbench.leaderboard.delta_m.mean_relative_gain` (light: it imports only
``mtbench.tasks``), which :func:`delta_m` calls after reading and checking the metrics. Reference
tables are JSON files in
``leaderboard/baselines/`` (``{"name", "source", "dataset", "metrics": {task: {key: value}}}``,
values in mtbench's units: percent, degrees, metres).
"""
import json
from pathlib import Path
from typing import Dict, Mapping, Optional, Sequence, Union

from mtbench.errors import MissingPathError
from mtbench.leaderboard.delta_m import mean_relative_gain
from mtbench.tasks import TASKS

from .base import lower_is_better_keys

__all__ = ['delta_m', 'load_reference', 'available_references', 'BASELINES_DIR',
           'nested_metrics']

#: folder of the bundled reference tables
BASELINES_DIR = Path(__file__).resolve().parents[2] / 'leaderboard' / 'baselines'


def available_references() -> list:
    """Names of the reference tables in :data:`BASELINES_DIR`."""
    return sorted(p.stem for p in BASELINES_DIR.glob('*.json'))


def load_reference(name_or_path: Union[str, Path, Mapping]) -> dict:
    """Load a reference table from a JSON path or a name in :data:`BASELINES_DIR`.

    Args:
        name_or_path: a path to a JSON file, a table name such as
            ``'pascal-mt_swin-t_published'``, or an already loaded table (returned as is).

    Returns:
        The table: a dict with at least ``metrics`` (``{task: {key: value}}``) and ``name``.

    Raises:
        FileNotFoundError: naming the bundled tables when nothing matches.
        ValueError: when the file has no ``metrics`` mapping.
    """
    if isinstance(name_or_path, Mapping):
        table = dict(name_or_path)
    else:
        path = Path(name_or_path)
        if not path.is_file():
            path = BASELINES_DIR / f'{name_or_path}.json'
        if not path.is_file():
            raise MissingPathError(
                f'No reference table {str(name_or_path)!r}; bundled tables: '
                f'{", ".join(available_references()) or "none"} (in {BASELINES_DIR})')
        table = json.loads(path.read_text())
        table.setdefault('name', path.stem)
    if not isinstance(table.get('metrics'), Mapping):
        raise ValueError(f'Reference table {table.get("name")!r} has no "metrics" mapping')
    return table


def nested_metrics(results: Mapping) -> Dict[str, Dict[str, float]]:
    """``{'semseg/mIoU': v}`` or ``{'semseg': {'mIoU': v}}`` → ``{'semseg': {'mIoU': v}}``."""
    out: Dict[str, Dict[str, float]] = {}
    for key, value in results.items():
        if isinstance(value, Mapping):
            out.setdefault(key, {}).update(value)
        elif isinstance(key, str) and '/' in key:
            task, metric = key.split('/', 1)
            out.setdefault(task, {})[metric] = value
    return out


def _higher_is_better(task: str, key: str) -> bool:
    if key == TASKS[task].primary_metric:
        return TASKS[task].higher_is_better
    return key not in lower_is_better_keys.get(task, set())


def delta_m(results: Mapping, reference: Union[str, Path, Mapping],
            tasks: Optional[Sequence[str]] = None,
            primary: Optional[Mapping[str, str]] = None) -> float:
    """Δm in percent of ``results`` against a single-task reference.

    Args:
        results: metrics, flat (``{'semseg/mIoU': 67.5}``) or nested
            (``{'semseg': {'mIoU': 67.5}}``), in mtbench's units.
        reference: a reference table (see :func:`load_reference`: path, bundled name or dict),
            or directly a nested ``{task: {key: value}}`` mapping.
        tasks: tasks to average over; default: every known task present in ``results``.
        primary: optional ``{task: metric key}`` overriding ``TASKS[task].primary_metric``
            (e.g. ``{'saliency': 'maxF'}``); the direction follows the key.

    Returns:
        Δm in percent (the papers' unit; the reference code returns a fraction).

    Raises:
        ValueError: naming the task when the reference or the results lack its metric, when a
            reference value is 0, or when no task is given.
    """
    res = nested_metrics(results)
    if isinstance(reference, Mapping) and 'metrics' not in reference:
        ref = nested_metrics(reference)
        ref_name = 'the given reference'
    else:
        table = load_reference(reference)
        ref = nested_metrics(table['metrics'])
        ref_name = repr(table.get('name', 'reference'))
    if tasks is None:
        tasks = [t for t in TASKS if t in res]
    primary = dict(primary or {})
    terms = []
    for task in tasks:
        if task not in TASKS:
            raise ValueError(f'Unknown task {task!r}; known tasks: {", ".join(TASKS)}')
        key = primary.get(task, TASKS[task].primary_metric)
        ref_value = ref.get(task, {}).get(key)
        if ref_value is None:
            raise ValueError(f'Reference {ref_name} has no {task}/{key} value, so Δm cannot '
                             f'include task {task!r}')
        value = res.get(task, {}).get(key)
        if value is None:
            raise ValueError(f'Results have no {task}/{key} value for task {task!r}')
        if ref_value == 0:
            raise ValueError(f'Reference {ref_name} has {task}/{key} = 0; Δm is undefined')
        terms.append((float(value), float(ref_value), _higher_is_better(task, key)))
    return mean_relative_gain(terms)  # raises 'delta_m needs at least one task' on no task
