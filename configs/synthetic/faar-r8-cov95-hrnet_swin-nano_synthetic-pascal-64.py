# FAAR's backbone adaptation (DoRA of initial rank 8, PDRS with coverage 0.95 every epoch;
# docs/methods/faar.md) with the plain per-task fusion heads instead of TS-PD, on the synthetic
# PASCAL-layout benchmark: the like-for-like comparison with MTLoRA's synthetic entry.
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='FAAR', rank=8, task_rank=8, scale=4.0, dropout=0.05,
                         coverage=0.95))
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
    dict(type='PDRSHook', interval=1, by_epoch=True),
]
