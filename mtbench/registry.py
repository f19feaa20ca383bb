"""mtbench registries: children of mmengine's root registries, plus ``METHODS``.

Every registry uses ``scope='mtbench'`` and lazy ``locations`` so that building a config with
``default_scope='mtbench'`` imports the modules that register the requested types.

Example:
    >>> from mtbench.registry import MODELS
    >>> backbone = MODELS.build(dict(type='SwinTransformer', arch='nano'))
"""
import difflib
from typing import List, Optional

from mmengine.registry import DATA_SAMPLERS as MMENGINE_DATA_SAMPLERS
from mmengine.registry import DATASETS as MMENGINE_DATASETS
from mmengine.registry import EVALUATOR as MMENGINE_EVALUATOR
from mmengine.registry import HOOKS as MMENGINE_HOOKS
from mmengine.registry import LOOPS as MMENGINE_LOOPS
from mmengine.registry import METRICS as MMENGINE_METRICS
from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import OPTIM_WRAPPERS as MMENGINE_OPTIM_WRAPPERS
from mmengine.registry import PARAM_SCHEDULERS as MMENGINE_PARAM_SCHEDULERS
from mmengine.registry import TRANSFORMS as MMENGINE_TRANSFORMS
from mmengine.registry import VISBACKENDS as MMENGINE_VISBACKENDS
from mmengine.registry import VISUALIZERS as MMENGINE_VISUALIZERS
from mmengine.registry import Registry

from mtbench.errors import (ConfigError, UnknownArgumentError, UnknownTypeError,
                            UserError)

__all__ = [
    'MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'EVALUATOR', 'HOOKS', 'LOOPS',
    'DATA_SAMPLERS', 'OPTIM_WRAPPERS', 'PARAM_SCHEDULERS', 'VISUALIZERS', 'VISBACKENDS',
    'METHODS', 'accepted_arguments', 'build_or_explain',
]

MODELS = Registry('model', parent=MMENGINE_MODELS, scope='mtbench',
                  locations=['mtbench.models', 'mtbench.methods'])
DATASETS = Registry('dataset', parent=MMENGINE_DATASETS, scope='mtbench',
                    locations=['mtbench.datasets'])
TRANSFORMS = Registry('transform', parent=MMENGINE_TRANSFORMS, scope='mtbench',
                      locations=['mtbench.datasets'])
METRICS = Registry('metric', parent=MMENGINE_METRICS, scope='mtbench',
                   locations=['mtbench.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMENGINE_EVALUATOR, scope='mtbench',
                     locations=['mtbench.evaluation'])
HOOKS = Registry('hook', parent=MMENGINE_HOOKS, scope='mtbench', locations=['mtbench.engine'])
LOOPS = Registry('loop', parent=MMENGINE_LOOPS, scope='mtbench', locations=['mtbench.engine'])
DATA_SAMPLERS = Registry('data sampler', parent=MMENGINE_DATA_SAMPLERS, scope='mtbench',
                         locations=['mtbench.datasets'])
OPTIM_WRAPPERS = Registry('optim wrapper', parent=MMENGINE_OPTIM_WRAPPERS, scope='mtbench',
                          locations=['mtbench.engine'])
PARAM_SCHEDULERS = Registry('parameter scheduler', parent=MMENGINE_PARAM_SCHEDULERS,
                            scope='mtbench', locations=['mtbench.engine'])
VISUALIZERS = Registry('visualizer', parent=MMENGINE_VISUALIZERS, scope='mtbench',
                       locations=['mtbench.engine'])
VISBACKENDS = Registry('vis_backend', parent=MMENGINE_VISBACKENDS, scope='mtbench',
                       locations=['mtbench.engine'])
# Fine-tuning methods (mtbench/methods/<id>/): applied to a built MultiTaskModel.
METHODS = Registry('method', scope='mtbench', locations=['mtbench.methods'])


def _all_names(registry: Registry) -> list:
    names = set(registry.module_dict)
    parent = registry.parent
    while parent is not None:
        names.update(parent.module_dict)
        parent = parent.parent
    return sorted(names)


def build_or_explain(registry: Registry, cfg: dict, **kwargs):
    """Build ``cfg`` from ``registry``; an unknown ``type`` lists what is registered.

    Args:
        registry: the registry to build from.
        cfg: a config dict with a ``type`` key.
        **kwargs: passed to ``registry.build`` as ``default_args``.

    Raises:
        UnknownTypeError: (a KeyError) when ``cfg['type']`` is not registered, naming the
            closest matches and every registered name.
        UnknownArgumentError: (a TypeError) for arguments the class does not accept.
        ConfigError: (a ValueError) when the constructor rejects a value.
    """
    registry.import_from_location()
    type_name = cfg.get('type') if isinstance(cfg, dict) else None
    if isinstance(type_name, str) and registry.get(type_name) is None:
        names = _all_names(registry)
        close = difflib.get_close_matches(type_name, names, n=3)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ''
        raise UnknownTypeError(f"Unknown {registry.name} type {type_name!r}.{hint} "
                       f"Registered {registry.name} types: {', '.join(names)}")
    if isinstance(type_name, str):
        _check_arguments(registry, type_name,
                         [k for k in (*cfg, *kwargs) if k != 'type' and not k.startswith('_')])
    try:
        return registry.build(cfg, default_args=kwargs or None)
    except ValueError as err:
        if isinstance(err, UserError):
            raise
        # Constructors validate their arguments with ValueError: a bad config value.
        raise ConfigError(f'{registry.name} {type_name or cfg!r}: {err}') from err


def accepted_arguments(obj) -> Optional[List[str]]:
    """Keyword arguments a registered class or function accepts; ``None`` when it takes
    ``**kwargs`` or has no inspectable signature (anything is then accepted)."""
    import inspect
    try:
        params = inspect.signature(obj).parameters  # a class: its constructor, without self
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None
    return [n for n, p in params.items() if n != 'self' and p.kind in (
        inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]


def _check_arguments(registry: Registry, type_name: str, keys) -> None:
    """Raise a clear error for config keys that the registered class does not accept."""
    accepted = accepted_arguments(registry.get(type_name))
    unknown = [] if accepted is None else [k for k in keys if k not in accepted]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, accepted, n=1)
            hints.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
        raise UnknownArgumentError(f"{registry.name} type {type_name!r} got unknown argument(s) "
                        f"{', '.join(hints)}; it accepts: {', '.join(accepted) or 'none'}")
