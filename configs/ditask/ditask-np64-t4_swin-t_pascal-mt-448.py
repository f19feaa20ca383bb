# DiTASK (joint CPA transforms of the singular values, 64 cells, on qkv/proj/fc1/fc2 of every
# block; 4-cell task transforms on proj/fc1/fc2 of the last block of each stage; input dropout
# 0.05; trainable patch embedding, LayerNorms, rel-pos tables and PatchMerging reductions) on
# Swin-T, PASCAL-Context (4 tasks): the released 'ditask_tiny_448_r64' config, with mtbench's
# ImageNet-1K weights (the DiTASK README uses ImageNet-22K: see the -in22k config) and the recipe
# of every row of the MTLoRA protocol (_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='DiTASK', cells=64, task_cells=4, dropout=0.05))
