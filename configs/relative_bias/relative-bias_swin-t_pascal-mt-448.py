# Relative-position-bias tuning (only Swin's relative-position bias tables and the decoders
# train) on Swin-T, PASCAL-Context (4 tasks). Same recipe as every row of the MTLoRA protocol
# (300 epochs, AdamW, lr 5e-4 * 32/512, configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='RelativeBiasTuning'))
