# The paper-protocol suite on PASCAL-Context (Swin-T, 448x448): for users with GPUs, the data in
# data/PASCAL_MT and the ImageNet Swin-T weights in checkpoints/. Run with
#   python tools/run_suite.py configs/suites/pascal-swin-t.py --launcher slurm --partition gpu
suite = dict(
    name='pascal-swin-t',
    prepare=None,
    seeds=[0],
    work_root='work_dirs/suites/pascal-swin-t',
    configs=[
        'configs/single_task/single-task-semseg_swin-t_pascal-mt-448.py',
        'configs/single_task/single-task-human-parts_swin-t_pascal-mt-448.py',
        'configs/single_task/single-task-saliency_swin-t_pascal-mt-448.py',
        'configs/single_task/single-task-normals_swin-t_pascal-mt-448.py',
        'configs/full_ft/full-ft_swin-t_pascal-mt-448.py',
        'configs/decoder_only/decoder-only_swin-t_pascal-mt-448.py',
        'configs/bitfit/bitfit_swin-t_pascal-mt-448.py',
        'configs/lora/lora-r4_swin-t_pascal-mt-448.py',
        'configs/adapter/adapter-red4_swin-t_pascal-mt-448.py',
        'configs/vpt/vpt-shallow-p10_swin-t_pascal-mt-448.py',
        'configs/vpt/vpt-deep-p10_swin-t_pascal-mt-448.py',
        'configs/mtlora/mtlora-r16_swin-t_pascal-mt-448.py',
        'configs/mtlora/mtlora-r32_swin-t_pascal-mt-448.py',
        'configs/mtlora/mtlora-r64_swin-t_pascal-mt-448.py',
        'configs/mtlora/mtlora-plus-r16_swin-t_pascal-mt-448.py',
        'configs/tadformer/tadformer-r16_swin-t_pascal-mt-448.py',
        'configs/tadformer/tadformer-r32_swin-t_pascal-mt-448.py',
        'configs/tadformer/tadformer-r64_swin-t_pascal-mt-448.py',
        'configs/progressive/progressive_swin-t_pascal-mt-448.py',
    ],
    leaderboard=dict(results='leaderboard/results', out='leaderboard'),
)
