"""Estimate task similarities from loss gradients and write a task grouping for progressive LoRA.

Builds the model of CONFIG (pretrained backbone frozen, random task heads), trains the heads for
``--steps`` batches of the config's training data, averages the gradient similarity
``S(g, h) = 4 <g, h> / (||g|| + ||h||)^2`` of every task pair over ``--batches`` batches, and
groups the tasks per stage by average-linkage clustering of ``1 - S``
(``mtbench/analysis/task_similarity.py``, ``docs/methods/progressive.md``).

Writes ``similarity.json``, ``grouping.json`` (for ``ProgressiveTaskAdapters(grouping_file=...)``)
and ``similarity.png`` under ``--out``.

Example:
    python tools/analysis/task_similarity.py \
        configs/progressive/progressive_swin-t_pascal-mt-448.py \
        --steps 200 --batches 16 --out work_dirs/task_similarity/pascal
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.errors import ConfigError  # noqa: E402
from mtbench.analysis.task_similarity import FORMULAS, run_task_similarity  # noqa: E402
from mtbench.engine.runner_utils import load_config  # noqa: E402


def _counts(text: str):
    try:
        return [int(k) for k in text.split(',')]
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected comma-separated integers, got {text!r}')


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='config file path')
    parser.add_argument('--steps', type=int, default=100, help='head-training steps (100)')
    parser.add_argument('--batches', type=int, default=8,
                        help='batches over which similarities are averaged (8)')
    parser.add_argument('--groups-per-stage', type=_counts, default=[1, 1, 2, 4],
                        help='number of task groups per backbone stage (1,1,2,4)')
    parser.add_argument('--out', default=None,
                        help='output folder (work_dirs/task_similarity/<config name>)')
    parser.add_argument('--formula', choices=FORMULAS, default='rescaled')
    parser.add_argument('--pairing', choices=('same', 'shifted'), default='same',
                        help="gradients of one batch ('same') or of consecutive batches")
    parser.add_argument('--params', choices=('auto', 'adapters', 'last-stage'), default='auto',
                        help='shared parameters theta_s')
    parser.add_argument('--lr', type=float, default=1e-3, help='head-training learning rate')
    parser.add_argument('--no-pretrained', action='store_true',
                        help='ignore model.pretrained (random backbone; for smoke tests)')
    parser.add_argument('--device', default=None, help='cpu / cuda (default: cuda if any)')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE')
    args = parser.parse_args(argv)
    cfg = load_config(args.config, args.cfg_options)
    out = args.out or osp.join('work_dirs', 'task_similarity',
                               osp.splitext(osp.basename(args.config))[0])
    try:
        paths = run_task_similarity(
            cfg, out, steps=args.steps, num_batches=args.batches,
            groups_per_stage=args.groups_per_stage, formula=args.formula, pairing=args.pairing,
            params=args.params, lr=args.lr, load_pretrained=not args.no_pretrained,
            device=args.device, seed=args.seed)
    except ValueError as err:
        raise ConfigError(str(err)) from None
    with open(paths['grouping']) as f:
        grouping = json.load(f)['grouping']
    for stage, groups in enumerate(grouping):
        print(f'stage {stage}: ' + ' | '.join('+'.join(g) for g in groups))
    for key, path in paths.items():
        print(f'{key}: {path}')


if __name__ == '__main__':
    run_cli(main)
