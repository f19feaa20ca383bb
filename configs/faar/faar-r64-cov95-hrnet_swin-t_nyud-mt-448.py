# FAAR's backbone adaptation (DoRA, initial rank 64, PDRS with coverage 0.95 every epoch;
# docs/methods/faar.md) with the plain per-task HRNet heads, on Swin-T, NYUD-v2 with the three
# tasks of the paper's NYUD table (semseg, depth, normals), recipe of the MTLoRA protocol.
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
tasks = ['semseg', 'depth', 'normals']
model = dict(tasks=tasks,
             method=dict(type='FAAR', rank=64, task_rank=64, scale=4.0, dropout=0.05,
                         coverage=0.95, task_coverage=0.95))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(metrics=[
    dict(type='SegmentationMetric', task='semseg', num_classes=40),
    dict(type='DepthMetric', task='depth'),
    dict(type='NormalsMetric', task='normals'),
])
test_evaluator = val_evaluator
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
    dict(type='PDRSHook', interval=1, by_epoch=True),
]
