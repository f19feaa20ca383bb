"""Saliency: the reference max-over-thresholds mIoU and maxF, and a standard β-maxF.

All three numbers come from one per-image histogram of the predicted probabilities (positive
and negative pixels separately) over the threshold bins, so every threshold is scored at once
and each image contributes a few dozen integers.
"""
from typing import Sequence

import numpy as np
import torch

from mtbench.registry import METRICS

from .base import TaskMetric

__all__ = ['SaliencyMetric', 'saliency_histograms', 'IOU_THRESHOLDS', 'FBETA_THRESHOLDS',
           'reference_beta_maxf']

#: thresholds of the reference mIoU / maxF: 0.20, 0.25, ..., 0.90, binarised as ``p > θ``
IOU_THRESHOLDS = np.linspace(0.2, 0.9, 15)
#: thresholds of the β-maxF: 0.05, 0.10, ..., 0.95, binarised as ``p >= θ``
FBETA_THRESHOLDS = np.arange(1, 20) / 20.0
_EPS = 1e-12  # the reference's epsilon in precision, recall and F


def _grid_index(probs: torch.Tensor) -> torch.Tensor:
    """Exact bin on the 1/20 grid: ``2 * #(w_j <= p) + [p == w_j]`` for w_j = j/20, j = 1..19.

    Every threshold of both sets is a multiple of 1/20 (in the probabilities' dtype), so one
    grid serves both: ``#(θ <= p)`` and ``#(θ < p)`` follow from the count and the equality
    flag. ``trunc(20 p)`` is off by at most one near a grid point; two comparisons with the
    grid values fix it, so the result equals a ``bucketize`` at a fraction of its cost.
    """
    # float arithmetic throughout: w_j = j / 20 is rounded once to the probabilities' dtype
    count = probs.mul(20.0).floor_().clamp_(0, 19)
    count += probs >= (count + 1).div_(20.0)
    count -= (probs < count / 20.0).to(count.dtype)
    count.clamp_(max=19)  # thresholds stop at 0.95: the count saturates at 19
    equal = probs == count / 20.0
    return count.mul_(2).add_(equal).to(torch.int32)


def saliency_histograms(probs: torch.Tensor, gts: torch.Tensor,
                        ignore_index: int = 255) -> torch.Tensor:
    """Per-image histograms of probabilities of negative / positive pixels on a 1/20 grid.

    Args:
        probs: float [B, H, W] probabilities (sigmoid of the logit).
        gts: int [B, H, W] ground truth, 1 salient, 0 background, ``ignore_index`` ignored
            (with the default 255, every value other than 0 and 1 is ignored).
        ignore_index: ignored ground-truth value.

    Returns:
        int64 [B, 2, 40]: for negatives (row 0) and positives (row 1), pixel counts per bin
        ``2 * #(j/20 <= p, j = 1..19) + [p equals that j/20]``; every threshold of
        ``IOU_THRESHOLDS`` and ``FBETA_THRESHOLDS`` is one of these grid points.
    """
    bsz = probs.shape[0]
    bins = _grid_index(probs.reshape(bsz, -1))
    # class: 0 negative, 1 positive, 2 ignored (dropped)
    cls = gts.reshape(bsz, -1).to(torch.int32, copy=True)
    if ignore_index > 1:
        cls.clamp_(0, 2)  # 0 / 1 stay, every other value (255 included) is ignored
    else:
        cls = torch.where(cls == ignore_index, 2, cls.clamp_(0, 1))
    if bsz > 1:
        cls += torch.arange(bsz, dtype=torch.int32, device=probs.device).mul_(3).unsqueeze(1)
    index = cls.mul_(40).add_(bins)
    hist = torch.bincount(index.reshape(-1), minlength=bsz * 120).view(bsz, 3, 40)
    return hist[:, :2]


def _counts_at(hist: torch.Tensor, strict: bool) -> torch.Tensor:
    """From [..., 40] grid histograms, pixels with p > j/20 (strict) or p >= j/20, j = 1..19."""
    ge = hist.view(*hist.shape[:-1], 20, 2)
    by_ge = ge.sum(-1)  # by #(w_j <= p)
    above = by_ge.flip(-1).cumsum(-1).flip(-1)[..., 1:]  # p >= w_j for j = 1..19
    if strict:
        above = above - ge[..., 1:, 1]  # drop pixels equal to w_j
    return above


@METRICS.register_module()
class SaliencyMetric(TaskMetric):
    """Saliency mIoU / maxF (reference protocol) and a standard β-maxF.

    Keys (percent):

    - ``saliency/mIoU``: for each θ in ``IOU_THRESHOLDS`` (p > θ), the IoU of every image
      (1 when prediction and ground truth are both empty), averaged over images; the maximum
      over θ. The number the PASCAL-Context tables and Δm use.
    - ``saliency/maxF``: per image precision TP/(TP+FP+1e-12) and recall TP/(TP+FN+1e-12),
      averaged over images, F = 2PR/(P+R+1e-12) (β² = 1); maximum over θ. The reference `maxF`.
    - ``saliency/maxFbeta``: standard β-maxF with β² = 0.3 on TP / predicted / actual positive
      counts pooled over the dataset, thresholds ``FBETA_THRESHOLDS`` (p >= θ), applied to the
      probability once. *Not* the reference's ``Beta maxF`` (double sigmoid, see
      :func:`reference_beta_maxf`).

    Every image is scored whole, so the values never depend on the batch size.

    Args:
        task: task name (``'saliency'``).
        primary: which key Δm uses: ``'mIoU'`` (default, the published protocol), ``'maxF'`` or
            ``'maxFbeta'``.
        ignore_index: ignored ground-truth value.
        **kwargs: ``collect_device``, ``prefix`` (see :class:`TaskMetric`).
    """

    KEYS = ('mIoU', 'maxF', 'maxFbeta')

    def __init__(self, task: str = 'saliency', primary: str = 'mIoU', ignore_index: int = 255,
                 **kwargs) -> None:
        if primary not in self.KEYS:
            raise ValueError(f'primary must be one of {self.KEYS}, got {primary!r}')
        super().__init__(task, primary=primary, **kwargs)
        self.ignore_index = ignore_index

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """``[2, 40]`` histogram of one image (see :func:`saliency_histograms`)."""
        pred = pred.reshape(gt.shape[-2:])
        return saliency_histograms(pred[None], gt[None], self.ignore_index)[0].cpu()

    def compute_metrics(self, results: list) -> dict:
        """mIoU, maxF and maxFbeta (percent) from the per-image histograms."""
        if not results:
            return {}
        hist = torch.stack(results).double()  # [N, 2, 40]
        iou_cols = slice(3, 18)  # 0.20 .. 0.90 are grid points j = 4 .. 18
        tp = _counts_at(hist[:, 1], strict=True)[:, iou_cols]  # [N, 15]
        fp = _counts_at(hist[:, 0], strict=True)[:, iou_cols]
        fn = hist[:, 1].sum(1, keepdim=True) - tp
        union = tp + fp + fn
        iou = torch.where(union > 0, tp / union.clamp(min=1), torch.ones_like(tp))
        prec = (tp / (tp + fp + _EPS)).mean(0)
        rec = (tp / (tp + fn + _EPS)).mean(0)
        f1 = 2 * prec * rec / (prec + rec + _EPS)
        pooled = hist.sum(0)  # [2, 40]
        tp_b = _counts_at(pooled[1], strict=False)  # 0.05 .. 0.95: grid points j = 1 .. 19
        pp_b = tp_b + _counts_at(pooled[0], strict=False)
        ap_b = pooled[1].sum()
        beta2 = 0.3
        p_b = tp_b / pp_b.clamp(min=1)
        r_b = tp_b / ap_b.clamp(min=1)
        fb = (1 + beta2) * p_b * r_b / (beta2 * p_b + r_b).clamp(min=_EPS)
        return {'mIoU': 100.0 * iou.mean(0).max().item(), 'maxF': 100.0 * f1.max().item(),
                'maxFbeta': 100.0 * fb.max().item()}


def reference_beta_maxf(probs: Sequence[np.ndarray], gts: Sequence[np.ndarray],
                        ignore_index: int = 255) -> float:
    """The reference code's ``Beta maxF`` (a fraction), reproduced for compatibility only.

    The reference applies a sigmoid to values that are already probabilities (scores end up in
    [0.5, 0.731]), binarises with ``>=`` at float32 ``arange(0.05, 1, 0.05)``, pools TP /
    predicted-positive / actual-positive counts over the dataset and returns the maximum over
    thresholds of F = 1.3·P·R/(0.3·P + R), with NaN (nothing predicted) as 0. mtbench reports
    the single-sigmoid ``saliency/maxFbeta`` instead; this function exists so the golden value
    can be checked and the difference documented.

    Args:
        probs: per-image float arrays of probabilities (already sigmoid-ed once).
        gts: per-image {0, 1} ground truth arrays, ``ignore_index`` excluded.
        ignore_index: ignored ground-truth value.

    Returns:
        The reference ``Beta maxF`` as a fraction.
    """
    th = torch.arange(0.05, 1, 0.05, dtype=torch.float32).numpy()  # as the reference
    tp = np.zeros(th.size)
    pp = np.zeros(th.size)
    ap = 0.0
    for prob, gt in zip(probs, gts):
        prob = np.asarray(prob, dtype=np.float32).ravel()
        gt = np.asarray(gt).ravel()
        keep = gt != ignore_index
        score = (1.0 / (1.0 + np.exp(-prob[keep]))).astype(np.float32)  # the second sigmoid
        pos = gt[keep] > 0.5
        above = score[None, :] >= th[:, None]
        tp += (above & pos).sum(1)
        pp += above.sum(1)
        ap += pos.sum()
    with np.errstate(invalid='ignore', divide='ignore'):
        prec = (tp / pp).astype(np.float32)
        rec = (tp / ap).astype(np.float32)
        f = (1.3 * prec * rec / (0.3 * prec + rec)).astype(np.float32)
    return float(np.nan_to_num(f, nan=0.0).max())
