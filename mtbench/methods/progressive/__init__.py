"""Progressive task-specific adaptation: a tree of task-grouped LoRA adapters."""
from .backbone import ProgressiveSwinTransformer
from .grouping import (GroupingError, default_grouping, load_grouping_file, normalize_grouping,
                       save_grouping_file)
from .layer import GroupLoRALinear
from .progressive import SITES, ProgressiveTaskAdapters

__all__ = ['ProgressiveTaskAdapters', 'ProgressiveSwinTransformer', 'GroupLoRALinear',
           'GroupingError', 'SITES', 'default_grouping', 'load_grouping_file',
           'normalize_grouping', 'save_grouping_file']
