"""Train a model from a config (mmseg/mmpretrain-style command line).

Example:
    python tools/train.py configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py
"""
import argparse
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from mtbench.cli import run_cli  # noqa: E402
from mtbench.engine.preflight import preflight  # noqa: E402
from mtbench.engine.runner_utils import build_runner, load_config  # noqa: E402
from mtbench.errors import ConfigError  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description='Train an mtbench model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config stem>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the latest checkpoint in the work dir, or from PATH')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision')
    parser.add_argument('--cfg-options', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config settings, e.g. train_cfg.max_iters=100')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--test', action='store_true',
                        help='after training, test the final model in the same process (as '
                        'tools/test.py on the last checkpoint would), writing result.json')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir,
                      launcher=args.launcher)
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.test and not cfg.get('test_dataloader'):
        raise ConfigError(f'--test needs a test_dataloader in {args.config}')
    splits = ['train', *(['val'] if cfg.get('val_cfg') else []), *(['test'] if args.test else [])]
    preflight(cfg, splits)
    runner = build_runner(cfg)
    runner.train()
    if args.test:
        runner.test()


if __name__ == '__main__':
    run_cli(main)
