# VMT-Adapter-Lite (Xin et al., AAAI 2024): VMT-Adapter with one matrix for the down- and the
# (transposed) up-projection; bottleneck 32 in parallel to the MLP of every block, per-task
# knowledge extraction in the last block of each stage; frozen Swin-T, NYUD-v2 (4 tasks).
# Bottleneck, scale and placement details are mtbench's choices (docs/methods/vmt_adapter.md);
# recipe of every row of the MTLoRA protocol (configs/_base_/schedules/paper_300e.py).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(type='VMTAdapterLite', bottleneck=32, scale=1.0, task_blocks='last',
                         adapter_input='residual'))
