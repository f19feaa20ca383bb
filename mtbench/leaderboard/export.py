"""``leaderboard/<dataset>.csv``: every row of every section of one dataset, unformatted.

Example:
    >>> frame = sections_frame(sections + suite)  # doctest: +SKIP
    >>> frame.to_csv('leaderboard/pascal-mt.csv', index=False)  # doctest: +SKIP
"""
from collections.abc import Sequence

import pandas as pd

from mtbench.leaderboard.aggregate import Section, Stat
from mtbench.fileio import atomic_open
from mtbench.leaderboard.records import EFFICIENCY_FIELDS
from mtbench.tasks import TASKS

__all__ = ['CSV_DIGITS', 'sections_frame', 'write_csv']

CSV_DIGITS = 6


def _num(value: float | None):
    return None if value is None else round(float(value), CSV_DIGITS)


def _mean_std(prefix: str, value: Stat | None) -> dict:
    return {prefix: _num(value.mean) if value else None,
            f'{prefix} std': _num(value.std) if value else None}


def sections_frame(sections: Sequence[Section]) -> pd.DataFrame:
    """One CSV row per section row (a record group may appear once per reference).

    Args:
        sections: multi-task and single-task sections of one dataset.

    Returns:
        A DataFrame whose columns are the section keys, the row identity, per-task primary metrics
        (``<task>/<metric>`` and ``... std``), Δm, parameters and efficiency figures.
    """
    tasks = [t for t in TASKS if any(t in s.tasks for s in sections)]
    records = []
    for sec in sections:
        single = sec.reference.key == 'st:'
        for row in sec.rows:
            item = {'dataset': sec.dataset, 'dataset variant': sec.dataset_variant,
                    'dataset checksum': sec.checksum, 'split': sec.split,
                    'num images': ' '.join(str(n) for n in sec.num_images),
                    'kind': 'single-task run' if single else 'multi-task',
                    'tasks': ' '.join(sec.tasks if not single else row.metrics),
                    'reference': '' if single else sec.reference.key,
                    'method': row.method, 'variant': row.variant,
                    'config names': ' '.join(row.config_names), 'backbone': row.backbone,
                    'pretrained': row.pretrained or 'random init',
                    'seeds': ' '.join(str(s) for s in row.seeds), 'n seeds': len(row.seeds)}
            for task in tasks:
                item.update(_mean_std(f'{task}/{TASKS[task].primary_metric}',
                                      row.metrics.get(task)))
            item.update(_mean_std('delta_m', row.delta))
            item['pareto'] = bool(row.pareto) if not single else None
            for key in ('trainable', 'backbone_added', 'backbone_original', 'decoders',
                        'shared', 'total'):
                item[f'params {key}'] = row.params[key]
            for key in EFFICIENCY_FIELDS:
                value = row.efficiency[key]
                item[key] = _num(value.mean) if value else None
            item['hardware'] = row.hardware
            item['run peak_memory_mb'] = _num(row.run_peak_memory.mean) if \
                row.run_peak_memory else None
            item['notes'] = '; '.join(row.notes)
            records.append(item)
    return pd.DataFrame.from_records(records)


def write_csv(sections: Sequence[Section], path) -> None:
    """Write :func:`sections_frame` to ``path`` (``\\n`` line ends, UTF-8)."""
    with atomic_open(path, 'w', newline='') as f:
        sections_frame(sections).to_csv(f, index=False, lineterminator='\n')
