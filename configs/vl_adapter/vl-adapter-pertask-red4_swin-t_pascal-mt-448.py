# VL-Adapter's "multiple adapters" (one set of Houlsby adapters per task, reduction 4,
# after attention and MLP; LayerNorms trainable) on Swin-T, PASCAL-Context (4 tasks): the
# "Adapter" row of the Polyhistor / MTLoRA tables (docs/methods/vl_adapter.md). One stream
# per task runs through the backbone. Same recipe as every row of the MTLoRA protocol
# (configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VLAdapter', reduction=4, positions=('attn', 'mlp'),
                         sharing='per_task', train_norms=True))
