# Multi-task full fine-tuning from a randomly initialised backbone: the control that shows the
# synthetic pre-training transfers (tools/analysis/synthetic_transfer.py compares the two).
_base_ = [
    '../_base_/models/swin-nano_hrnet_synthetic.py',
    '../_base_/datasets/synthetic_pascal_64.py',
    '../_base_/schedules/synthetic_125it.py',
    '../_base_/default_runtime.py',
]
model = dict(pretrained=None)
