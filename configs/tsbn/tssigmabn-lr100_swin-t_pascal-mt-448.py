# TSσBN (Suteu & Serban, arXiv 2512.20420): every LayerNorm of the frozen Swin-T (patch
# embedding, norm1/norm2 of every block, PatchMerging) gets one bounded per-channel gate per
# task, 2 * sigmoid(g_t) times the frozen pretrained LayerNorm output (g_t = 0 at start: the
# pretrained function); one stream per task through the backbone; decoders train. The gates
# train with a 100x learning rate and no weight decay (the paper's "discriminative learning
# rate"; docs/methods/tsbn.md), on the recipe of the MTLoRA protocol (paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='TSBN', sigma=True))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'tsbn_': dict(lr_mult=100.0, decay_mult=0.0)}))
