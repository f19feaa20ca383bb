# The CPU-sized model of the synthetic benchmark: Swin "nano" (embed 32, depths 2-2-2-2, heads
# 1-2-4-8, window 4) at 64x64, pre-trained on the upstream synthetic scenes by
# tools/pretrain_synthetic.py, with one fusion head per task.
model = dict(
    type='MultiTaskModel',
    tasks=['semseg', 'human_parts', 'saliency', 'normals'],
    dataset='pascal-mt',
    backbone=dict(type='SwinTransformer', arch='nano', img_size=64, drop_path_rate=0.1),
    pretrained='work_dirs/pretrain/swin-nano_synthetic-upstream.pth',
    decoder=dict(type='HRNetFusionHead'),
    method=dict(type='FullFineTuning'),
    data_preprocessor=dict(type='MultiTaskDataPreprocessor'),
)
