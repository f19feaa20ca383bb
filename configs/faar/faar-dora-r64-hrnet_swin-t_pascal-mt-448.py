# DoRA in MTLoRA's layout at a fixed rank 64 (no rank shrinking, HRNet heads): the FAAR paper's
# "MTLoRA + DoRA (high rank)" ablation row (docs/methods/faar.md), on Swin-T, PASCAL-Context
# (4 tasks), recipe of the MTLoRA protocol (_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='FAAR', rank=64, task_rank=64, scale=4.0, dropout=0.05,
                         pdrs=False))
