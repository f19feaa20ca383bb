# Polyhistor-Lite (Liu et al., arXiv 2210.03265) on Swin-T, NYUD-v2 (4 tasks): one pair of
# decomposed hypernetworks generates rank-24 template kernels of the first stage's adapter size
# (96 x 48) for every task, layer and position; a learned layer-wise scaling kernel (k x k,
# k = 1/2/4/8 by stage) scales each template to its block's width by a Kronecker product. Same
# adapters and embeddings as polyhistor-red2-r24_swin-t_nyud-mt-448.py.
# Trainable on PASCAL: 2,431,080 (docs/methods/polyhistor.md).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='PolyhistorLite', reduction=2, rank=24, embed_dim=64,
                         projector_hidden=128, cond_dim=64))
