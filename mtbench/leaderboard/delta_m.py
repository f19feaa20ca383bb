"""Δm: the mean relative per-task change of a multi-task model against a single-task reference.

Δm (%) = 100 / T · Σ_t s_t · (M_t − M_ST,t) / M_ST,t, with s_t = +1 when higher is better and −1
when lower is better (``docs/leaderboard.md``; ``published_results.md`` §2).

Example:
    >>> delta_m({'semseg': 70.0, 'normals': 17.0}, {'semseg': 70.0, 'normals': 20.0},
    ...         {'semseg': True, 'normals': False})
    7.5
"""
import math
from collections.abc import Iterable, Mapping

from mtbench.tasks import TASKS

__all__ = ['delta_m', 'directions', 'mean_relative_gain', 'primary_reference']


def mean_relative_gain(terms: Iterable[tuple]) -> float:
    """The Δm formula itself: 100 / T · Σ_t s_t · (M_t − M_ST,t) / M_ST,t, in percent.

    The one definition of Δm in mtbench: :func:`delta_m` here and
    :func:`mtbench.evaluation.delta_m.delta_m` validate their inputs, then call this.

    Args:
        terms: one ``(M_t, M_ST,t, higher_is_better)`` triple per task (values as given: no
            conversion, no check for finite or non-zero references; the callers do that).

    Returns:
        Δm in percent.

    Raises:
        ValueError: ``terms`` is empty.
    """
    terms = list(terms)
    if not terms:
        raise ValueError('delta_m needs at least one task')
    total = 0.0
    for value, ref, higher_is_better in terms:
        sign = 1.0 if higher_is_better else -1.0
        total += sign * (value - ref) / ref
    return 100.0 * total / len(terms)


def delta_m(metrics: Mapping[str, float], reference: Mapping[str, float],
            higher_is_better: Mapping[str, bool]) -> float:
    """Δm in percent over the tasks of ``metrics``.

    Args:
        metrics: the multi-task model's primary metric per task, ``{task: value}``.
        reference: the single-task reference value per task (extra tasks are ignored).
        higher_is_better: metric direction per task.

    Returns:
        Δm in percent (``+2.45`` means 2.45 % better than the reference on average).

    Raises:
        ValueError: ``metrics`` is empty, a task is missing from ``reference`` or
            ``higher_is_better`` (the message names it), a value is not finite, or a reference
            value is zero.
    """
    terms = []
    for task, value in metrics.items():
        if task not in reference:
            raise ValueError(f'reference has no value for task {task!r}')
        if task not in higher_is_better:
            raise ValueError(f'no metric direction given for task {task!r}')
        ref = reference[task]
        if not (math.isfinite(value) and math.isfinite(ref)):
            raise ValueError(f'non-finite value for task {task!r}: {value!r} vs {ref!r}')
        if ref == 0:
            raise ValueError(f'reference value for task {task!r} is zero')
        terms.append((value, ref, higher_is_better[task]))
    return mean_relative_gain(terms)  # raises on an empty ``metrics``


def directions(tasks: Iterable[str]) -> dict:
    """``{task: higher_is_better}`` of each task's primary metric from ``mtbench.tasks.TASKS``."""
    return {task: TASKS[task].higher_is_better for task in tasks}


def primary_reference(table: Mapping, tasks: Iterable[str]) -> dict:
    """Pick each task's primary metric out of a reference table's ``metrics``.

    Args:
        table: a reference table ``{"metrics": {task: {metric: value}}, ...}`` (the format of
            ``leaderboard/baselines/<name>.json``).
        tasks: the tasks needed.

    Returns:
        ``{task: value}``.

    Raises:
        ValueError: naming the first task (or task's primary metric) the table lacks.
    """
    metrics = table.get('metrics') if isinstance(table, Mapping) else None
    if not isinstance(metrics, Mapping):
        raise ValueError('reference table has no "metrics" object')  # noqa: TRY004
    out = {}
    for task in tasks:
        key = TASKS[task].primary_metric
        entry = metrics.get(task)
        if not isinstance(entry, Mapping) or key not in entry:
            raise ValueError(f'reference has no {task}/{key} value for task {task!r}')
        out[task] = float(entry[key])
    return out
