# PASCAL-Context multi-task (PASCAL_MT layout), the PEFT papers' protocol: four tasks in Δm,
# training augmentation flip + rotation ±20° + scale 0.75-1.25, 448x448 inputs, evaluation on
# labels resized to 448x448 (shared/reference/reference_models.md §6).
dataset_type = 'PascalContextMT'
data_root = 'data/PASCAL_MT'
tasks = ['semseg', 'human_parts', 'saliency', 'normals']
train_pipeline = [
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='MultiTaskScaleRotate', rotation_range=(-20, 20), scale_range=(0.75, 1.25)),
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
        dict(type='SegmentationMetric', task='semseg', num_classes=21),
        dict(type='SegmentationMetric', task='human_parts', num_classes=7),
        dict(type='SaliencyMetric', task='saliency'),
        dict(type='NormalsMetric', task='normals'),
    ],
    delta_m_reference='leaderboard/baselines/pascal-mt_swin-t_published.json')
test_evaluator = val_evaluator
