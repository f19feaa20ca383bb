"""Records → sections → rows: grouping, Δm against each reference, mean ± std over seeds.

A section holds the records of one dataset variant (name, variant, checksum, split), one task set
and one single-task reference; sections are never merged. Within a section, records with the same
method, variant, backbone and pretrained weights form one row (one entry per seed).

Example:
    >>> sections, suite = build_sections(records, baselines)  # doctest: +SKIP
"""
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from mtbench.leaderboard.delta_m import delta_m, directions
from mtbench.leaderboard.records import EFFICIENCY_FIELDS, primary_values
from mtbench.leaderboard.references import (SUITE_ALIASES, Reference, dataset_key,
                                            is_single_task_record, named_reference,
                                            suite_reference, suite_tables)
from mtbench.tasks import TASKS

__all__ = ['STORED_DM_TOLERANCE', 'Row', 'Section', 'Stat', 'build_sections', 'pareto_front',
           'stat']

STORED_DM_TOLERANCE = 0.05
_NO_REFERENCE = Reference('none:', 'none: the records name no reference table and no suite '
                          'single-task runs cover their tasks', problem='no reference')


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation (None for one value) and count of a per-seed quantity."""
    mean: float
    std: float | None
    n: int


def stat(values: Sequence[float]) -> Stat | None:
    """:class:`Stat` of ``values`` (None when empty)."""
    values = [float(v) for v in values]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else None
    return Stat(statistics.fmean(values), std, len(values))


@dataclass
class Row:
    """One (method, variant, backbone, weights) entry of a section, aggregated over seeds."""
    method: str
    variant: str
    backbone: str
    pretrained: str | None
    config_names: list
    seeds: list
    metrics: dict
    delta: Stat | None
    params: dict
    efficiency: dict
    hardware: str | None
    run_peak_memory: Stat | None
    notes: list = field(default_factory=list)
    pareto: bool = False


@dataclass
class Section:
    """Rows sharing one dataset variant, task set and single-task reference."""
    dataset: str
    dataset_variant: str
    checksum: str
    split: str
    num_images: list
    tasks: tuple
    reference: Reference
    rows: list = field(default_factory=list)

    @property
    def hardware(self) -> list:
        """Distinct hardware strings of the rows' efficiency figures."""
        return sorted({r.hardware for r in self.rows if r.hardware is not None})

    @property
    def slug(self) -> str:
        """File-name-safe identifier (used for plot names)."""
        ref = self.reference.key.replace(':', '-')
        text = '_'.join([self.dataset, self.dataset_variant, self.checksum.split(':')[-1][:8],
                         self.split, '-'.join(self.tasks), ref])
        return ''.join(c if c.isalnum() or c in '._-' else '-' for c in text).strip('-')


def _row(records: list, tasks: tuple, reference: Reference) -> Row:
    records = sorted(records, key=lambda r: (r['seed'], r['created']))
    first = records[0]
    notes = []
    seeds = [r['seed'] for r in records]
    for seed in sorted({s for s in seeds if seeds.count(s) > 1}):
        notes.append(f'seed {seed} appears {seeds.count(seed)} times')
    metrics = {t: stat([primary_values(r)[t] for r in records]) for t in tasks}
    deltas = []
    if reference.problem is None:
        for rec in records:
            try:
                value = delta_m(primary_values(rec), reference.values, directions(tasks))
            except ValueError as exc:
                notes.append(f'seed {rec["seed"]}: Δm not computed: {exc}')
                continue
            deltas.append(value)
            dm = rec.get('delta_m') or {}
            named = reference.key.split(':', 1)[-1] == dm.get('reference') or (
                reference.key.startswith('suite:') and dm.get('reference') in SUITE_ALIASES)
            if named and dm.get('value') is not None and \
                    abs(dm['value'] - value) > STORED_DM_TOLERANCE:
                notes.append(f'seed {rec["seed"]}: record stores Δm {dm["value"]:+.2f}, '
                             f'recomputed {value:+.2f}')
    changed = sorted({k for r in records for k, v in r['params'].items()
                      if v != first['params'].get(k)})
    if changed:
        notes.append(f'params differ between seeds ({", ".join(changed)}); seed '
                     f'{first["seed"]} shown')
    efficiency, hardware = {}, set()
    for key in EFFICIENCY_FIELDS:
        efficiency[key] = stat([r['efficiency'][key] for r in records
                                if (r.get('efficiency') or {}).get(key) is not None])
    for rec in records:
        eff = rec.get('efficiency') or {}
        if any(eff.get(k) is not None for k in EFFICIENCY_FIELDS):
            hardware.add(eff.get('hardware') or 'unknown hardware')
    if len(hardware) > 1:
        notes.append('efficiency figures of different seeds come from different hardware')
    memory_kinds = {(r.get('efficiency') or {}).get('peak_memory_kind') for r in records
                    if (r.get('efficiency') or {}).get('peak_memory_mb') is not None} - {None}
    if len(memory_kinds) > 1:
        notes.append('peak memory of different seeds measures different quantities ('
                     + ', '.join(sorted(memory_kinds)) + '): re-measure them together')
    return Row(first['method'], first['variant'], first['backbone']['name'],
               first['backbone']['pretrained'], sorted({r['config_name'] for r in records}),
               seeds, metrics, stat(deltas) if len(deltas) == len(records) else None,
               dict(first['params']), efficiency, ' + '.join(sorted(hardware)) or None,
               stat([r['peak_memory_mb'] for r in records if r['peak_memory_mb'] is not None]),
               notes)


def pareto_front(points: Sequence[tuple]) -> list[bool]:
    """Which ``(params, delta_m)`` points no other point dominates (fewer-or-equal parameters and
    higher-or-equal Δm, one of them strictly); points with a None coordinate are never on it."""
    flags = []
    for i, (p, d) in enumerate(points):
        if p is None or d is None:
            flags.append(False)
            continue
        flags.append(not any(j != i and q is not None and e is not None and q <= p and e >= d
                             and (q < p or e > d) for j, (q, e) in enumerate(points)))
    return flags


def _row_order(row: Row) -> tuple:
    delta = row.delta.mean if row.delta is not None else -math.inf
    return -delta, row.method, row.variant, row.backbone, row.pretrained or ''


def _sections(groups: Mapping, refs: Mapping) -> list[Section]:
    sections = []
    for (dkey, tasks, ref_key), records in groups.items():
        num_images = sorted({r['dataset']['num_images'] for r in records})
        section = Section(*dkey, num_images, tasks, refs[ref_key])
        rows: dict = {}
        for rec in records:
            rows.setdefault((rec['method'], rec['variant'], rec['backbone']['name'],
                             rec['backbone']['pretrained'] or ''), []).append(rec)
        section.rows = sorted((_row(v, tasks, section.reference) for v in rows.values()),
                              key=_row_order)
        flags = pareto_front([(r.params['trainable'], r.delta.mean if r.delta else None)
                              for r in section.rows])
        for row, flag in zip(section.rows, flags, strict=True):
            row.pareto = flag
        sections.append(section)
    return sorted(sections, key=lambda s: (s.dataset, s.dataset_variant, s.checksum, s.split,
                                           -len(s.tasks), s.tasks, s.reference.order))


def build_sections(records: Sequence[Mapping], baselines: Mapping) -> tuple[list, list]:
    """Group valid records into leaderboard sections.

    Args:
        records: valid records (see :func:`mtbench.leaderboard.records.validate_record`).
        baselines: ``{name: table}`` from :func:`mtbench.leaderboard.references.load_baselines`.

    Returns:
        ``(sections, suite_sections)``: the multi-task sections (a record appears once per
        reference: the one it names and, when they cover its tasks, the suite's single-task runs)
        and one section per dataset variant listing the suite's single-task runs (their
        ``reference`` is a placeholder; ``tasks`` is the tasks covered).
    """
    tables = suite_tables(records)
    groups: dict = {}
    refs: dict = {}
    single: dict = {}
    for rec in records:
        dkey = dataset_key(rec)
        if is_single_task_record(rec):
            single.setdefault((dkey, (rec['tasks'][0],), 'st:'), []).append(rec)
            continue
        candidates = [r for r in (named_reference(rec, baselines), suite_reference(rec, tables))
                      if r is not None]
        for ref in candidates or [_NO_REFERENCE]:
            refs[ref.key] = ref
            tasks = tuple(t for t in TASKS if t in rec['tasks'])  # order-independent key
            groups.setdefault((dkey, tasks, ref.key), []).append(rec)
    sections = _sections(groups, refs)
    st_ref = Reference('st:', 'single-task runs', problem='single-task runs')
    suite = _sections(single, {'st:': st_ref})
    merged: dict = {}
    for sec in suite:  # one listing per dataset variant, rows ordered by task
        key = (sec.dataset, sec.dataset_variant, sec.checksum, sec.split)
        into = merged.setdefault(key, Section(*key, [], (), st_ref))
        into.num_images = sorted(set(into.num_images) | set(sec.num_images))
        into.tasks = tuple(t for t in TASKS if t in set(into.tasks) | set(sec.tasks))
        into.rows.extend(sec.rows)
    for (dkey, sec) in merged.items():
        for row in sec.rows:
            task = next(iter(row.metrics))
            choice = tables.get((dkey, row.backbone, row.pretrained or 'random init'), {})
            if task in choice and choice[task].variant == row.variant:
                row.notes.insert(0, 'gives the suite single-task reference value')
        sec.rows.sort(key=lambda r: (list(TASKS).index(next(iter(r.metrics))), r.variant,
                                     r.backbone, r.pretrained or ''))
    return sections, list(merged.values())
