"""Test a checkpoint and write the result record (mmseg/mmpretrain-style command line).

Example:
    python tools/test.py configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py \
        work_dirs/full-ft_swin-nano_synthetic-pascal-64/iter_500.pth
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.preflight import check_model_checkpoint, preflight  # noqa: E402
from mtbench.engine.runner_utils import build_runner, load_config  # noqa: E402
from mtbench.errors import MissingPathError  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and evaluate) an mtbench checkpoint')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where to save the result record and logs '
                        '(default: work_dirs/<config stem>)')
    parser.add_argument('--out', help='also dump the raw predictions to this pickle file')
    parser.add_argument('--show-dir', metavar='DIR',
                        help='save one PNG per test sample (input, and per task the prediction '
                        'above the ground truth) as DIR/<img_id>.png; DIR is used as given '
                        '(relative to the current directory) and created if missing')
    parser.add_argument('--show-max-samples', type=int, default=20, metavar='N',
                        help='with --show-dir, visualise at most N samples (default 20; '
                        '0 or less: all)')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config settings')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def add_show_dir_hook(cfg, show_dir: str, max_samples: int = 20) -> str:
    """Create ``show_dir`` and append a ``PredictionVisualizationHook`` to ``cfg.custom_hooks``.

    Raises :class:`~mtbench.errors.MissingPathError` naming the directory if it cannot be
    created. Returns its absolute path.
    """
    path = osp.abspath(show_dir)
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as err:
        raise MissingPathError(f'cannot create --show-dir {show_dir!r}: {err.strerror or err}; '
                               'name a writable folder') from None
    hooks = list(cfg.get('custom_hooks') or [])
    hooks.append(dict(type='PredictionVisualizationHook', show_dir=path,
                      max_samples=max_samples if max_samples > 0 else None))
    cfg.custom_hooks = hooks
    return path


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir,
                      launcher=args.launcher)
    # The checkpoint holds the whole model: check it fits before anything else, and do not
    # load the pretrained backbone it replaces (its name stays in the record).
    check_model_checkpoint(cfg, args.checkpoint)
    cfg.model.load_pretrained = False
    cfg.load_from = args.checkpoint
    if args.show_dir:
        add_show_dir_hook(cfg, args.show_dir, args.show_max_samples)
    preflight(cfg, ['test'], pretrained=False)
    runner = build_runner(cfg)
    if args.out:
        from mmengine.evaluator import DumpResults
        runner.test_evaluator.metrics.append(DumpResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    run_cli(main)
