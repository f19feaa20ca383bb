# The MTLoRA / TADFormer training recipe (shared/reference/reference_models.md §5):
# 300 epochs, batch 32 on one GPU, AdamW (0.9, 0.999), lr 5e-4 * 32 / 512 = 3.125e-5,
# weight decay 0.05 (none on 1-D parameters and biases), 20 warm-up epochs from lr / 1000, then
# cosine to lr / 100, stepped per iteration, gradient clipping at norm 5, fp16 autocast on GPU.
optim_wrapper = dict(
    type='AmpOptimWrapper',
    loss_scale='dynamic',
    optimizer=dict(type='AdamW', lr=3.125e-5, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0, flat_decay_mult=0.0),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type='LinearLR', start_factor=1e-3, by_epoch=True, begin=0, end=20,
         convert_to_iter_based=True),
    dict(type='CosineAnnealingLR', eta_min=3.125e-7, by_epoch=True, begin=20, end=300,
         T_max=280, convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=300, val_interval=5)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', interval=20, max_keep_ckpts=2,
                    save_best='multi_task/delta_m', rule='greater'),
    sampler_seed=dict(type='DistSamplerSeedHook'),
)
log_processor = dict(by_epoch=True)
auto_scale_lr = dict(enable=False, base_batch_size=32)
