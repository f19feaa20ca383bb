# TADFormer (rank 4, shared Dynamic Task Filter, prompts, TPC, gated skip) on the synthetic
# PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes). At 64x64 the nano Swin's stage
# grids are 16/8/4/2 tokens: stages 2 and 3 are one unshifted window each (4x4 and 2x2).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='TADFormer', rank=4, scale=4.0, dropout=0.05, filter='dtf'))
