# The synthetic suite with the longer protocol it had before issue 15: the entries of
# synthetic.py, trained 250 steps at batch 32 (4x the compute; about an hour on a 2-core CPU).
# Its board, leaderboard/synthetic-full, is the reference the short protocol's ranking is
# checked against (Kendall tau in docs/benchmarks.md). Everything not set here (the configs,
# seeds, preparation, two runs at a time) comes from synthetic.py.
_base_ = ['./synthetic.py']
suite = dict(
    name='synthetic-full',
    work_root='work_dirs/suites/synthetic-full',
    cfg_options=[
        'train_dataloader.batch_size=32', 'train_cfg.max_iters=250', 'train_cfg.val_interval=250',
        'param_scheduler.0.end=25', 'param_scheduler.1.begin=25', 'param_scheduler.1.end=250',
        'param_scheduler.1.T_max=225', 'default_hooks.checkpoint.interval=250',
        'default_hooks.logger.interval=50',
    ],
    leaderboard=dict(results='leaderboard/synthetic-full/results',
                     out='leaderboard/synthetic-full'),
)
