# Polyhistor (Liu et al., arXiv 2210.03265) on Swin-T, NYUD-v2 (4 tasks): bottleneck-d/2
# adapters after attention and after the MLP of every block, their weights generated for every
# task, layer and position as rank-24 products L R by a pair of decomposed hypernetworks per
# stage width, from 64-d task/layer/position embeddings projected to 64-d. Reduction 2 and rank
# 24 are mtbench's choice (the paper's values could not be read), near the published budget:
# 8,720,064 trainable on PASCAL vs 8.96M published (docs/methods/polyhistor.md).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Polyhistor', reduction=2, rank=24, embed_dim=64,
                         projector_hidden=128, cond_dim=64))
