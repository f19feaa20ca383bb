"""Train and test every entry of a suite, then rebuild its leaderboard.

Example:
    python tools/run_suite.py configs/suites/synthetic.py
    python tools/run_suite.py configs/suites/pascal-swin-t.py --launcher slurm --partition gpu \
        --gpus 4
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.suite import run_suite  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description='Run a benchmark suite')
    parser.add_argument('suite', help='suite file (configs/suites/*.py)')
    parser.add_argument('--launcher', choices=['local', 'slurm'], default='local')
    parser.add_argument('--partition', default='gpu', help='slurm partition')
    parser.add_argument('--gpus', type=int, default=1, help='GPUs per entry (slurm)')
    parser.add_argument('--dry-run', action='store_true', help='print the plan only')
    parser.add_argument('--no-leaderboard', action='store_true')
    parser.add_argument('--parallel', type=int, default=None,
                        help="entries run at once (default: the suite's parallel, else 1)")
    parser.add_argument('--only', action='append', metavar='GLOB',
                        help='run only the configs whose path or file stem matches (repeatable); '
                             "the other entries' records are kept")
    args = parser.parse_args()
    summary = run_suite(args.suite, args.launcher,
                        dict(partition=args.partition, gpus=args.gpus), args.dry_run,
                        not args.no_leaderboard, parallel=args.parallel, only=args.only)
    return 1 if summary['failed'] and not summary['ran'] and not summary['skipped'] else 0


if __name__ == '__main__':
    run_cli(main)
