# Compacter (n=4 shared rules, rank-1 blocks, reduction 4, after attention and MLP, LayerNorms
# trained) on Swin-T, NYUD-v2 (4 tasks). Same recipe as every row of the MTLoRA protocol (300
# epochs, AdamW, lr 5e-4 * 32/512, configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Compacter', n=4, rank=1, reduction=4, positions=('attn', 'mlp'),
                         rule_sharing='all', train_norms=True))
