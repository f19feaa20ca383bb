# Free Sinewich (rank 64: shared LoRA on qkv/proj/fc1/fc2 of every block, Sine-AWB task streams
# on proj/fc1/fc2 of the last block of each stage, Lightweight Clock Net, 7x7 Gaussian low-pass)
# with its shared decoder group, on Swin-T, PASCAL-Context (4 tasks): the paper's main row
# (+5.39 Δm, 6.53M). The -hrnet-heads config is the same backbone with four HRNet heads.
# Same recipe as every row of the MTLoRA protocol (300 epochs, AdamW, lr 5e-4 * 32/512,
# configs/_base_/schedules/paper_300e.py). Switches and the paper-vs-mtbench choices:
# docs/methods/sinewich.md.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decoder=dict(type='SinewichDecoderGroup', sine=True, low_pass=True, low_pass_kernel=7,
                 low_pass_sigma=1.0, freq_init=10.0),
    method=dict(type='FreeSinewich', rank=64, scale=4.0, dropout=0.05,
                task_sites=('proj', 'fc1', 'fc2'), sine=True, clock_net=True, low_pass=True,
                low_pass_kernel=7, low_pass_sigma=1.0, shared_base=True, mid_kernel=True,
                freq_init=100.0, token_prompts=True),
)
