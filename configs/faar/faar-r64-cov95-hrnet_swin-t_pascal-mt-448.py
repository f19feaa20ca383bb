# FAAR's backbone adaptation (DoRA, initial rank 64, PDRS with coverage 0.95 every epoch;
# docs/methods/faar.md) with the plain per-task HRNet heads instead of TS-PD: the paper's
# "+ PDRS w/ DoRA" ablation row, and the like-for-like comparison with MTLoRA/TADFormer, on
# Swin-T, PASCAL-Context (4 tasks), recipe of the MTLoRA protocol (_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='FAAR', rank=64, task_rank=64, scale=4.0, dropout=0.05,
                         coverage=0.95, task_coverage=0.95))
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
    dict(type='PDRSHook', interval=1, by_epoch=True),
]
