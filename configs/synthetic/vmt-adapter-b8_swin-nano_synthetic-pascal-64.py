# VMT-Adapter (bottleneck 8 in parallel to every MLP, shared projections, per-task knowledge
# extraction in the last block of each stage) on the synthetic PASCAL-layout benchmark
# (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VMTAdapter', bottleneck=8, scale=1.0, task_blocks='last',
                         adapter_input='residual'))
