"""Common base of the per-task metrics: reads one task from the model outputs.

Every mtbench metric consumes the samples :meth:`MultiTaskModel.predict` returns
(``{'img_id', 'pred': {task: tensor}, 'gt': {task: tensor}}``, see ``docs/conventions.md``),
reads only its own task, and stores a small per-image summary (counts, sums, histograms) in
``self.results`` so that distributed evaluation gathers kilobytes, not pixels.
"""
from typing import Any, List, Optional, Sequence, Tuple

import torch
from mmengine.evaluator import BaseMetric

from mtbench.tasks import TASKS

__all__ = ['TaskMetric', 'lower_is_better_keys']

# Metric keys (without the task prefix) for which a smaller value is better; every other key
# mtbench reports is higher-is-better. Used by ``delta_m`` when a non-default primary is chosen.
lower_is_better_keys = {
    'normals': {'mean', 'median', 'rmse'},
    'depth': {'rmse', 'log_rmse', 'abs_rel'},
}


class TaskMetric(BaseMetric):
    """Base class: groups a batch into same-shape stacks and calls :meth:`batch_results`.

    Args:
        task: task name (a key of ``mtbench.tasks.TASKS``); also the key prefix.
        primary: metric key (without prefix) this metric offers to Δm; defaults to
            ``TASKS[task].primary_metric``.
        collect_device: ``'cpu'`` or ``'gpu'``, passed to :class:`BaseMetric`.
        prefix: key prefix; defaults to the task name (``semseg/mIoU``).
    """

    def __init__(self, task: str, primary: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if task not in TASKS:
            raise ValueError(f'Unknown task {task!r}; known tasks: {", ".join(TASKS)}')
        super().__init__(collect_device=collect_device, prefix=prefix or task)
        self.task = task
        self.primary = primary or TASKS[task].primary_metric

    def higher_is_better(self, key: str) -> bool:
        """Direction of metric ``key`` (without the task prefix)."""
        return key not in lower_is_better_keys.get(self.task, set())

    def _read(self, sample: dict) -> Tuple[torch.Tensor, torch.Tensor]:
        try:
            return sample['pred'][self.task], sample['gt'][self.task]
        except (KeyError, TypeError) as err:
            raise KeyError(f'{type(self).__name__}: sample {sample.get("img_id", "?")!r} has no '
                           f"'pred'/'gt' entry for task {self.task!r}") from err

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store one small summary per sample (order preserved)."""
        pairs = [self._read(s) for s in data_samples]
        if not pairs:
            return
        shape = (tuple(pairs[0][0].shape), tuple(pairs[0][1].shape))
        if all((tuple(p.shape), tuple(g.shape)) == shape for p, g in pairs):
            groups = [pairs]
        else:
            groups = [[pair] for pair in pairs]
        for group in groups:
            preds = torch.stack([p for p, _ in group])
            gts = torch.stack([torch.as_tensor(g, device=preds.device) for _, g in group])
            self.results.extend(self.batch_results(preds, gts))

    def batch_results(self, preds: torch.Tensor, gts: torch.Tensor) -> List[Any]:
        """Per-image summaries of a stack of same-shape predictions and targets."""
        raise NotImplementedError

    def compute_metrics(self, results: list) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError
