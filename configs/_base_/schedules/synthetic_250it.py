# The synthetic pre-training schedule (and the fine-tuning schedule before issue 15; fixed steps, the
# machine may stall): 250 steps at batch 32 (8 epochs of the 1,000 training scenes). AdamW,
# warm-up then cosine, gradient clipping as in the paper recipe.
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-2, by_epoch=False, begin=0, end=25),
    dict(type='CosineAnnealingLR', eta_min=1e-5, by_epoch=False, begin=25, end=250, T_max=225),
]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=250, val_interval=250)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=250, max_keep_ckpts=1),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
log_processor = dict(by_epoch=False)
