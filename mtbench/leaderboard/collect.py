"""Collect ``result.json`` records from work dirs into ``leaderboard/results/<dataset>/``.

Valid records are copied byte for byte to ``<out>/<dataset>/<method>--<variant>--seed<k>.json``.
Malformed or partial records are reported with the reason and skipped; nothing is dropped silently.
When two records want the same file name: records of a different dataset variant/checksum get the
suffix ``--<dataset variant>-<checksum[:8]>``; for the same dataset the newer ``created`` wins and
the other is reported as superseded.

Example:
    >>> report = collect(['work_dirs/full_ft'], 'leaderboard/results')  # doctest: +SKIP
    >>> print(report.summary())  # doctest: +SKIP
"""
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mtbench.fileio import copy_atomic
from mtbench.leaderboard.records import load_record, record_filename, record_warnings
from mtbench.leaderboard.references import dataset_key

__all__ = ['CollectReport', 'collect', 'find_results']


@dataclass
class CollectReport:
    """What :func:`collect` did.

    Attributes:
        collected: ``(source, destination)`` of every record written (or already identical).
        skipped: ``(source, reason)`` of every record or work dir not collected.
        warnings: ``(source, remark)`` on collected records.
    """
    collected: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    warnings: list = field(default_factory=list)

    def summary(self) -> str:
        """Human-readable report: collected files, then skipped ones with their reasons."""
        lines = [f'{len(self.collected)} record(s) collected, {len(self.skipped)} skipped']
        lines += [f'  collected {src} -> {dst}' for src, dst in self.collected]
        lines += [f'  SKIPPED {src}: {reason}' for src, reason in self.skipped]
        lines += [f'  warning {src}: {remark}' for src, remark in self.warnings]
        return '\n'.join(lines)


def find_results(work_dirs: Sequence) -> tuple[list[Path], list[tuple[str, str]]]:
    """Every ``result.json`` under the given work dirs (recursively; a file is taken as is).

    Args:
        work_dirs: directories or record files.

    Returns:
        ``(paths, problems)``: sorted unique paths and ``(argument, reason)`` for arguments that
        do not exist or hold no ``result.json``.
    """
    paths, problems = [], []
    for arg in work_dirs:
        path = Path(arg)
        if path.is_file():
            paths.append(path)
        elif path.is_dir():
            found = sorted(path.rglob('result.json'))
            if not found:
                problems.append((str(arg), 'no result.json found (run unfinished?)'))
            paths.extend(found)
        else:
            problems.append((str(arg), 'not found'))
    unique = sorted({p.resolve(): p for p in paths}.items())
    return [p for _, p in unique], problems


def _existing(dest: Path):
    if not dest.is_file():
        return None
    record, problems = load_record(dest)
    if problems:
        return None
    return str(dest), record, dest.read_bytes()


def _suffixed(dest: Path, record) -> Path:
    ds = record['dataset']
    tag = ''.join(c if c.isalnum() or c in '.-' else '_' for c in ds['variant'])
    checksum = ds['checksum'].split(':')[-1][:8]
    return dest.with_name(f'{dest.stem}--{tag}-{checksum}.json')


def collect(work_dirs: Sequence, out_dir) -> CollectReport:
    """Validate and copy every record found under ``work_dirs`` into ``out_dir``.

    Args:
        work_dirs: work directories (searched recursively) or record files.
        out_dir: the results directory, e.g. ``leaderboard/results``.

    Returns:
        A :class:`CollectReport`; this function does not raise on bad records.
    """
    report = CollectReport()
    paths, problems = find_results(work_dirs)
    report.skipped.extend(problems)
    planned: dict = {}  # destination -> (source, record, bytes)
    for path in paths:
        record, errors = load_record(path)
        if errors:
            report.skipped.append((str(path), '; '.join(errors)))
            continue
        raw = path.read_bytes()
        base = Path(out_dir) / record['dataset']['name'] / record_filename(record)
        for dest in (base, _suffixed(base, record)):
            other = planned.get(dest) or _existing(dest)
            if other is None:
                planned[dest] = (str(path), record, raw)
                break
            src2, rec2, raw2 = other
            if dataset_key(rec2) != dataset_key(record):
                continue
            if raw2 == raw:
                if dest in planned:
                    report.skipped.append((str(path), f'identical to {src2}'))
                else:
                    planned[dest] = (str(path), record, raw)
            elif record['created'] > rec2['created'] or (
                    dest not in planned and record['created'] == rec2['created']):
                # Newer, or the same run's record updated since the last collect (e.g. the
                # efficiency figures of tools/analysis/benchmark.py): it replaces the copy.
                if dest in planned:
                    report.skipped.append((src2, f'superseded by newer record {path} '
                                                 '(same dataset, method, variant and seed)'))
                planned[dest] = (str(path), record, raw)
            else:
                report.skipped.append((str(path), f'superseded by newer record {src2} '
                                                  '(same dataset, method, variant and seed)'))
            break
        else:
            report.skipped.append((str(path), f'file name clash at {base}'))
    for dest, (src, record, raw) in sorted(planned.items()):
        dest.parent.mkdir(parents=True, exist_ok=True)
        if not dest.is_file() or dest.read_bytes() != raw:
            copy_atomic(src, dest)
        report.collected.append((src, str(dest)))
        report.warnings.extend((src, w) for w in record_warnings(record))
    return report
