# The embedded synthetic benchmark: procedurally rendered scenes written in the PASCAL_MT layout
# (tools/dataset_converters/make_synthetic.py), read by the real PascalContextMT loader.
dataset_type = 'PascalContextMT'
data_root = 'data/synthetic/pascal-mt-64'
tasks = ['semseg', 'human_parts', 'saliency', 'normals']
train_pipeline = [
    dict(type='MultiTaskRandomFlip', prob=0.5),
    dict(type='PackMultiTaskInputs'),
]
test_pipeline = [
    dict(type='PackMultiTaskInputs'),
]
train_dataloader = dict(
    batch_size=16, num_workers=1, persistent_workers=True, drop_last=True,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    collate_fn=dict(type='default_collate'),
    dataset=dict(type=dataset_type, data_root=data_root, split='train', tasks=tasks,
                 cache_samples=True, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=50, num_workers=1, persistent_workers=True, drop_last=False,
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
    delta_m_reference=None)
test_evaluator = val_evaluator
