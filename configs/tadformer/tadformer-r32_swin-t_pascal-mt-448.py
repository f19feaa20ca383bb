# TADFormer (rank 32, shared Dynamic Task Filter, 1 prompt per task, skip + stage-wise
# gating, frozen patch-merging reduction) on Swin-T, PASCAL-Context (4 tasks).
# Same recipe as every row of the MTLoRA protocol (300 epochs, AdamW, lr 5e-4 * 32/512,
# configs/_base_/schedules/paper_300e.py).
# filter='static' gives the released code's per-task static depthwise conv instead of the DTF.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='TADFormer', rank=32, scale=4.0, dropout=0.05, filter='dtf',
                         skip_connection=True, stagewise_gating=True))
