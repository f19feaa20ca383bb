# Progressive task-specific adapters (Gangwar et al., arXiv 2509.19602; task-grouped LoRA) on
# Swin-T, PASCAL-Context (4 tasks), MTLoRA protocol recipe (configs/_base_/schedules/paper_300e.py).
# The paper's groups and ranks are not public; everything below is mtbench's own choice
# (docs/methods/progressive.md):
# - grouping by hand: stages 0-1 shared by all tasks; stage 2 two groups, the two part/label
#   segmentation tasks and the two per-pixel "surface" tasks; stage 3 one group per task.
#   Regenerate it from gradient similarities with
#     python tools/analysis/task_similarity.py \
#         configs/progressive/progressive_swin-t_pascal-mt-448.py
#   and use the result with method=dict(..., grouping=None, grouping_file='.../grouping.json').
# - ranks 48/48/24/12: the ranks of a stage's groups add up to 48 in every stage, so the adapters
#   cost exactly as much as one shared LoRA of rank 48 on the same sites (3,391,488 parameters);
#   with the decoders 5,338,112 trainable, 1/5.52 of multi-task full fine-tuning (29,464,442).
# - scale 4 and dropout 0.05 on qkv/proj/fc1/fc2: MTLoRA's values.
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(method=dict(
    type='ProgressiveTaskAdapters',
    grouping=[
        [['semseg', 'human_parts', 'saliency', 'normals']],
        [['semseg', 'human_parts', 'saliency', 'normals']],
        [['semseg', 'human_parts'], ['saliency', 'normals']],
        [['semseg'], ['human_parts'], ['saliency'], ['normals']],
    ],
    ranks=[48, 48, 24, 12], scale=4.0, dropout=0.05,
    targets=('qkv', 'proj', 'fc1', 'fc2')))
