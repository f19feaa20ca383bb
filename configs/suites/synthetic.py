# The full synthetic suite: every registered method, including the single-task baselines that
# form the synthetic single-task reference, on the pre-trained nano Swin, two seeds. Pre-trained
# and random-init full FT come first: their gap is the benchmark's transfer check.
suite = dict(
    name='synthetic',
    prepare='synthetic',
    seeds=[0, 1],
    work_root='work_dirs/suites/synthetic',
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
    leaderboard=dict(results='leaderboard/synthetic/results', out='leaderboard/synthetic',
                     exclusive=True),
    # Efficiency figures (FLOPs, train img/s, peak memory, latency) of every config, measured
    # on the machine that runs the suite, at the benchmark's batch and input size.
    benchmark=dict(batch_size=32, size=[64, 64], steps=10, warmup=3),
)
