# VL-Adapter (shared Houlsby adapters, reduction 4, LayerNorms trainable) on the synthetic
# PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VLAdapter', reduction=4, positions=('attn', 'mlp'),
                         sharing='shared', train_norms=True))
