"""Surface normals: angular error statistics pooled over all valid pixels of the dataset."""
import math
import torch

from mtbench.registry import METRICS

from .base import TaskMetric

__all__ = ['NormalsMetric', 'angular_error_deg', 'WITHIN_DEG']

#: angle thresholds (degrees) of the "% within" accuracies
WITHIN_DEG = (11.25, 22.5, 30.0)


def angular_error_deg(pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
    """Angle in degrees between two [..., 3, H, W] vector fields, per pixel.

    Computed as ``atan2(|p × g|, p · g)``: independent of the vectors' lengths and accurate
    near 0° and 180° (unlike ``acos`` of a dot product). Zero vectors give 0.

    Returns:
        float [..., H, W] angles in degrees.
    """
    p0, p1, p2 = pred.unbind(-3)
    g0, g1, g2 = gt.unbind(-3)
    dot = (p0 * g0).addcmul_(p1, g1).addcmul_(p2, g2).add_(0.0)  # -0 -> +0: atan2(0, 0) = 0
    c0 = (p1 * g2).sub_(p2 * g1)
    c1 = (p2 * g0).sub_(p0 * g2)
    c2 = (p0 * g1).sub_(p1 * g0)
    cross = c0.mul_(c0).addcmul_(c1, c1).addcmul_(c2, c2).sqrt_()
    return torch.atan2(cross, dot).mul_(180.0 / math.pi)


@METRICS.register_module()
class NormalsMetric(TaskMetric):
    """Angular error of predicted normals, pooled over every valid pixel of the dataset.

    A pixel is valid when its ground-truth vector is not the zero vector. Keys (degrees, lower
    is better, except the percentages): ``normals/mean`` (the number the papers label "rmse"
    and Δm uses), ``normals/median``, ``normals/rmse`` (a true root-mean-square angle),
    ``normals/within_11.25``, ``normals/within_22.5``, ``normals/within_30`` (% of valid pixels
    whose error is below the threshold, higher is better).

    Mean, RMSE and the percentages are exact. The median comes from a pooled histogram of the
    angles with ``median_bin_deg`` wide bins over [0°, 180°], linearly interpolated inside the
    bin that holds the middle pixel: it is within one bin width (0.05° by default) of the exact
    median, and each image stores ``180 / median_bin_deg`` int32 counts (14 KB by default).

    Args:
        task: task name (``'normals'``).
        median_bin_deg: histogram bin width in degrees for the median.
        **kwargs: ``primary``, ``collect_device``, ``prefix`` (see :class:`TaskMetric`).
    """

    def __init__(self, task: str = 'normals', median_bin_deg: float = 0.05, **kwargs) -> None:
        super().__init__(task, **kwargs)
        self.num_bins = int(round(180.0 / median_bin_deg))
        if self.num_bins < 1:
            raise ValueError(f'median_bin_deg must be in (0, 180], got {median_bin_deg}')
        self.bin_deg = 180.0 / self.num_bins
        # When 1/bin is an integer and every threshold falls on a bin edge, "angle < t" is
        # exactly "bin < t/bin" (float32 x * m rounds below m*t for any x < t), so the
        # percentages come from the histogram; otherwise they are counted directly.
        scale = self.num_bins / 180.0
        edges = [t * scale for t in WITHIN_DEG]
        self._within_bins = ([int(round(e)) for e in edges]
                             if scale == int(scale) and all(e == int(e) for e in edges) else None)

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> dict:
        """Angle sums, valid count and angle histogram (+ direct within counts) of one image."""
        pred, gt = pred.float(), gt.float()
        n_pixels = gt[0].numel()
        n_invalid = int((gt.abs().amax(0) == 0).sum())
        # an invalid (zero) ground-truth vector gives dot = cross = 0, so atan2 returns 0 there:
        # invalid pixels add nothing to the sums and sit in bin 0, removed below
        angle = angular_error_deg(pred, gt).reshape(-1)
        sums = torch.stack([angle.sum(dtype=torch.float64),
                            (angle * angle).sum(dtype=torch.float64)]).cpu()
        counts = [n_pixels - n_invalid]
        if self._within_bins is None:
            counts += [int((angle < t).sum()) - n_invalid for t in WITHIN_DEG]
        index = angle.mul_(self.num_bins / 180.0).to(torch.int32).clamp_(max=self.num_bins - 1)
        hist = torch.bincount(index, minlength=self.num_bins).to(torch.int32).cpu()
        hist[0] -= n_invalid
        return {'sums': sums, 'counts': torch.tensor(counts), 'hist': hist}

    def compute_metrics(self, results: list) -> dict:
        """Pooled mean / median / rmse (degrees) and % within 11.25°, 22.5°, 30°."""
        if not results:
            return {}
        sums = torch.stack([r['sums'] for r in results]).sum(0)
        counts = torch.stack([r['counts'] for r in results]).sum(0)
        n = int(counts[0])
        if n == 0:
            return {'mean': float('nan'), 'median': float('nan'), 'rmse': float('nan')}
        hist = torch.stack([r['hist'] for r in results]).sum(0, dtype=torch.int64)
        out = {'mean': sums[0].item() / n, 'median': self._median(hist, n),
               'rmse': math.sqrt(sums[1].item() / n)}
        if self._within_bins is not None:
            within = [int(hist[:k].sum()) for k in self._within_bins]
        else:
            within = counts[1:].tolist()
        for t, c in zip(WITHIN_DEG, within):
            out[f'within_{t:g}'] = 100.0 * c / n
        return out

    def _median(self, hist: torch.Tensor, n: int) -> float:
        """Median from the pooled histogram, interpolated linearly inside its bin."""
        cum = hist.cumsum(0)
        half = n / 2.0
        k = int(torch.searchsorted(cum, torch.tensor(math.ceil(half), dtype=cum.dtype)))
        before = cum[k - 1].item() if k > 0 else 0
        inside = max(hist[k].item(), 1)
        return (k + (half - before) / inside) * self.bin_deg
