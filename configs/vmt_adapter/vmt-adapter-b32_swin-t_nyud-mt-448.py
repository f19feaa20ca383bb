# VMT-Adapter (Xin et al., AAAI 2024): a bottleneck-32 adapter in parallel to the MLP of every
# block, down- and up-projections shared by all tasks, per-task knowledge extraction (scale +
# shift on the bottleneck) in the last block of each stage; frozen Swin-T, NYUD-v2 (4 tasks).
# Bottleneck, scale and placement details are mtbench's choices (docs/methods/vmt_adapter.md);
# recipe of every row of the MTLoRA protocol (configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VMTAdapter', bottleneck=32, scale=1.0, task_blocks='last',
                         adapter_input='residual'))
