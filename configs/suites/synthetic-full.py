# The synthetic suite with the longer protocol it had before issue 15: the entries of
# synthetic.py, trained 250 steps at batch 32 (4x the compute; about an hour on a 2-core CPU).
# Its board, leaderboard/synthetic-full, is the reference the short protocol's ranking is
# checked against (Kendall tau in docs/benchmarks.md).
suite = dict(
    name='synthetic-full',
    prepare='synthetic',
    seeds=[0, 1],
    work_root='work_dirs/suites/synthetic-full',
    cfg_options=[
        'train_dataloader.batch_size=32', 'train_cfg.max_iters=250', 'train_cfg.val_interval=250',
        'param_scheduler.0.end=25', 'param_scheduler.1.begin=25', 'param_scheduler.1.end=250',
        'param_scheduler.1.T_max=225', 'default_hooks.checkpoint.interval=250',
        'default_hooks.logger.interval=50',
    ],
    configs=[
        'configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/full-ft-scratch_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/single-task-semseg_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/single-task-human-parts_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/single-task-saliency_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/single-task-normals_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/bitfit_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/lora-r4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/adapter-red4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/vpt-shallow-p10_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/vpt-deep-p10_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/mtlora-r4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/tadformer-r4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/progressive_swin-nano_synthetic-pascal-64.py',
        # The rest of the field's standard comparison table (issue 13).
        'configs/synthetic/relative-bias_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/lora-r4-attn_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/low-rank-adapter-r1_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/compacter-n4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/compacter-pp-n4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/vl-adapter-red4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/hyperformer-red8_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/polyhistor-red2-r8_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/polyhistor-lite-red2-r8_swin-nano_synthetic-pascal-64.py',
        # The methods that lead the field's table today (issue 12).
        'configs/synthetic/ditask-np16-t4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/vmt-adapter-b8_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/vmt-adapter-lite-b8_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/tsbn-lr10_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/tssigmabn-lr10_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/sinewich-r4_swin-nano_synthetic-pascal-64.py',
        'configs/synthetic/faar-r8-cov95_swin-nano_synthetic-pascal-64.py',
    ],
    # exclusive: the results dir holds this suite's current records only (stale ones removed).
    leaderboard=dict(results='leaderboard/synthetic-full/results', out='leaderboard/synthetic-full',
                     exclusive=True),
    # Two entries at a time, one thread each: on a 2-core CPU that trains more runs per minute
    # than one two-thread run (docs/benchmarks.md). Efficiency figures are not measured here
    # (timings beside a second run are not figures): run tools/analysis/benchmark.py
    # --records-root work_dirs/suites/synthetic-full on a quiet machine, then rebuild the board.
    parallel=2,
)
