# Dense multi-task pre-training of the tiny Swin on the *upstream* synthetic scenes (another
# scene distribution than the benchmark: other shapes, palettes, textures, lighting), written in
# the NYUD_MT layout: semseg (40 classes), depth, normals, edge. tools/pretrain_synthetic.py runs
# this config and keeps the backbone weights as the "pretrained" checkpoint of the synthetic
# benchmark, playing the role ImageNet weights play for the real protocol.
_base_ = [
    '../_base_/schedules/synthetic_250it.py',
    '../_base_/default_runtime.py',
]
tasks = ['semseg', 'depth', 'normals', 'edge']
model = dict(
    type='MultiTaskModel',
    tasks=tasks,
    dataset='nyud-mt',
    backbone=dict(type='SwinTransformer', arch='nano', img_size=64, drop_path_rate=0.1),
    pretrained=None,
    decoder=dict(type='HRNetFusionHead'),
    method=dict(type='FullFineTuning'),
    output_scale=dict(depth=5.0),
    data_preprocessor=dict(type='MultiTaskDataPreprocessor'),
)
train_dataloader = dict(
    batch_size=32, num_workers=1, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type='NYUDv2MT', data_root='data/synthetic/upstream-nyud-64', split='train',
                 tasks=tasks, cache_samples=True,
                 pipeline=[dict(type='MultiTaskRandomFlip', prob=0.5),
                           dict(type='PackMultiTaskInputs')]))
train_cfg = dict(type='IterBasedTrainLoop', max_iters=800, val_interval=100000)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=50, end=800, T_max=750),
]
val_cfg = None
val_dataloader = None
val_evaluator = None
test_cfg = None
test_dataloader = None
test_evaluator = None
custom_hooks = [dict(type='ParameterCountHook')]
