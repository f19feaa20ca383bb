# TSσBN (one gate 2 * sigmoid(g_t) per task on every LayerNorm output) of the frozen
# pre-trained nano Swin, one stream per task, on the synthetic PASCAL-layout benchmark (CPU,
# minutes). Norm parameters at a 10x learning rate without weight decay (docs/methods/tsbn.md).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='TSBN', sigma=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'tsbn_': dict(lr_mult=10.0, decay_mult=0.0)}))
