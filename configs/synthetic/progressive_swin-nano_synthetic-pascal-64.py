# Progressive task-specific adapters (task-grouped LoRA tree) on the synthetic PASCAL-layout
# benchmark (pre-trained tiny Swin, CPU, minutes). Same tree as the Swin-T PASCAL config
# (shared, shared, {semseg, human_parts} / {saliency, normals}, per task; mtbench's choice);
# ranks 8/8/4/2 keep the 48/48/24/12 pattern (the ranks of a stage's groups add up to 8).
# Regenerate the grouping with
#   python tools/analysis/task_similarity.py \
#       configs/synthetic/progressive_swin-nano_synthetic-pascal-64.py
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(
    type='ProgressiveTaskAdapters',
    grouping=[
        'shared',
        'shared',
        [['semseg', 'human_parts'], ['saliency', 'normals']],
        'task',
    ],
    ranks=[8, 8, 4, 2], scale=1.0, dropout=0.0,
    targets=('qkv', 'proj', 'fc1', 'fc2')))
