"""Multi-task dense prediction datasets (PASCAL-Context, NYUD-v2) and their transforms.

Importing this package registers ``PascalContextMT`` and ``NYUDv2MT`` in ``DATASETS`` and the
multi-task transforms in ``TRANSFORMS`` (scope ``mtbench``).

Example:
    >>> from mtbench.datasets import PascalContextMT
    >>> ds = PascalContextMT('data/PASCAL_MT', split='val', tasks=('semseg',))  # doctest: +SKIP
"""
from .base import MultiTaskDataset, file_list_checksum
from .nyud_mt import NYUD_CLASSES, NYUDv2MT
from .pascal_mt import HUMAN_PART_CLASSES, PASCAL_CLASSES, PascalContextMT
from .transforms import (MultiTaskRandomFlip, MultiTaskResize, MultiTaskScaleRotate,
                         PackMultiTaskInputs)

__all__ = [
    'MultiTaskDataset', 'PascalContextMT', 'NYUDv2MT', 'file_list_checksum', 'PASCAL_CLASSES',
    'HUMAN_PART_CLASSES', 'NYUD_CLASSES', 'MultiTaskRandomFlip', 'MultiTaskScaleRotate',
    'MultiTaskResize', 'PackMultiTaskInputs',
]
