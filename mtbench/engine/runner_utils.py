"""Shared logic of ``tools/train.py`` and ``tools/test.py``: config loading and Runner building."""
import argparse
import os.path as osp
import sys
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from mtbench.engine.config_check import ConfigError, check_config

__all__ = ['load_config', 'build_runner', 'parse_cfg_options']


def parse_cfg_options(options: Sequence[str]) -> dict:
    """Parse ``key=value`` overrides like mmengine's ``--cfg-options``."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def load_config(path: str, cfg_options: Sequence[str] = (), work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load a config, apply overrides, set work_dir/launcher and validate it.

    Exits with a one-line error naming the problem (missing file, misspelt key, unknown type).
    """
    if not osp.isfile(path):
        sys.exit(f'error: config file not found: {path}')
    try:
        cfg = Config.fromfile(path)
        if cfg_options:
            cfg.merge_from_dict(parse_cfg_options(cfg_options))
        check_config(cfg)
    except ConfigError as err:
        sys.exit(f'error in {path}: {err}')
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('work_dirs', osp.splitext(osp.basename(path))[0])
    return cfg


def build_runner(cfg: Config):
    """Build an mmengine Runner (or a custom ``runner_type``) with mtbench's safe loading
    (and glibc heap settings for fast CPU tensors, :mod:`mtbench.engine.cpu_memory`)."""
    import mtbench.engine  # noqa: F401  (safe checkpoint loader, hooks)
    from mmengine.registry import RUNNERS
    from mmengine.runner import Runner

    from mtbench.engine.cpu_ddp import prepare_cpu_distributed
    from mtbench.engine.cpu_memory import tune_malloc
    tune_malloc()
    prepare_cpu_distributed(cfg)
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)
