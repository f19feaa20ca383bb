# TADFormer r16 (as tadformer-r16_swin-t_pascal-mt-448.py) with activation checkpointing of the
# first Swin stage only: its blocks' activations (the 112x112-token task streams of the TPC and
# the TA-modules, most of TADFormer's extra memory) are recomputed in the backward pass instead
# of being stored. Same model, parameters and results; less peak memory for a slower step
# (figures in docs/benchmarks.md). Use it where the memory of tadformer-r16 does not fit.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    backbone=dict(with_cp=[True, False, False, False]),
    method=dict(type='TADFormer', rank=16, scale=4.0, dropout=0.05, filter='dtf',
                skip_connection=True, stagewise_gating=True))
