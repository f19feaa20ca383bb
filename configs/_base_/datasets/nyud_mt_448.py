# NYUD-v2 multi-task (NYUD_MT layout): semseg (40 classes), depth, normals, edge.
# Training augmentation flip + scale {1, 1.2, 1.5} (depth divided by the scale), then 448x448
# as in the MTLoRA data pipeline (shared/reference/reference_models.md §6.3).
dataset_type = 'NYUDv2MT'
data_root = 'data/NYUD_MT'
tasks = ['semseg', 'depth', 'normals', 'edge']
train_pipeline = [
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskScaleRotate', rotation_range=None, scale_choices=(1.0, 1.2, 1.5),
         divide_depth=True),
    dict(type='MultiTaskResize', size=(448, 448)),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='MultiTaskResize', size=(448, 448)),
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, drop_last=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', tasks=tasks,
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32, num_workers=4, persistent_workers=True, drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='val', tasks=tasks,
                 pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    type='MultiTaskEvaluator',
    metrics=[
        dict(type='SegmentationMetric', task='semseg', num_classes=40),
        dict(type='DepthMetric', task='depth'),
        dict(type='NormalsMetric', task='normals'),
        dict(type='EdgeMetric', task='edge', max_dist=0.011),
    ],
    delta_m_reference='leaderboard/baselines/nyud-mt_swin-t_published.json')
test_evaluator = val_evaluator
