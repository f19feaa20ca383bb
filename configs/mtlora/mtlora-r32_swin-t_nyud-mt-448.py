# MTLoRA (shared rank 32 on qkv/proj/fc1/fc2 of every block, task rank 4 on proj/fc1/fc2 of the
# last block of each stage, scale 4, LoRA dropout 0.05, trainable PatchMerging reductions) on
# Swin-T, NYUD-v2 (4 tasks): the reference 'mtlora_tiny_448_r32_scale4_pertask'
# config, with the recipe of every row of the MTLoRA protocol (_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='MTLoRA', rank=32, task_rank=4, shared_scale=4.0, dropout=0.05))
