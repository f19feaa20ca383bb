"""Validate a PASCAL_MT or NYUD_MT tree and optionally write a content index.

Usage:
    python tools/dataset_converters/check_dataset.py DATA_ROOT --dataset pascal-mt|nyud-mt \
        [--allow-any-split-size] [--index-out PATH] [--workers N] [--no-hash]

Checks the layout, the standard split sizes (4998/5105 and 795/654 unless
--allow-any-split-size), that every file listed by a split exists and is readable, that every
target has the image's size, and the value ranges of every target. Each problem is printed with
the offending file; the exit status is 1 when anything is wrong, 0 otherwise. ``--index-out``
writes a JSON index with a sha256 per file and the per-split file-list checksum (the value the
datasets put in ``metainfo['file_list_checksum']``).
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.errors import MissingPathError  # noqa: E402
from mtbench.datasets.checks import DATASETS_BY_NAME, check_dataset  # noqa: E402

__all__ = ['parse_args', 'main']


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('data_root', help='the PASCAL_MT or NYUD_MT folder')
    parser.add_argument('--dataset', required=True, choices=sorted(DATASETS_BY_NAME))
    parser.add_argument('--allow-any-split-size', action='store_true',
                        help='accept split sizes other than the standard ones')
    parser.add_argument('--index-out', help='write the JSON index (sha256 per file) here')
    parser.add_argument('--workers', type=int, default=0, help='worker processes (default 0)')
    parser.add_argument('--no-hash', action='store_true', help='skip per-file sha256')
    parser.add_argument('--quiet', action='store_true', help='no progress output')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the check; returns the exit status."""
    args = parse_args(argv)
    if not osp.isdir(args.data_root):
        raise MissingPathError(f'dataset folder not found: {args.data_root}; pass the '
                               f'{args.dataset} root (see docs/datasets.md for the layout)')

    def progress(done, total):
        if not args.quiet and (done % 500 == 0 or done == total):
            print(f'checked {done}/{total} images', file=sys.stderr)

    report = check_dataset(args.data_root, args.dataset,
                           allow_any_split_size=args.allow_any_split_size,
                           hash_files=not args.no_hash, workers=args.workers, progress=progress)
    for split, info in report.splits.items():
        print(f'{split}: {info["num_images"]} images, file list '
              f'{info.get("file_list_checksum")}')
    if args.index_out:
        report.write_index(args.index_out)
        print(f'index written to {args.index_out}')
    if report.ok:
        print(f'OK: {args.data_root} is a valid {args.dataset} tree (variant {report.variant})')
        return 0
    print(f'{len(report.problems)} problem(s) in {args.data_root}:', file=sys.stderr)
    for problem in report.problems:
        print(f'  {problem}', file=sys.stderr)
    return 1


if __name__ == '__main__':
    run_cli(main)
