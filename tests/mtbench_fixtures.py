"""Model configs shared by the tests (import as `from mtbench_fixtures import ...`)."""

TINY_BACKBONE = dict(type='SwinTransformer', arch='nano', img_size=64, drop_path_rate=0.0)


def tiny_model_cfg(tasks=('semseg', 'human_parts', 'saliency', 'normals'), dataset='pascal-mt',
                   method=None, **kwargs):
    """A nano-Swin multi-task model config for fast tests."""
    cfg = dict(type='MultiTaskModel', tasks=list(tasks), dataset=dataset,
               backbone=dict(TINY_BACKBONE), decoder=dict(type='HRNetFusionHead'),
               method=method or dict(type='FullFineTuning'))
    cfg.update(kwargs)
    return cfg
