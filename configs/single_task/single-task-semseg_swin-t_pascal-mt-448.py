# Single-task full fine-tuning of Swin-T on PASCAL-Context, task: semseg (one of the four models
# whose metrics form the single-task reference of Δm). Loss weight as in the multi-task run.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
tasks = ['semseg']
model = dict(tasks=tasks, method=dict(type='SingleTaskFineTuning'))
train_dataloader = dict(dataset=dict(tasks=tasks))
val_dataloader = dict(dataset=dict(tasks=tasks))
test_dataloader = val_dataloader
val_evaluator = dict(metrics=[dict(type='SegmentationMetric', task='semseg', num_classes=21)], delta_m_reference=None)
test_evaluator = val_evaluator
default_hooks = dict(checkpoint=dict(save_best='semseg/mIoU',
                                     rule='greater'))
