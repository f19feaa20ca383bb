# Single-task full fine-tuning on the synthetic benchmark, task: normals. The four single-task runs
# give the synthetic single-task reference that Δm divides by.
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
tasks = ['normals']
model = dict(tasks=tasks, method=dict(type='SingleTaskFineTuning'))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(metrics=[dict(type='NormalsMetric', task='normals')])
test_evaluator = val_evaluator
