"""Leaderboard command line: collect result records, build the tables and plots, check records.

Usage:
    python tools/leaderboard.py collect WORK_DIR [WORK_DIR ...] [--out leaderboard/results]
                                        [--strict]
    python tools/leaderboard.py build [--results leaderboard/results] [--out leaderboard]
                                      [--baselines leaderboard/baselines]
                                      [--published leaderboard/published] [--no-plots]
    python tools/leaderboard.py check RESULT_JSON [RESULT_JSON ...]

``collect`` exits 0 even when records are skipped (each is reported with its reason); with
``--strict`` it exits 1 when no valid record was found. ``collect`` and ``build`` stop with exit
status 2 and write nothing when a record is unreadable (cut short) or of an unknown schema.
``check`` exits 1 when any file is invalid.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.leaderboard.build import build  # noqa: E402
from mtbench.leaderboard.collect import collect, find_results  # noqa: E402
from mtbench.leaderboard.records import (load_record, record_warnings,  # noqa: E402
                                         require_readable_records)

__all__ = ['main', 'parse_args']


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    p_collect = sub.add_parser('collect', help='validate result.json records and copy them')
    p_collect.add_argument('work_dirs', nargs='+', help='work dirs (searched recursively)')
    p_collect.add_argument('--out', default='leaderboard/results')
    p_collect.add_argument('--strict', action='store_true',
                           help='exit 1 when no valid record was collected')
    p_build = sub.add_parser('build', help='write README.md, <dataset>.csv and plots/')
    p_build.add_argument('--results', default='leaderboard/results')
    p_build.add_argument('--out', default='leaderboard')
    p_build.add_argument('--baselines', default='leaderboard/baselines')
    p_build.add_argument('--published', default='leaderboard/published')
    p_build.add_argument('--no-plots', action='store_true')
    p_check = sub.add_parser('check', help='validate record files and print their problems')
    p_check.add_argument('files', nargs='+')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run one command; returns the exit code."""
    args = parse_args(argv)
    if args.command == 'collect':
        require_readable_records(find_results(args.work_dirs)[0])
        report = collect(args.work_dirs, args.out)
        print(report.summary())
        return 1 if args.strict and not report.collected else 0
    if args.command == 'build':
        results = Path(args.results)
        require_readable_records(sorted(results.rglob('*.json')) if results.is_dir() else [])
        report = build(args.results, args.out, args.baselines, args.published,
                       results_label=args.results, published_label=args.published,
                       plots=not args.no_plots)
        print(report.summary())
        return 0
    bad = 0
    for name in args.files:
        record, problems = load_record(name)
        if problems:
            bad += 1
            print(f'{name}: INVALID')
            print('\n'.join(f'  - {p}' for p in problems))
        else:
            print(f'{name}: ok')
            print('\n'.join(f'  warning: {w}' for w in record_warnings(record)))
    return 1 if bad else 0


if __name__ == '__main__':
    run_cli(main)
