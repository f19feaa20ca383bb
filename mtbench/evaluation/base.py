"""Common base of the per-task metrics: reads one task from the model outputs.

Every mtbench metric consumes the samples :meth:`MultiTaskModel.predict` returns
(``{'img_id', 'pred': {task: tensor}, 'gt': {task: tensor}}``, see ``docs/conventions.md``),
reads only its own task, and stores a small per-image summary (counts, sums, histograms) in
``self.results`` so that distributed evaluation gathers kilobytes, not pixels.
"""
from typing import Any, Optional, Sequence, Tuple

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
    """Base class: reads the task from each sample and stores :meth:`image_result`.

    Args:
        task: task name (a key of ``mtbench.tasks.TASKS``); also the key prefix.
        primary: metric key (without prefix) this metric offers to Δm; defaults to
            ``TASKS[task].primary_metric``.
        collect_device: ``'cpu'`` or ``'gpu'``, passed to :class:`BaseMetric`.
        prefix: key prefix; defaults to the task name (``semseg/mIoU``).
        num_threads: torch CPU threads while processing a batch (restored afterwards); None
            leaves the setting alone. The per-image operations are small, so one thread loses
            little on an idle machine and avoids OpenMP's collapse when the cores are shared
            (measured 10-40x slower with 2 threads beside other busy processes).
    """

    def __init__(self, task: str, primary: Optional[str] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None, num_threads: Optional[int] = 1) -> None:
        if task not in TASKS:
            raise ValueError(f'Unknown task {task!r}; known tasks: {", ".join(TASKS)}')
        super().__init__(collect_device=collect_device, prefix=prefix or task)
        self.task = task
        self.primary = primary or TASKS[task].primary_metric
        self.num_threads = num_threads

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
        """Store one small summary per sample, in order.

        Images are scored one at a time: every temporary then stays in the CPU cache, which is
        about twice as fast as operating on a stacked batch, and no batch copy is made.
        """
        previous = torch.get_num_threads()
        if self.num_threads and self.num_threads != previous:
            torch.set_num_threads(self.num_threads)
        try:
            for sample in data_samples:
                pred, gt = self._read(sample)
                gt = torch.as_tensor(gt, device=pred.device)
                self.results.append(self.image_result(pred, gt))
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> Any:
        """Small summary (counts, sums, histograms) of one image's prediction and target."""
        raise NotImplementedError

    def compute_metrics(self, results: list) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError
