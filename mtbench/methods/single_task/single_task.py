"""Single-task full fine-tuning (one model per task; the Δm reference)."""
import torch.nn as nn

from mtbench.methods.full_ft.full_ft import FullFineTuning
from mtbench.registry import METHODS

__all__ = ['SingleTaskFineTuning']


@METHODS.register_module()
class SingleTaskFineTuning(FullFineTuning):
    """Full fine-tuning of a model that predicts exactly one task.

    The suite trains one such model per task; their metrics form the single-task reference table
    that Δm divides by. Trainable parameters: the backbone plus that task's decoder.
    """

    method_id = 'single_task'

    def apply(self, model: nn.Module) -> None:
        if len(model.tasks) != 1:
            raise ValueError(f'single_task fine-tuning trains one task, got tasks={model.tasks}; '
                             'use one config per task (configs/single_task/)')
        super().apply(model)
