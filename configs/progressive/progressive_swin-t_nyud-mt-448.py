# Progressive task-specific adapters (Gangwar et al., arXiv 2509.19602; task-grouped LoRA) on
# Swin-T, NYUD-v2 (4 tasks), MTLoRA protocol recipe (configs/_base_/schedules/paper_300e.py).
# The paper's groups and ranks are not public; everything below is mtbench's own choice
# (docs/methods/progressive.md):
# - grouping by hand: stages 0-1 shared by all tasks; stage 2 two groups, the semantic/boundary
#   tasks (semseg, edge) and the geometric tasks (depth, normals); stage 3 one group per task.
#   Regenerate it from gradient similarities with
#     python tools/analysis/task_similarity.py \
#         configs/progressive/progressive_swin-t_nyud-mt-448.py
#   and use the result with method=dict(..., grouping=None, grouping_file='.../grouping.json').
# - ranks 48/48/24/12 (the ranks of a stage's groups add up to 48 in every stage: the adapter
#   budget of one shared rank-48 LoRA), scale 4 and dropout 0.05 on qkv/proj/fc1/fc2 (MTLoRA's).
_base_ = [
    '../_base_/models/swin-t_hrnet_nyud.py',
    '../_base_/datasets/nyud_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(
    type='ProgressiveTaskAdapters',
    grouping=[
        [['semseg', 'depth', 'normals', 'edge']],
        [['semseg', 'depth', 'normals', 'edge']],
        [['semseg', 'edge'], ['depth', 'normals']],
        [['semseg'], ['depth'], ['normals'], ['edge']],
    ],
    ranks=[48, 48, 24, 12], scale=4.0, dropout=0.05,
    targets=('qkv', 'proj', 'fc1', 'fc2')))
