"""Runner helpers: safe checkpoint loading, parameter accounting, hooks."""
from .checkpoint_safety import (SAFE_GLOBALS, UnsafeCheckpointError, register_safe_globals,
                                safe_torch_load)
from .hooks import ParameterCountHook, ResultRecordHook
from .params import count_parameters, format_parameter_table

__all__ = ['SAFE_GLOBALS', 'UnsafeCheckpointError', 'register_safe_globals', 'safe_torch_load',
           'ParameterCountHook', 'ResultRecordHook', 'count_parameters',
           'format_parameter_table']
