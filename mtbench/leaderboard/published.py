"""Published reference rows (``leaderboard/published/<dataset>.csv``) and their audit.

Each row's Δm is recomputed from its per-task numbers against the single-task row of the same
paper's table (same ``paper`` and dataset) and flagged when it differs from the published Δm by
more than ``tolerance`` (0.05 points). Where mtbench knows its own trainable-parameter count for
the configuration (``param_counts.json``), both counts are kept, with a note when they differ at the
paper's precision.

Example:
    >>> rows = load_published('leaderboard/published/pascal-mt.csv')  # doctest: +SKIP
    >>> [a.method for a in audit_published(rows) if a.flagged]  # doctest: +SKIP
    ['MTL full fine-tuning', ...]
"""
import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.leaderboard.delta_m import delta_m, directions
from mtbench.tasks import TASKS

__all__ = ['PUBLISHED_COLUMNS', 'SINGLE_TASK_METHOD', 'AuditedRow', 'audit_published',
           'load_param_counts', 'load_published', 'task_columns']

# CSV column of each task's primary metric (the numbers Δm uses).
PUBLISHED_COLUMNS = {'semseg': 'semseg_miou', 'human_parts': 'human_parts_miou',
                     'saliency': 'saliency_miou', 'normals': 'normals_mean_err',
                     'edge': 'edge_odsf', 'depth': 'depth_rmse'}
SINGLE_TASK_METHOD = 'Single-task full fine-tuning'
_REQUIRED = ('paper', 'method', 'variant', 'trainable_params_M', 'delta_m_pct', 'table_ref',
             'notes', 'mtbench_dataset', 'duplicate_of', 'audit', *PUBLISHED_COLUMNS.values())


@dataclass
class AuditedRow:
    """One published row with its audit.

    Attributes:
        raw: the CSV row (all columns, strings).
        metrics: ``{task: value}`` of the primary metrics the row gives.
        published: the published Δm (None when not given).
        recomputed: Δm recomputed from ``metrics`` (None when not possible).
        flagged: True when ``|recomputed - published| > tolerance``.
        params_paper_m: the paper's trainable parameters in millions (None when not given).
        params_mtbench: mtbench's own count for this configuration (None when unknown).
        config_mtbench: the mtbench config that runs this configuration (None when unknown).
        notes: audit remarks (why no recomputation, the parameter mismatch, ...).
    """
    raw: dict
    metrics: dict
    published: float | None
    recomputed: float | None
    flagged: bool
    params_paper_m: float | None
    params_mtbench: int | None
    config_mtbench: str | None = None
    notes: list = field(default_factory=list)

    @property
    def method(self) -> str:
        """The row's method name."""
        return self.raw['method']

    @property
    def difference(self) -> float | None:
        """``recomputed - published`` (None when either is missing)."""
        if self.recomputed is None or self.published is None:
            return None
        return self.recomputed - self.published


def _float(text: str) -> float | None:
    text = (text or '').strip()
    return float(text) if text else None


def load_published(path) -> list[dict]:
    """Read one published CSV.

    Args:
        path: ``leaderboard/published/<dataset>.csv``.

    Returns:
        The rows as dicts of strings, in file order.

    Raises:
        ValueError: a required column is missing.
    """
    with Path(path).open(newline='', encoding='utf-8') as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in _REQUIRED if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f'{path}: missing column(s) {", ".join(missing)}')
        return list(reader)


def load_param_counts(path) -> list[dict]:
    """Read ``param_counts.json`` (``{"counts": [...]}``); an absent file gives ``[]``.

    Each entry: ``dataset``, ``method`` and ``variant_regex`` (which published rows it matches),
    ``configuration`` (in words), ``trainable`` (mtbench's count), ``source`` and, where mtbench
    has one, ``config``: the config file that runs the configuration.
    """
    path = Path(path)
    if not path.is_file():
        return []
    return list(json.loads(path.read_text(encoding='utf-8'))['counts'])


def _row_metrics(row: Mapping) -> dict:
    out = {}
    for task, column in PUBLISHED_COLUMNS.items():
        value = _float(row.get(column, ''))
        if value is not None:
            out[task] = value
    return out


def _match_count(row: Mapping, counts: Sequence[Mapping]) -> Mapping | None:
    for entry in counts:
        if (entry['dataset'] == row['mtbench_dataset'] and entry['method'] == row['method']
                and re.search(entry.get('variant_regex', ''), row['variant'])):
            return entry
    return None


def _recompute(row: Mapping, metrics: dict, reference: Mapping | None, notes: list):
    if row['method'] == SINGLE_TASK_METHOD:
        return 0.0 if metrics else None
    if not metrics:
        notes.append('no per-task numbers: Δm not recomputed')
        return None
    if reference is None:
        notes.append('no single-task row in this paper\'s table: Δm not recomputed')
        return None
    ref = _row_metrics(reference)
    missing = [t for t in ref if t not in metrics]
    if missing:
        notes.append(f'per-task numbers missing for {", ".join(missing)}: Δm not recomputed')
        return None
    tasks = list(ref)
    return delta_m({t: metrics[t] for t in tasks}, ref, directions(tasks))


def audit_published(rows: Sequence[Mapping], param_counts: Sequence[Mapping] = (),
                    tolerance: float = 0.05) -> list[AuditedRow]:
    """Recompute each row's Δm and compare parameter counts.

    Args:
        rows: rows from :func:`load_published` (one or several datasets).
        param_counts: entries from :func:`load_param_counts`.
        tolerance: largest |recomputed − published| Δm not flagged, in points.

    Returns:
        One :class:`AuditedRow` per input row, in input order.
    """
    references = {}
    for row in rows:
        if row['method'] == SINGLE_TASK_METHOD:
            references.setdefault((row['paper'], row['mtbench_dataset']), row)
    audited = []
    for row in rows:
        notes: list = []
        metrics = _row_metrics(row)
        reference = references.get((row['paper'], row['mtbench_dataset']))
        recomputed = _recompute(row, metrics, reference, notes)
        published = _float(row['delta_m_pct'])
        flagged = (recomputed is not None and published is not None
                   and round(abs(recomputed - published), 9) > tolerance)
        if flagged:
            notes.insert(0, f'published Δm {published:+.2f} but the per-task numbers give '
                            f'{recomputed:+.3f} (difference {recomputed - published:+.3f})')
        paper_m = _float(row['trainable_params_M'])
        entry = _match_count(row, param_counts)
        ours = int(entry['trainable']) if entry else None
        if ours is not None and paper_m is not None and round(ours / 1e6, 2) != round(paper_m, 2):
            notes.append(f'params: paper {paper_m:.2f}M, mtbench counts {ours:,} '
                         f'({ours / 1e6:.2f}M) for {entry["configuration"]}')
        audited.append(AuditedRow(dict(row), metrics, published, recomputed, flagged, paper_m,
                                  ours, entry.get('config') if entry else None, notes))
    return audited


def task_columns(rows: Sequence[AuditedRow]) -> list[str]:
    """Tasks that any row gives a number for, in ``TASKS`` order."""
    present = {t for row in rows for t in row.metrics}
    return [t for t in TASKS if t in present]
