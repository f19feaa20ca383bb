"""Generate the procedural synthetic benchmark in the PASCAL_MT or NYUD_MT layout.

Usage:
    python tools/dataset_converters/make_synthetic.py --layout pascal-mt|nyud-mt \
        [--packaging jpg-npy|png-npy] [--family downstream|upstream] --out DIR \
        --num-train N --num-val M [--size H W] [--seed S] [--workers W] [--overwrite] [--quiet]

The same arguments always produce byte-identical files. ``--family upstream`` renders the
pre-training scene distribution (NYUD layout only). See ``docs/synthetic.md``.
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.datasets.synthetic import (FAMILIES, LAYOUTS, PACKAGINGS,  # noqa: E402
                                        generate_dataset)

__all__ = ['main', 'parse_args']


def parse_args(argv=None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--layout', required=True, choices=LAYOUTS)
    parser.add_argument('--packaging', default='jpg-npy', choices=PACKAGINGS,
                        help='NYUD file types: jpg-npy (default) or png-npy')
    parser.add_argument('--family', default='downstream', choices=sorted(FAMILIES),
                        help='scene distribution (upstream = pre-training scenes, nyud-mt only)')
    parser.add_argument('--out', required=True, help='dataset root to create')
    parser.add_argument('--num-train', type=int, required=True)
    parser.add_argument('--num-val', type=int, required=True)
    parser.add_argument('--size', type=int, nargs=2, default=(64, 64), metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--workers', type=int, default=None,
                        help='worker processes (default: 2 for 256+ scenes on multi-core)')
    parser.add_argument('--overwrite', action='store_true',
                        help='replace an existing synthetic dataset at --out')
    parser.add_argument('--quiet', action='store_true', help='no progress bar / rate line')
    return parser.parse_args(argv)


def main(argv=None) -> int:
    """Run the generator; returns the exit status (1 with a message on bad arguments)."""
    args = parse_args(argv)
    try:
        generate_dataset(args.layout, args.out, args.num_train, args.num_val, size=args.size,
                         seed=args.seed, packaging=args.packaging, family=args.family,
                         progress=not args.quiet, workers=args.workers,
                         overwrite=args.overwrite)
    except (ValueError, FileExistsError, NotADirectoryError) as err:
        print(f'make_synthetic: error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    run_cli(main)
