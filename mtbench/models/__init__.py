"""Backbones, decoders, losses and the multi-task model."""
from .backbones import SwinTransformer
from .data_preprocessor import MultiTaskDataPreprocessor
from .decoders import HRNetFusionHead
from .losses import BalancedBCELoss, CrossEntropyLoss, DepthL1Loss, NormalsL1Loss
from .multi_task_model import MultiTaskModel

__all__ = ['SwinTransformer', 'MultiTaskDataPreprocessor', 'HRNetFusionHead', 'MultiTaskModel',
           'CrossEntropyLoss', 'BalancedBCELoss', 'NormalsL1Loss', 'DepthL1Loss']
