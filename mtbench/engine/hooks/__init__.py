"""mtbench hooks."""
from .param_count_hook import ParameterCountHook
from .random_state_hook import RandomStateHook
from .result_record_hook import ResultRecordHook
from .visualization_hook import PredictionVisualizationHook

__all__ = ['ParameterCountHook', 'RandomStateHook', 'ResultRecordHook',
           'PredictionVisualizationHook']
