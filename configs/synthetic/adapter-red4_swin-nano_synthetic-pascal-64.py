# Bottleneck adapters (reduction 4) on the synthetic PASCAL-layout benchmark (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='BottleneckAdapter', reduction=4))
