"""mtbench hooks."""
from .param_count_hook import ParameterCountHook
from .result_record_hook import ResultRecordHook

__all__ = ['ParameterCountHook', 'ResultRecordHook']
