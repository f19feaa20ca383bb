"""mtbench evaluation: per-task metrics, Δm and the multi-task evaluator.

Every metric is an mmengine ``BaseMetric`` registered in ``mtbench.registry.METRICS`` whose
keys are prefixed with its task (``semseg/mIoU``); see ``docs/metrics.md`` for what each number
is, its unit and direction, and how it relates to the reference code.
"""
from .base import TaskMetric, lower_is_better_keys
from .delta_m import (BASELINES_DIR, available_references, delta_m, load_reference,
                      nested_metrics)
from .depth import DepthMetric
from .edge import MAX_DIST, EdgeMetric, export_edge_predictions
from .evaluator import DELTA_M_KEY, MultiTaskEvaluator, build_task_metrics
from .normals import NormalsMetric, angular_error_deg
from .saliency import SaliencyMetric, reference_beta_maxf, saliency_histograms
from .segmentation import SegmentationMetric, iou_from_counts, segmentation_counts

__all__ = [
    'TaskMetric', 'lower_is_better_keys', 'SegmentationMetric', 'SaliencyMetric',
    'NormalsMetric', 'DepthMetric', 'EdgeMetric', 'MultiTaskEvaluator', 'build_task_metrics',
    'delta_m', 'load_reference', 'available_references', 'nested_metrics', 'BASELINES_DIR',
    'DELTA_M_KEY', 'MAX_DIST', 'export_edge_predictions', 'reference_beta_maxf',
    'segmentation_counts', 'iou_from_counts', 'saliency_histograms', 'angular_error_deg',
]
