# Runtime defaults shared by every mtbench config.
default_scope = 'mtbench'
env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='nccl'),
)
custom_hooks = [
    dict(type='ParameterCountHook'),
    dict(type='ResultRecordHook'),
]
log_level = 'INFO'
# Some methods keep trainable tensors that get no gradient (MTLoRA's last shared fc2 LoRA,
# TADFormer's unused prompt norms, as in the reference code), which DDP must be told about.
find_unused_parameters = True
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False)
visualizer = dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')])
