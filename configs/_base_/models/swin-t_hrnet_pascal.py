# Swin-T (ImageNet-1K weights) + one HRNet-style fusion head per PASCAL task, multi-task full
# fine-tuning by default. Download the weights yourself (mtbench never downloads) and set
# `pretrained`, e.g. to 'checkpoints/swin_tiny_patch4_window7_224.pth' (official Microsoft file)
# or 'timm:swin_tiny_patch4_window7_224.ms_in1k' (fetched through timm, needs network access).
model = dict(
    type='MultiTaskModel',
    tasks=['semseg', 'human_parts', 'saliency', 'normals'],
    dataset='pascal-mt',
    backbone=dict(type='SwinTransformer', arch='tiny', img_size=448, drop_path_rate=0.2),
    pretrained='checkpoints/swin_tiny_patch4_window7_224.pth',
    decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
    method=dict(type='FullFineTuning'),
    data_preprocessor=dict(type='MultiTaskDataPreprocessor'),
)
