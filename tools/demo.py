"""The main job on the embedded default: synthetic data -> pre-training -> fine-tuning -> records.

Runs, on a CPU in minutes:
1. generate the synthetic benchmark (PASCAL_MT layout) and the upstream scenes, if missing;
2. pre-train the tiny Swin on the upstream scenes (cached);
3. fine-tune multi-task full FT and decoder-only with `tools/train.py configs/synthetic/...`;
4. test each final model (`tools/train.py --test`, the same as `tools/test.py` on the last
   checkpoint), which writes `work_dirs/demo/<config>/result.json`;
5. print a short table of the records.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.synthetic_setup import (ensure_pretrained_backbone,  # noqa: E402
                                            ensure_synthetic_data)

CONFIGS = [
    'configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py',
    'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py',
]


def run(cmd):
    print('\n$ ' + ' '.join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=REPO)


def summary(records):
    from tabulate import tabulate
    rows = []
    for rec in records:
        metrics = [f"{t}: {p['value']:.2f}" for t, p in rec['primary'].items()]
        rows.append([rec['method'], f"{rec['params']['trainable']:,}",
                     ', '.join(metrics), f"{rec['wall_time_s']:.0f}"])
    return tabulate(rows, headers=['method', 'trainable params', 'primary metrics', 'wall s'])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--work-dir', default='work_dirs/demo')
    parser.add_argument('--cfg-options', nargs='+', default=[],
                        help='overrides passed to every train/test run')
    args = parser.parse_args()
    os.chdir(REPO)
    start = time.time()
    ensure_synthetic_data('pascal-mt-64')
    ensure_pretrained_backbone()
    records = []
    for config in CONFIGS:
        stem = osp.splitext(osp.basename(config))[0]
        work_dir = osp.join(args.work_dir, stem)
        extra = ['--cfg-options', *args.cfg_options] if args.cfg_options else []
        run([sys.executable, 'tools/train.py', config, '--work-dir', work_dir, '--test', *extra])
        with open(osp.join(work_dir, 'result.json')) as f:
            records.append(json.load(f))
    print('\n' + summary(records))
    print(f'\nDemo finished in {time.time() - start:.0f} s; '
          f'records in {args.work_dir}/*/result.json')


if __name__ == '__main__':
    run_cli(main)
