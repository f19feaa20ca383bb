# DiTASK as configs/ditask/ditask-np64-t4_swin-t_pascal-mt-448.py (PASCAL-Context), but from the
# ImageNet-22K Swin-T weights the DiTASK README trains from (swin_tiny_patch4_window7_224_22k.pth,
# the official Microsoft file; its 21,841-class head is dropped on loading). mtbench never
# downloads: put the file there, or set pretrained='timm:swin_tiny_patch4_window7_224.ms_in22k'
# to let timm fetch it (needs network access).
_base_ = [
    '../_base_/models/swin-t_hrnet_pascal.py',
    '../_base_/datasets/pascal_mt_448.py',
    '../_base_/schedules/paper_300e.py',
    '../_base_/default_runtime.py',
]
model = dict(pretrained='checkpoints/swin_tiny_patch4_window7_224_22k.pth',
             method=dict(type='DiTASK', cells=64, task_cells=4, dropout=0.05))
