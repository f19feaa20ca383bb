# Decoder-only tuning (frozen Swin-T) on PASCAL-Context (4 tasks), the paper recipe.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='DecoderOnly'))
