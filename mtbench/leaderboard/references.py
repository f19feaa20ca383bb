"""Single-task references for Δm: baseline tables and the suite's own single-task runs.

A record names its reference in ``delta_m.reference``. The name is looked up in the baseline tables
(``leaderboard/baselines/<name>.json``: ``{"name", "source", "dataset", "metrics": {task:
{metric: value}}}``). The names in :data:`SUITE_ALIASES` instead mean "the suite's own single-task
runs": records with ``method == 'single_task'`` and one task, on the same dataset variant/checksum
and split, with the same backbone and pretrained weights.

Example:
    >>> tables, problems = load_baselines('leaderboard/baselines')  # doctest: +SKIP
"""
import json
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.leaderboard.records import is_number, primary_values
from mtbench.tasks import TASKS

__all__ = ['SUITE_ALIASES', 'SUITE_METHOD', 'Reference', 'SuiteChoice', 'dataset_key',
           'is_single_task_record', 'load_baselines', 'named_reference', 'suite_reference',
           'suite_tables']

SUITE_METHOD = 'single_task'
SUITE_ALIASES = ('single_task', 'suite', 'suite-single-task')


@dataclass(frozen=True)
class Reference:
    """A single-task reference as a section of the leaderboard uses it.

    Attributes:
        key: identity of the reference (``baseline:<name>``, ``suite:<backbone>|<weights>`` or
            ``none:``); sections never mix keys.
        label: what the section caption says about the reference.
        values: ``{task: primary metric value}``.
        problem: why Δm cannot be computed against it at all (None when it can).
    """
    key: str
    label: str
    values: dict = field(default_factory=dict)
    problem: str | None = None

    @property
    def order(self) -> tuple:
        """Sort key: baselines by name, then suite references, then 'no reference'."""
        return ({'baseline': 0, 'suite': 1}.get(self.key.split(':', 1)[0], 2), self.key)


@dataclass(frozen=True)
class SuiteChoice:
    """The single-task runs that give one task's suite reference value."""
    task: str
    variant: str
    seeds: tuple
    value: float


def dataset_key(record: Mapping) -> tuple:
    """``(name, variant, checksum, split)``: records with different keys are never compared."""
    ds = record['dataset']
    return ds['name'], ds['variant'], ds['checksum'], ds['split']


def _backbone(record: Mapping) -> tuple:
    return record['backbone']['name'], record['backbone']['pretrained'] or 'random init'


def is_single_task_record(record: Mapping) -> bool:
    """True for the suite's own single-task reference runs."""
    return record['method'] == SUITE_METHOD and len(record['tasks']) == 1


def load_baselines(directory) -> tuple[dict, list[str]]:
    """Read every ``<name>.json`` reference table in ``directory``.

    Args:
        directory: ``leaderboard/baselines`` (may be absent).

    Returns:
        ``({name: table}, problems)``; a table's name is its ``name`` field (else the file stem).
    """
    tables, problems = {}, []
    directory = Path(directory)
    for path in sorted(directory.glob('*.json')) if directory.is_dir() else []:
        try:
            table = json.loads(path.read_text(encoding='utf-8'))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f'{path}: cannot read baseline table: {exc}')
            continue
        if not isinstance(table, dict) or not isinstance(table.get('metrics'), dict):
            problems.append(f'{path}: baseline table needs a "metrics" object')
            continue
        name = table.get('name') or path.stem
        if name in tables:
            problems.append(f'{path}: baseline name {name!r} defined twice; first one kept')
            continue
        tables[name] = table
    return tables, problems


def _table_values(table: Mapping) -> dict:
    values = {}
    for task, entry in table['metrics'].items():
        key = TASKS[task].primary_metric if task in TASKS else None
        if isinstance(entry, Mapping) and key in entry and is_number(entry[key]):
            values[task] = float(entry[key])
    return values


def _fmt_values(values: Mapping) -> str:
    return ', '.join(f'{t} {TASKS[t].primary_metric} {v:g}' for t, v in values.items())


def named_reference(record: Mapping, baselines: Mapping) -> Reference | None:
    """The baseline table the record names (None for no name or a suite alias)."""
    dm = record.get('delta_m')
    if not dm or not dm.get('reference') or dm['reference'] in SUITE_ALIASES:
        return None
    name = dm['reference']
    table = baselines.get(name)
    if table is None:
        return Reference(f'baseline:{name}', f'`{name}` (not found among the baseline tables)',
                         problem=f'reference table {name!r} not found')
    values = _table_values(table)
    label = f'`{name}`'
    if table.get('source'):
        label += f' ({table["source"]})'
    label += f': {_fmt_values(values)}'
    if table.get('dataset') not in (None, record['dataset']['name']):
        return Reference(f'baseline:{name}', label,
                         values, f'reference {name!r} is for dataset {table["dataset"]!r}')
    return Reference(f'baseline:{name}', label, values)


def suite_tables(records: Sequence[Mapping]) -> dict:
    """Suite single-task reference values.

    Args:
        records: valid records; only :func:`is_single_task_record` ones are used.

    Returns:
        ``{(dataset_key, backbone, weights): {task: SuiteChoice}}``. When several single-task
        variants exist for a task, the one with the most seeds is used (ties: variant name).
    """
    runs: dict = {}
    for rec in records:
        if is_single_task_record(rec):
            task = rec['tasks'][0]
            group = runs.setdefault((dataset_key(rec), *_backbone(rec)), {})
            seeds = group.setdefault(task, {}).setdefault(rec['variant'], {})
            seeds[rec['seed']] = primary_values(rec)[task]
    tables = {}
    for key, by_task in sorted(runs.items()):
        table = {}
        for task, variants in sorted(by_task.items()):
            variant = sorted(variants, key=lambda v: (-len(variants[v]), v))[0]
            seeds = variants[variant]
            table[task] = SuiteChoice(task, variant, tuple(sorted(seeds)),
                                      statistics.fmean(seeds[s] for s in sorted(seeds)))
        tables[key] = table
    return tables


def suite_reference(record: Mapping, tables: Mapping) -> Reference | None:
    """The suite single-task reference for a record, or None when it does not cover its tasks."""
    backbone, weights = _backbone(record)
    table = tables.get((dataset_key(record), backbone, weights))
    if not table or any(t not in table for t in record['tasks']):
        return None
    parts = [f'{c.task} {TASKS[c.task].primary_metric} {c.value:.2f} ({c.variant}, '
             f'{len(c.seeds)} seed{"s" if len(c.seeds) > 1 else ""})' for c in table.values()]
    label = (f'the suite\'s own single-task runs (backbone {backbone}, {weights}): '
             + '; '.join(parts))
    return Reference(f'suite:{backbone}|{weights}', label,
                     {t: c.value for t, c in table.items()})
