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
from mtbench.engine.runner_utils import (build_runner, final_val_duplicates_test,  # noqa: E402
                                         load_config)
from mtbench.errors import ConfigError  # noqa: E402

#: ``--amp-dtype`` choices and the ``dtype`` they give ``AmpOptimWrapper``.
AMP_DTYPES = {'fp16': 'float16', 'bf16': 'bfloat16'}


def parse_args():
    parser = argparse.ArgumentParser(description='Train an mtbench model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models '
                        '(default: work_dirs/<config stem>)')
    parser.add_argument('--resume', nargs='?', type=str, const='auto',
                        help='resume from the latest checkpoint in the work dir, or from PATH')
    parser.add_argument('--amp', action='store_true',
                        help="automatic mixed precision: mmengine's AmpOptimWrapper (a GPU "
                        'only; fp16 unless --amp-dtype)')
    parser.add_argument('--no-amp', action='store_true',
                        help='train a config that uses AmpOptimWrapper in full precision (a '
                        'plain OptimWrapper; needed on a CPU-only machine)')
    parser.add_argument('--amp-dtype', choices=sorted(AMP_DTYPES),
                        help='autocast dtype of --amp (or of a config with AmpOptimWrapper)')
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


def configure_amp(cfg, args) -> None:
    """Apply ``--amp`` (``AmpOptimWrapper``, dynamic loss scale), ``--no-amp`` (a plain
    ``OptimWrapper`` for a config that uses ``AmpOptimWrapper``) and ``--amp-dtype``.

    mmengine's ``AmpOptimWrapper`` asserts a GPU (CUDA, NPU, MLU or MUSA): see
    :func:`check_amp_device`.
    """
    if args.amp and args.no_amp:
        raise ConfigError('--amp and --no-amp contradict each other; give one of them')
    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    if args.no_amp and cfg.optim_wrapper.get('type') == 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'OptimWrapper'
        for key in ('loss_scale', 'dtype', 'use_fsdp'):
            cfg.optim_wrapper.pop(key, None)
    uses_amp = cfg.optim_wrapper.get('type') == 'AmpOptimWrapper'
    if args.amp_dtype and not uses_amp:
        raise ConfigError(f'--amp-dtype {args.amp_dtype} needs --amp (the optim_wrapper of '
                          f'{args.config} is {cfg.optim_wrapper.get("type")})')
    if args.amp_dtype:
        cfg.optim_wrapper.dtype = AMP_DTYPES[args.amp_dtype]


def check_amp_device(cfg, args) -> None:
    """A one-line error for ``AmpOptimWrapper`` (``--amp`` or the config's) without a GPU.

    Called after the path checks: a missing dataset or checkpoint is reported first.
    """
    if cfg.optim_wrapper.get('type') != 'AmpOptimWrapper':
        return
    from mmengine.device import (is_cuda_available, is_mlu_available, is_musa_available,
                                 is_npu_available)
    if not (is_cuda_available() or is_npu_available() or is_mlu_available()
            or is_musa_available()):
        what = '--amp' if args.amp else f'{args.config} (optim_wrapper AmpOptimWrapper)'
        raise ConfigError(f"{what} needs a GPU (mmengine's AmpOptimWrapper runs on CUDA, "
                          'NPU, MLU or MUSA only) and none is available here; add --no-amp to '
                          'train in full precision on this machine, or run on a GPU machine')


def main():
    args = parse_args()
    cfg = load_config(args.config, args.cfg_options, work_dir=args.work_dir,
                      launcher=args.launcher)
    configure_amp(cfg, args)
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.test and not cfg.get('test_dataloader'):
        raise ConfigError(f'--test needs a test_dataloader in {args.config}')
    if args.test and final_val_duplicates_test(cfg):
        # The only validation would be at the end, on the test split with the test evaluator.
        cfg.val_cfg = cfg.val_dataloader = cfg.val_evaluator = None
        print('--test: skipping the final validation, which would repeat the test')
    splits = ['train', *(['val'] if cfg.get('val_cfg') else []), *(['test'] if args.test else [])]
    preflight(cfg, splits)
    check_amp_device(cfg, args)
    runner = build_runner(cfg)
    runner.train()
    if args.test:
        runner.test()


if __name__ == '__main__':
    run_cli(main)
