# Polyhistor (decomposed hypernetworks per stage width, rank-8 factors of bottleneck-d/2
# adapters after attention and MLP) on the synthetic PASCAL-layout benchmark (pre-trained nano
# Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Polyhistor', reduction=2, rank=8, embed_dim=64,
                         projector_hidden=128, cond_dim=64))
