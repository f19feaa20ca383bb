# DiTASK (joint CPA transforms of the singular values with 16 cells on qkv/proj/fc1/fc2 of every
# block, 4-cell task transforms on proj/fc1/fc2 of the last block of each stage, input dropout
# 0.05) on the synthetic PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes). The nano
# Swin has 32-256 singular values per weight, so 16 cells (Swin-T: 64 cells for 96-768 values).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='DiTASK', cells=16, task_cells=4, dropout=0.05))
