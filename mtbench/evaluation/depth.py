"""Depth: RMSE, log-RMSE, absolute relative error and δ accuracies pooled over valid pixels."""
import math
import torch

from mtbench.registry import METRICS

from .base import TaskMetric

__all__ = ['DepthMetric', 'MIN_DEPTH']

#: predictions are clamped to at least this many metres before any error is computed
MIN_DEPTH = 1e-9


@METRICS.register_module()
class DepthMetric(TaskMetric):
    """Depth errors pooled over every valid pixel of the dataset (not per-image means).

    A pixel is valid when its ground truth is > 0. The prediction is clamped to
    ``MIN_DEPTH`` (1e-9 m) first, as the reference does, so a non-positive prediction counts
    as 1e-9 m in every error. Keys: ``depth/rmse`` = sqrt(Σ(g − p)²/N) and
    ``depth/log_rmse`` = sqrt(Σ(ln g − ln p)²/N) (metres / log-metres, lower is better),
    ``depth/abs_rel`` = Σ|g − p|/g / N (lower is better), ``depth/delta1``, ``delta2``,
    ``delta3`` = % of pixels with max(p/g, g/p) < 1.25, 1.25², 1.25³ (higher is better).
    Computed in float64.

    Args:
        task: task name (``'depth'``).
        **kwargs: ``primary``, ``collect_device``, ``prefix`` (see :class:`TaskMetric`).
    """

    def __init__(self, task: str = 'depth', **kwargs) -> None:
        super().__init__(task, **kwargs)

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """float64 [7]: Σ sq err, Σ sq log err, Σ abs rel, δ1..δ3 counts, N of one image."""
        pred = pred.reshape(-1).double().clamp(min=MIN_DEPTH)
        gt = gt.reshape(-1).double()
        valid = gt > 0
        gt = torch.where(valid, gt, torch.ones_like(gt))
        pred = torch.where(valid, pred, torch.ones_like(pred))  # invalid pixels: zero error
        err = gt - pred
        log_err = gt.log() - pred.log()
        ratio = torch.maximum(pred / gt, gt / pred).masked_fill_(~valid, math.inf)
        out = torch.stack([err.square().sum(), log_err.square().sum(), (err.abs() / gt).sum(),
                           (ratio < 1.25).sum(), (ratio < 1.25 ** 2).sum(),
                           (ratio < 1.25 ** 3).sum(), valid.sum()])
        return out.double().cpu()

    def compute_metrics(self, results: list) -> dict:
        """Pooled rmse, log_rmse, abs_rel and δ accuracies."""
        if not results:
            return {}
        tot = torch.stack(results).sum(0).tolist()
        n = tot[6]
        if n == 0:
            return {'rmse': float('nan'), 'log_rmse': float('nan'), 'abs_rel': float('nan')}
        return {'rmse': math.sqrt(tot[0] / n), 'log_rmse': math.sqrt(tot[1] / n),
                'abs_rel': tot[2] / n, 'delta1': 100.0 * tot[3] / n,
                'delta2': 100.0 * tot[4] / n, 'delta3': 100.0 * tot[5] / n}
