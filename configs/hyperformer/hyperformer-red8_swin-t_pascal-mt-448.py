# Hyperformer (Mahabadi et al., arXiv 2106.04489), the Polyhistor / MTLoRA baseline, on Swin-T,
# PASCAL-Context (4 tasks). One hypernetwork per adapter site (Hyperformer, not Hyperformer++)
# generates, for every task, a reduction-8 bottleneck adapter after attention and after the MLP
# of every block, from a 512-d task embedding projected to 64-d (128 hidden, LayerNorm); the
# backbone LayerNorms train. MTLoRA protocol recipe (configs/_base_/schedules/paper_300e.py).
# Trainable on PASCAL: 72,779,472 (published 72.77M; docs/methods/hyperformer.md).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Hyperformer', reduction=8, sharing='site', embed_dim=512,
                         projector_hidden=128, cond_dim=64, train_norms=True))
