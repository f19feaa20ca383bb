"""VMT-Adapter / VMT-Adapter-Lite: shared multi-task adapters with task knowledge extraction."""
from .blocks import ADAPTER_INPUTS, VMTBlock, VMTStage
from .layer import ACTIVATIONS, VMTAdapterModule
from .vmt_adapter import DEFAULT_BOTTLENECK, TASK_BLOCKS, VMTAdapter, VMTAdapterLite

__all__ = ['VMTAdapter', 'VMTAdapterLite', 'VMTAdapterModule', 'VMTBlock', 'VMTStage',
           'ACTIVATIONS', 'ADAPTER_INPUTS', 'DEFAULT_BOTTLENECK', 'TASK_BLOCKS']
