# FAAR (docs/methods/faar.md): DoRA adapters (shared in every block, one per task in the last
# block of each stage) of initial rank 8, scale 4, shrunk by PDRS (coverage 0.95) at the end of
# every epoch (62 steps at batch 16), and the TS-PD decoder, on the synthetic PASCAL-layout benchmark
# (pre-trained tiny Swin, CPU, minutes).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(
    decoder=dict(type='TaskSpectralPyramidalDecoder', img_size=64),
    method=dict(type='FAAR', rank=8, task_rank=8, scale=4.0, dropout=0.05, coverage=0.95))
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
    dict(type='PDRSHook', interval=1, by_epoch=True),
]
