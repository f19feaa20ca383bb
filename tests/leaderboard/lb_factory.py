"""Factory of valid schema_version 1 records for the leaderboard tests and fixtures."""
import copy

from mtbench.tasks import TASKS

__all__ = ['CHECKSUM_A', 'CHECKSUM_B', 'PASCAL_TASKS', 'make_record']

PASCAL_TASKS = ('semseg', 'human_parts', 'saliency', 'normals')
CHECKSUM_A = 'sha256:' + '1a' * 32
CHECKSUM_B = 'sha256:' + '2b' * 32
_AUX = {'semseg': {'aAcc': 90.0}, 'human_parts': {'aAcc': 85.0}, 'saliency': {'maxF': 80.0},
        'normals': {'median': 15.0, 'rmse': 25.0}, 'depth': {'abs_rel': 0.15},
        'edge': {'oisF': 70.0}}


def make_record(method='full_ft', variant='full-ft_swin-t_pascal-mt-448', seed=0, values=None,
                dataset='pascal-mt', dataset_variant='jpg-npy', checksum=CHECKSUM_A,
                num_images=5105, params=None, efficiency=None,
                reference='pascal-mt_swin-t_published', dm_value=None,
                created='2026-11-23T08:00:00Z', backbone='swin-t',
                pretrained='timm:swin_tiny_patch4_window7_224.ms_in1k'):
    """A valid record; ``values`` is ``{task: primary metric value}`` (tasks in that order)."""
    values = dict(values or {'semseg': 67.56, 'human_parts': 60.24, 'saliency': 65.21,
                             'normals': 16.64})
    tasks = list(values)
    metrics, primary = {}, {}
    for task, value in values.items():
        spec = TASKS[task]
        metrics[task] = {spec.primary_metric: value, **_AUX[task]}
        primary[task] = {'metric': spec.primary_metric, 'value': value,
                         'higher_is_better': spec.higher_is_better}
    params = params or {'total': 29464442, 'trainable': 29464442, 'backbone_added': 0,
                        'backbone_original': 27517818, 'decoders': 1946624,
                        'shared': 27517818, 'per_task': {t: 1946624 // len(tasks) for t in tasks}}
    record = {
        'schema_version': 1, 'method': method, 'variant': variant,
        'config_name': f'{variant}', 'config': {'model': {'type': 'MultiTaskModel'}},
        'dataset': {'name': dataset, 'variant': dataset_variant, 'checksum': checksum,
                    'split': 'val', 'num_images': num_images},
        'backbone': {'name': backbone, 'pretrained': pretrained},
        'tasks': tasks, 'metrics': metrics, 'primary': primary,
        'delta_m': None if reference is None else {'value': dm_value, 'reference': reference},
        'params': copy.deepcopy(params), 'seed': seed, 'git_commit': 'abc1234',
        'versions': {'torch': '2.4.0', 'mmengine': '0.10.4'}, 'wall_time_s': 3600.0,
        'peak_memory_mb': 8000.0, 'created': created,
    }
    if efficiency is not None:
        record['efficiency'] = dict(efficiency)
    return record
