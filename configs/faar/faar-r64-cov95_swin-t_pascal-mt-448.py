# FAAR (arXiv 2603.20403; docs/methods/faar.md): DoRA adapters (shared on qkv/proj/fc1/fc2 of
# every block, one per task on proj/fc1/fc2 of the last block of each stage), initial rank 64,
# scale 4, shrunk at the end of every epoch by PDRS (coverage rho_shared = rho_task = 0.95), and
# the Task-Spectral Pyramidal Decoder (TS-PD) in front of the per-task HRNet heads, on Swin-T,
# PASCAL-Context (4 tasks), with the recipe of every row of the MTLoRA protocol
# (_base_/schedules/paper_300e.py). The paper's main row: +5.28 dm with 3.38M parameters.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decoder=dict(type='TaskSpectralPyramidalDecoder', img_size=448,
                 reduce_channels=[18, 36, 72, 144]),
    method=dict(type='FAAR', rank=64, task_rank=64, scale=4.0, dropout=0.05, coverage=0.95,
                task_coverage=0.95))
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
    dict(type='PDRSHook', interval=1, by_epoch=True),
]
