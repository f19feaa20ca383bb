# VL-Adapter (one set of Houlsby adapters, reduction 4, after attention and MLP, shared by
# all tasks; LayerNorms trainable) on Swin-T, NYUD-v2 (4 tasks): the VL-Adapter row of the
# Polyhistor / MTLoRA tables. Same recipe as every row of the MTLoRA protocol
# (configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VLAdapter', reduction=4, positions=('attn', 'mlp'),
                         sharing='shared', train_norms=True))
