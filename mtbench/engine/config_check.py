"""Catch config mistakes before the Runner starts: unknown types, misspelt keys.

mmengine reports an unknown ``type`` without listing what exists and a misspelt top-level key not
at all; :func:`check_config` names the key, the bad value and the closest valid choices.
"""
import difflib

from mtbench.errors import ConfigError
from mtbench.registry import (DATASETS, EVALUATOR, HOOKS, METHODS, METRICS, MODELS, TRANSFORMS,
                              _all_names, accepted_arguments)

__all__ = ['ConfigError', 'check_config', 'RUNNER_KEYS']

RUNNER_KEYS = (
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader', 'train_cfg',
    'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper', 'param_scheduler', 'val_evaluator',
    'test_evaluator', 'default_hooks', 'custom_hooks', 'data_preprocessor', 'load_from',
    'resume', 'launcher', 'env_cfg', 'log_processor', 'log_level', 'visualizer', 'default_scope',
    'randomness', 'experiment_name', 'vis_backends', 'tasks', 'data_root', 'dataset_type',
    'find_unused_parameters', 'model_wrapper_cfg', 'sync_bn')


def _hint(name, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ''


def _check_typed(cfg, registry, where: str) -> None:
    if not isinstance(cfg, dict) or 'type' not in cfg:
        return
    type_name = cfg['type']
    if not isinstance(type_name, str):
        return
    registry.import_from_location()
    cls = registry.get(type_name)
    if cls is None:
        names = _all_names(registry)
        raise ConfigError(f'{where}.type={type_name!r} is not a registered {registry.name}.'
                          f'{_hint(type_name, names)} Registered: {", ".join(names)}')
    valid = accepted_arguments(cls)
    if valid is None:
        return
    for key in cfg:
        if key != 'type' and key not in valid:
            raise ConfigError(f'{where}.{key} is not an argument of {type_name}.'
                              f'{_hint(key, valid)} Valid arguments: {", ".join(valid)}')


def _check_dataset(cfg, where: str) -> None:
    if not isinstance(cfg, dict):
        return
    _check_typed(cfg, DATASETS, where)
    for i, step in enumerate(cfg.get('pipeline', []) or []):
        _check_typed(step, TRANSFORMS, f'{where}.pipeline[{i}]')


def check_config(cfg) -> None:
    """Validate a loaded mmengine Config; raise :class:`ConfigError` naming the bad key."""
    for key in cfg.keys():
        if key in RUNNER_KEYS or key.startswith('_'):
            continue
        close = difflib.get_close_matches(key, RUNNER_KEYS, n=1, cutoff=0.8)
        if close:
            raise ConfigError(f'unknown config key {key!r}. Did you mean {close[0]!r}?')
    model = cfg.get('model')
    if model is None:
        raise ConfigError('the config has no `model`')
    _check_typed(model, MODELS, 'model')
    for sub, registry in (('backbone', MODELS), ('decoder', MODELS), ('method', METHODS),
                          ('data_preprocessor', MODELS)):
        _check_typed(model.get(sub), registry, f'model.{sub}')
    for task, loss in (model.get('losses') or {}).items():
        _check_typed(loss, MODELS, f'model.losses.{task}')
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if isinstance(loader, dict):
            _check_dataset(loader.get('dataset'), f'{split}_dataloader.dataset')
        evaluator = cfg.get(f'{split}_evaluator')
        if isinstance(evaluator, dict):
            registry = EVALUATOR if EVALUATOR.get(evaluator.get('type', '')) else METRICS
            _check_typed(evaluator, registry, f'{split}_evaluator')
    for i, hook in enumerate(cfg.get('custom_hooks', []) or []):
        _check_typed(hook, HOOKS, f'custom_hooks[{i}]')
