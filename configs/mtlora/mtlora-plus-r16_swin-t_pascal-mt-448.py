# MTLoRA+ (MTLoRA r16 / task rank 4 plus a shared rank-16 LoRA on the three PatchMerging
# reductions, which are frozen) on Swin-T, PASCAL-Context (4 tasks): the reference
# 'mtlora_plus_tiny_448_r16_scale4_pertask' config (configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='MTLoRA', rank=16, task_rank=4, shared_scale=4.0, dropout=0.05,
                         downsampler_lora=True))
