# Hyperformer (one hypernetwork per adapter site, reduction-8 adapters after attention and MLP,
# trainable LayerNorms) on the synthetic PASCAL-layout benchmark (pre-trained nano Swin, CPU,
# minutes). Task embeddings 64-d for the nano model (512-d on Swin-T).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='Hyperformer', reduction=8, sharing='site', embed_dim=64,
                         projector_hidden=128, cond_dim=64, train_norms=True))
