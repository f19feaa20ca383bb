# Free Sinewich (rank 4, as sinewich-r4) with one HRNet fusion head per task instead of the shared
# decoder group (the heads of every other synthetic entry), on the synthetic PASCAL-layout
# benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    method=dict(type='FreeSinewich', rank=4, scale=4.0, dropout=0.05, freq_init=100.0,
                token_prompts=True),
)
