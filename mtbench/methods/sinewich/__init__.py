"""Free Sinewich: frequency switching of a shared low-rank base for multi-task fine-tuning."""
from .blocks import ClockNet, SinewichBlock, SinewichPromptBlock, SinewichTaskState
from .layer import SineAWBLinear
from .sinewich import SITES, TASK_SITES, FreeSinewich

__all__ = ['FreeSinewich', 'SineAWBLinear', 'ClockNet', 'SinewichTaskState', 'SinewichBlock',
           'SinewichPromptBlock', 'SITES', 'TASK_SITES']
