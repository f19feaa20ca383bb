"""mtbench hooks."""
from .param_count_hook import ParameterCountHook
from .result_record_hook import ResultRecordHook
from .visualization_hook import PredictionVisualizationHook

__all__ = ['ParameterCountHook', 'ResultRecordHook', 'PredictionVisualizationHook']
