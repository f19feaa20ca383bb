# TSBN (Suteu & Serban, arXiv 2512.20420): every LayerNorm of the frozen Swin-T (patch
# embedding, norm1/norm2 of every block, PatchMerging) gets one affine (gamma_t, beta_t) per task,
# initialised to the pretrained affine; one stream per task through the backbone; decoders train.
# The norms' parameters train with a 10x learning rate and no weight decay (the paper's
# "discriminative learning rate" for normalisation parameters; docs/methods/tsbn.md), on the
# recipe of every row of the MTLoRA protocol (_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='TSBN'))
optim_wrapper = dict(
    paramwise_cfg=dict(custom_keys={'tsbn_': dict(lr_mult=10.0, decay_mult=0.0)}))
