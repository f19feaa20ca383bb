# MTLoRA (shared rank 4 on qkv/proj/fc1/fc2, task rank 2 in the last block of each stage, scale 4)
# on the synthetic PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='MTLoRA', rank=4, task_rank=2, shared_scale=4.0, dropout=0.05))
