"""Write ``work_dir/result.json`` after testing (the leaderboard's input)."""
import json
import os.path as osp
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Optional

import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mtbench.engine.params import count_parameters
from mtbench.fileio import write_json_atomic
from mtbench.registry import HOOKS
from mtbench.tasks import TASKS

__all__ = ['ResultRecordHook', 'write_json_atomic', 'peak_memory_mb', 'git_commit']

SCHEMA_VERSION = 1
TRAIN_INFO = 'train_info.json'


def peak_memory_mb(device: Optional[torch.device] = None) -> float:
    """Peak CUDA memory allocated on ``device`` (by default: when a GPU is in use), else the
    process's peak RSS, in MiB."""
    on_cuda = (torch.device(device).type == 'cuda' if device is not None
               else torch.cuda.is_available() and torch.cuda.is_initialized())
    if on_cuda:
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def git_commit() -> str:
    """The repository's HEAD commit, or 'unknown' outside a git checkout."""
    root = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
    try:
        out = subprocess.run(['git', 'rev-parse', 'HEAD'], cwd=root, capture_output=True,
                             text=True, timeout=10)
        return out.stdout.strip() or 'unknown'
    except (OSError, subprocess.SubprocessError):
        return 'unknown'


def _versions() -> dict:
    import mmengine
    import numpy
    import timm
    return {'python': sys.version.split()[0], 'torch': torch.__version__,
            'mmengine': mmengine.__version__, 'timm': timm.__version__,
            'numpy': numpy.__version__}


def _nest_metrics(metrics: dict) -> dict:
    nested = {}
    for key, value in metrics.items():
        task, _, name = key.partition('/')
        if not name:
            continue
        nested.setdefault(task, {})[name] = value
    return nested


@HOOKS.register_module()
class ResultRecordHook(Hook):
    """Write the result record described in ``docs/conventions.md``.

    During training it stores the training wall time and peak memory in
    ``work_dir/train_info.json``; after testing it writes ``work_dir/result.json`` atomically.

    Args:
        variant: the record's variant; defaults to the config file's stem.
    """

    priority = 'LOWEST'

    def __init__(self, variant: str = None):
        self.variant = variant
        self._start = time.time()

    def before_train(self, runner) -> None:
        self._start = time.time()

    def after_train(self, runner) -> None:
        if runner.rank != 0:
            return
        write_json_atomic(osp.join(runner.work_dir, TRAIN_INFO), {
            'train_wall_time_s': time.time() - self._start,
            'train_peak_memory_mb': peak_memory_mb(),
            'iters': runner.iter, 'epochs': runner.epoch,
        })

    def before_test(self, runner) -> None:
        self._start = time.time()

    def after_test_epoch(self, runner, metrics=None) -> None:
        if runner.rank != 0:
            return
        record = self.build_record(runner, metrics or {})
        path = osp.join(runner.work_dir, 'result.json')
        write_json_atomic(path, record)
        runner.logger.info(f'Result record written to {path}')

    def build_record(self, runner, metrics: dict) -> dict:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        cfg = runner.cfg
        filename = getattr(cfg, 'filename', None) or ''
        config_name = osp.splitext(osp.basename(filename))[0] or runner.experiment_name
        dataset = runner.test_dataloader.dataset
        meta = dict(getattr(dataset, 'metainfo', {}) or {})
        nested = _nest_metrics(metrics)
        primary = {}
        for task in model.tasks:
            spec = TASKS[task]
            value = nested.get(task, {}).get(spec.primary_metric)
            primary[task] = {'metric': spec.primary_metric, 'value': value,
                             'higher_is_better': spec.higher_is_better}
        delta = nested.get('multi_task', {}).get('delta_m')
        evaluator_cfg = cfg.get('test_evaluator', {}) or {}
        reference = evaluator_cfg.get('delta_m_reference') if isinstance(evaluator_cfg,
                                                                          dict) else None
        train_info_path = osp.join(runner.work_dir, TRAIN_INFO)
        train_info = {}
        if osp.exists(train_info_path):
            with open(train_info_path) as f:
                train_info = json.load(f)
        return {
            'schema_version': SCHEMA_VERSION,
            'method': model.method.method_id,
            'variant': self.variant or config_name,
            'config_name': config_name,
            'config': cfg.to_dict(),
            'dataset': {
                'name': meta.get('dataset_name', model.dataset),
                'variant': meta.get('variant', 'unknown'),
                'checksum': meta.get('file_list_checksum', 'unknown'),
                'split': meta.get('split', getattr(dataset, 'split', 'unknown')),
                'num_images': len(dataset),
            },
            'backbone': {'name': getattr(model.backbone, 'arch_name', 'unknown'),
                         'pretrained': model.pretrained},
            'tasks': list(model.tasks),
            'metrics': {t: v for t, v in nested.items() if t != 'multi_task'},
            'primary': primary,
            'delta_m': None if delta is None else {
                'value': delta,
                'reference': osp.splitext(osp.basename(reference))[0] if reference else None},
            'params': count_parameters(model),
            'seed': runner.seed,
            'git_commit': git_commit(),
            'versions': _versions(),
            'wall_time_s': train_info.get('train_wall_time_s', 0.0) + time.time() - self._start,
            'test_wall_time_s': time.time() - self._start,
            'train_wall_time_s': train_info.get('train_wall_time_s'),
            'peak_memory_mb': max(peak_memory_mb(), train_info.get('train_peak_memory_mb', 0.0)),
            'created': datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ'),
        }
