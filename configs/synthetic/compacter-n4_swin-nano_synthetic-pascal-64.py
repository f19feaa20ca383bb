# Compacter (n=4 shared rules, rank-1 blocks, reduction 4: bottlenecks 8/16/32/64, LayerNorms
# trained) on the synthetic PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Compacter', n=4, rank=1, reduction=4, positions=('attn', 'mlp'),
                         rule_sharing='all', train_norms=True))
