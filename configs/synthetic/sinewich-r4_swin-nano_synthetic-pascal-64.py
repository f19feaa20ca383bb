# Free Sinewich (rank 4: shared LoRA on qkv/proj/fc1/fc2, Sine-AWB task streams on proj/fc1/fc2 of
# the last block of each stage, Lightweight Clock Net, 7x7 Gaussian low-pass) with its shared
# decoder group, on the synthetic PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decoder=dict(type='SinewichDecoderGroup', sine=True, low_pass=True, freq_init=10.0),
    method=dict(type='FreeSinewich', rank=4, scale=4.0, dropout=0.05, freq_init=100.0,
                token_prompts=True),
)
