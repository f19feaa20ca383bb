# LoRA on the attention projections only (rank 16 on the fused qkv, shared by all tasks)
# on Swin-T, NYUD-v2 (4 tasks): the LoRA row of the Polyhistor / MTLoRA tables
# (docs/methods/lora.md). Same recipe as every row of the MTLoRA protocol (300 epochs,
# AdamW, configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='LoRA', rank=16, alpha=16, targets=('attn.qkv',)))
