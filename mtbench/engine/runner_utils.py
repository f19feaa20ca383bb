"""Shared logic of ``tools/train.py`` and ``tools/test.py``: config loading and Runner building."""
import argparse
import os.path as osp
from typing import Optional, Sequence

from mmengine.config import Config, DictAction

from mtbench.engine.config_check import check_config
from mtbench.errors import ConfigError, MissingPathError

__all__ = ['load_config', 'read_config_file', 'build_runner', 'parse_cfg_options',
           'final_val_duplicates_test']


def parse_cfg_options(options: Sequence[str]) -> dict:
    """Parse ``key=value`` overrides like mmengine's ``--cfg-options``.

    Raises:
        ConfigError: an option is not ``KEY=VALUE``.
    """
    for option in options:
        key, sep, _ = option.partition('=')
        if not sep or not key or not all(part.isidentifier() or part.isdigit()
                                         for part in key.split('.')):
            raise ConfigError(f'--cfg-options {option!r} is not KEY=VALUE (e.g. '
                              'train_cfg.max_iters=100 or model.pretrained=None)')
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return parser.parse_args(['--cfg-options', *options]).cfg_options


def read_config_file(path: str) -> Config:
    """``Config.fromfile`` with one-line errors for a missing or broken file.

    Raises:
        MissingPathError: ``path`` is not a file.
        ConfigError: the file does not parse (the message names the line) or fails to load.
    """
    if not osp.isfile(path):
        hint = ' (it is a directory)' if osp.isdir(path) else ''
        raise MissingPathError(f'config file not found: {path}{hint}; configs live under '
                               'configs/, e.g. configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py')
    try:
        return Config.fromfile(path)
    except SyntaxError as err:
        where = err.filename if err.filename and not err.filename.startswith('<') else path
        raise ConfigError(f'{where}, line {err.lineno}: {err.msg}; fix the Python syntax of the '
                          'config') from None
    except (OSError, ImportError, NameError, KeyError, TypeError, ValueError) as err:
        if isinstance(err, MissingPathError):
            raise
        raise ConfigError(f'cannot load config {path}: {type(err).__name__}: {err}') from None


def load_config(path: str, cfg_options: Sequence[str] = (), work_dir: Optional[str] = None,
                launcher: str = 'none') -> Config:
    """Load a config, apply overrides, set work_dir/launcher and validate it.

    Raises:
        MissingPathError: the config file does not exist.
        ConfigError: the config does not parse, an override is malformed, or a key/type is
            misspelt (the message names it and the closest valid choices).
    """
    cfg = read_config_file(path)
    try:
        if cfg_options:
            cfg.merge_from_dict(parse_cfg_options(cfg_options))
        check_config(cfg)
    except ConfigError as err:
        raise ConfigError(f'{path}: {err}') from None
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
    from mtbench.fileio import install_atomic_checkpoint_writes
    tune_malloc()
    install_atomic_checkpoint_writes()
    prepare_cpu_distributed(cfg)
    # Exact resume: the random generators' states travel in every checkpoint.
    hooks = list(cfg.get('custom_hooks') or [])
    if not any(isinstance(h, dict) and h.get('type') == 'RandomStateHook' for h in hooks):
        cfg.custom_hooks = [*hooks, dict(type='RandomStateHook')]
    if 'runner_type' in cfg:
        return RUNNERS.build(cfg)
    return Runner.from_cfg(cfg)


def final_val_duplicates_test(cfg: Config) -> bool:
    """Whether training validates only once, at its end, exactly as the test loop will.

    ``tools/train.py --test`` then skips that validation: the test loop reports the same metrics
    of the same final model on the same split. True when the val and test dataloaders and
    evaluators are the same config, validation happens only at the last iteration / epoch, and
    no checkpoint hook keeps a best checkpoint (which needs validation results).
    """
    if not cfg.get('val_cfg') or not cfg.get('test_dataloader'):
        return False
    if (cfg.get('val_dataloader') != cfg.get('test_dataloader')
            or cfg.get('val_evaluator') != cfg.get('test_evaluator')):
        return False
    if (cfg.get('default_hooks') or {}).get('checkpoint', {}).get('save_best'):
        return False
    loop = cfg.get('train_cfg') or {}
    length = loop.get('max_iters', loop.get('max_epochs'))
    interval = loop.get('val_interval', 1)
    return (length is not None and interval >= length and not loop.get('dynamic_intervals')
            and loop.get('val_begin', 1) <= length)
