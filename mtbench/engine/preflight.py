"""Checks a command runs before any expensive work: paths, datasets, checkpoints.

A training run must not die at minute 9 on a path it could have checked at second 1:
:func:`preflight` looks at every file and folder the run will need (pretrained weights, each
dataloader's dataset files, a resume checkpoint, the work dir) and raises the first problem as a
:class:`~mtbench.errors.UserError`. :func:`check_model_checkpoint` tells whether a checkpoint
fits the model a config builds, naming the first mismatching keys and shapes.
"""
import copy
import os
import os.path as osp
from typing import Iterable, Mapping, Optional

from mmengine.config import Config

from mtbench.errors import CheckpointError, ConfigError, MissingPathError

__all__ = ['preflight', 'check_pretrained', 'check_datasets', 'check_model_checkpoint',
           'checkpoint_state_dict']


def check_pretrained(cfg: Config) -> None:
    """``model.pretrained`` is None, ``'timm:<tag>'`` or an existing file."""
    from mtbench.models.backbones.swin_checkpoint import missing_pretrained_message
    pretrained = (cfg.get('model') or {}).get('pretrained')
    if isinstance(pretrained, str) and not pretrained.startswith('timm:') \
            and not osp.isfile(osp.expanduser(pretrained)):
        raise MissingPathError(missing_pretrained_message(pretrained))


def check_datasets(cfg: Config, splits: Iterable[str]) -> None:
    """Build each ``<split>_dataloader.dataset`` of ``splits`` and list its files.

    Raises the dataset's own error (missing data root, split file or sample files) before the
    model is built.
    """
    from mtbench.registry import DATASETS
    for split in splits:
        loader = cfg.get(f'{split}_dataloader')
        if not isinstance(loader, Mapping) or not isinstance(loader.get('dataset'), Mapping):
            continue
        dataset_cfg = copy.deepcopy(dict(loader['dataset']))
        dataset_cfg.update(lazy_init=True, pipeline=[])
        dataset = DATASETS.build(dataset_cfg)
        if hasattr(dataset, 'load_data_list'):
            dataset.load_data_list()


def _check_work_dir(work_dir: Optional[str]) -> None:
    if not work_dir:
        return
    try:
        os.makedirs(work_dir, exist_ok=True)
    except OSError as err:
        raise MissingPathError(f'cannot create the work dir {work_dir} ({err.strerror}); pass '
                               '--work-dir with a writable folder') from None
    if not os.access(work_dir, os.W_OK):
        raise MissingPathError(f'the work dir {work_dir} is not writable; pass --work-dir with a '
                               'writable folder')


def _check_visualizer(cfg: Config) -> None:
    backends = (cfg.get('visualizer') or {}).get('vis_backends') or []
    if any(isinstance(b, Mapping) and b.get('type') == 'TensorboardVisBackend' for b in backends):
        import importlib.util
        if importlib.util.find_spec('tensorboard') is None:
            raise ConfigError("TensorboardVisBackend needs the tensorboard package: pip install "
                              "-e '.[tensorboard]' (or pip install tensorboard), or drop the "
                              'override')


def preflight(cfg: Config, splits: Iterable[str] = ('train', 'val'),
              pretrained: bool = True) -> None:
    """Check what a run needs before it builds anything.

    Args:
        cfg: the loaded config (work_dir set).
        splits: the dataloaders the run will use ('train', 'val', 'test').
        pretrained: whether ``model.pretrained`` will be loaded.
    """
    _check_work_dir(cfg.get('work_dir'))
    _check_visualizer(cfg)
    if pretrained:
        check_pretrained(cfg)
    load_from = cfg.get('load_from')
    if isinstance(load_from, str) and not osp.isfile(load_from):
        raise MissingPathError(f'checkpoint to resume/load not found: {load_from}; check the '
                               'path (or use --resume without a path for the latest one)')
    check_datasets(cfg, splits)


def checkpoint_state_dict(path: str) -> dict:
    """The model state dict of an mmengine/mtbench checkpoint file, loaded safely.

    Raises:
        MissingPathError / CheckpointError: missing, unreadable, unsafe or not a checkpoint.
    """
    from mtbench.engine.checkpoint_safety import safe_torch_load
    checkpoint = safe_torch_load(path, map_location='cpu')
    state = checkpoint.get('state_dict', checkpoint) if isinstance(checkpoint, dict) else None
    if not isinstance(state, dict) or not state or not all(
            hasattr(v, 'shape') for v in state.values()):
        raise CheckpointError(f'{path} is not a model checkpoint: expected a dict with a '
                              "'state_dict' of tensors (as tools/train.py saves)")
    return state


def check_model_checkpoint(cfg: Config, path: str) -> dict:
    """Check that the checkpoint at ``path`` holds the whole model ``cfg`` builds.

    The model is built on the meta device (no weights loaded). Returns the state dict.

    Raises:
        CheckpointError: keys or shapes differ; the message names the first ones and what the
            checkpoint seems to be.
    """
    from mtbench.engine.model_builder import build_model_from_config
    state = checkpoint_state_dict(path)
    try:
        model = build_model_from_config(cfg, load_pretrained=False, device='meta')
    except (ValueError, KeyError) as err:
        raise ConfigError(f'cannot build the model of the config: {err}') from None
    expected = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in state.items()}
    missing = [k for k in expected if k not in got]
    unexpected = [k for k in got if k not in expected]
    shapes = [f'{k}: checkpoint {got[k]} vs model {expected[k]}' for k in expected
              if k in got and got[k] != expected[k]]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f'{len(missing)} model key(s) missing from it, first {missing[:3]}')
        if unexpected:
            parts.append(f'{len(unexpected)} unexpected key(s), first {unexpected[:3]}')
        if shapes:
            parts.append(f'{len(shapes)} shape mismatch(es), first {shapes[:2]}')
        method = (cfg.model.get('method') or {}).get('type', 'FullFineTuning')
        raise CheckpointError(
            f'{path} does not fit the model of this config (method {method}, backbone '
            f"{cfg.model.backbone.get('arch')}, tasks {list(cfg.model.tasks)}): "
            + '; '.join(parts) + '; test it with the config it was trained with')
    return state
