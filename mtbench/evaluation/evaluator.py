"""MultiTaskEvaluator: the per-task metrics of a task list, plus Δm against a reference."""
from pathlib import Path
from typing import List, Optional, Sequence, Union

from mmengine.evaluator import Evaluator
from mmengine.logging import print_log

from mtbench.registry import EVALUATOR, METRICS
from mtbench.tasks import check_tasks, num_outputs

from .base import TaskMetric
from .delta_m import delta_m, load_reference, nested_metrics
from .edge import MAX_DIST

__all__ = ['MultiTaskEvaluator', 'build_task_metrics', 'DELTA_M_KEY']

DELTA_M_KEY = 'multi_task/delta_m'


def build_task_metrics(tasks: Sequence[str], dataset: str) -> List[dict]:
    """Default metric configs for ``tasks`` on ``dataset`` (``'pascal-mt'`` / ``'nyud-mt'``).

    Example:
        >>> build_task_metrics(['semseg', 'normals'], 'nyud-mt')[0]
        {'type': 'SegmentationMetric', 'task': 'semseg', 'num_classes': 40}
    """
    check_tasks(tasks, dataset)
    cfgs = []
    for task in tasks:
        if task in ('semseg', 'human_parts'):
            cfgs.append(dict(type='SegmentationMetric', task=task,
                             num_classes=num_outputs(task, dataset)))
        elif task == 'saliency':
            cfgs.append(dict(type='SaliencyMetric', task=task))
        elif task == 'normals':
            cfgs.append(dict(type='NormalsMetric', task=task))
        elif task == 'depth':
            cfgs.append(dict(type='DepthMetric', task=task))
        elif task == 'edge':
            cfgs.append(dict(type='EdgeMetric', task=task, max_dist=MAX_DIST[dataset]))
        else:  # pragma: no cover - check_tasks guards this
            raise ValueError(f'No default metric for task {task!r}')
    return cfgs


@EVALUATOR.register_module()
class MultiTaskEvaluator(Evaluator):
    """mmengine ``Evaluator`` over per-task metrics that adds ``multi_task/delta_m``.

    Config (``metrics`` must be present, possibly ``None``, so that mmengine's runner builds
    this class rather than a plain ``Evaluator``)::

        val_evaluator = dict(type='MultiTaskEvaluator', metrics=None,
                             tasks=['semseg', 'human_parts', 'saliency', 'normals'],
                             dataset='pascal-mt',
                             delta_m_reference='pascal-mt_swin-t_published')

    Args:
        metrics: metric configs / instances; ``None`` builds :func:`build_task_metrics`.
        tasks: task list for the default metrics (required when ``metrics`` is None).
        dataset: dataset name for the default metrics and the reference check.
        delta_m_reference: reference table (a JSON path or a name in
            ``leaderboard/baselines``) or None. Δm is added only when the table covers the
            primary metric of every evaluated task; otherwise the reason is logged.
    """

    def __init__(self, metrics=None, tasks: Optional[Sequence[str]] = None,
                 dataset: Optional[str] = None,
                 delta_m_reference: Optional[Union[str, Path, dict]] = None) -> None:
        if metrics is None:
            if tasks is None or dataset is None:
                raise ValueError('MultiTaskEvaluator needs `metrics`, or `tasks` and `dataset`')
            metrics = build_task_metrics(tasks, dataset)
        if not isinstance(metrics, (list, tuple)):
            metrics = [metrics]
        # build through mtbench's METRICS so the types resolve without a default scope
        super().__init__([METRICS.build(m) if isinstance(m, dict) else m for m in metrics])
        self.dataset = dataset
        self.reference = None
        if delta_m_reference is not None:
            self.reference = load_reference(delta_m_reference)
            ref_ds = self.reference.get('dataset')
            if dataset is not None and ref_ds is not None and ref_ds != dataset:
                raise ValueError(f'Reference {self.reference["name"]!r} is for dataset '
                                 f'{ref_ds!r}, not {dataset!r}')

    @property
    def tasks(self) -> List[str]:
        """Tasks of the task metrics, in order."""
        return [m.task for m in self.metrics if isinstance(m, TaskMetric)]

    def evaluate(self, size: int) -> dict:
        """Evaluate every metric, then add ``multi_task/delta_m`` when it can be computed."""
        results = super().evaluate(size)
        value = self.compute_delta_m(results)
        if value is not None:
            results[DELTA_M_KEY] = value
        return results

    def compute_delta_m(self, results: dict) -> Optional[float]:
        """Δm (percent) of ``results``, or None (and a log line saying why)."""
        if self.reference is None:
            print_log('Δm not computed: no delta_m_reference given', logger='current')
            return None
        task_metrics = [m for m in self.metrics if isinstance(m, TaskMetric)]
        if not task_metrics:
            print_log('Δm not computed: no task metric', logger='current', level=30)
            return None
        ref = nested_metrics(self.reference['metrics'])
        missing = [f'{m.task}/{m.primary}' for m in task_metrics
                   if m.primary not in ref.get(m.task, {})]
        if missing:
            print_log(f'Δm not computed: reference {self.reference["name"]!r} has no '
                      f'{", ".join(missing)}', logger='current', level=30)
            return None
        have = nested_metrics(results)
        absent = [f'{m.task}/{m.primary}' for m in task_metrics
                  if m.primary not in have.get(m.task, {})]
        if absent:
            print_log(f'Δm not computed: results lack {", ".join(absent)}', logger='current',
                      level=30)
            return None
        return delta_m(results, self.reference, [m.task for m in task_metrics],
                       primary={m.task: m.primary for m in task_metrics})
