# Short fixed-step schedule of the synthetic benchmark on a CPU (fixed steps, not seconds: the
# machine may stall): 125 steps at batch 16 (2 epochs of the 1,000 training scenes; the batch is
# set in _base_/datasets/synthetic_pascal_64.py). AdamW, warm-up then cosine, gradient clipping
# as in the paper recipe. The earlier 250 steps at batch 32 (synthetic_250it.py, still the
# pre-training schedule) cost 4x the compute; docs/benchmarks.md compares the two boards.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=12),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=12, end=125, T_max=113),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=125, val_interval=125)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=25),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=125, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
log_processor = dict(by_epoch=False)
