"""TADFormer: task-adaptive dynamic transformer for multi-task dense prediction (PEFT)."""
from .backbone import TADFormerLayer, TADFormerSwin
from .block import TADFormerBlock
from .convert import (convert_tadformer_checkpoint, reference_task_order,
                      to_reference_tadformer_checkpoint)
from .filters import DynamicTaskFilter, StaticTaskFilter, build_task_filter
from .linear import TADLinear
from .tadformer import TADFormer, tadformer_num_trainable

__all__ = ['TADFormer', 'TADFormerBlock', 'TADFormerLayer', 'TADFormerSwin', 'TADLinear',
           'DynamicTaskFilter', 'StaticTaskFilter', 'build_task_filter',
           'convert_tadformer_checkpoint', 'to_reference_tadformer_checkpoint',
           'reference_task_order', 'tadformer_num_trainable']
