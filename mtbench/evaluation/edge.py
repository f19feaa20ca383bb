"""Edge detection: an in-Python approximation of the SEISM ODS / OIS F-measure, and export.

The published protocol (ASTMT / MTI-Net / ATRC) writes edge probability PNGs, runs a MATLAB
non-maximum suppression and scores them with SEISM (``maxDist`` 0.0075 on PASCAL-Context,
0.011 on NYUD-v2). Nothing here runs MATLAB: :class:`EdgeMetric` gives a Python approximation
for monitoring, and :func:`export_edge_predictions` writes the PNGs SEISM reads.
"""
import importlib
from pathlib import Path
from typing import List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.logging import print_log

from mtbench.registry import METRICS

from .base import TaskMetric
from .edge_matching import approx_edge_counts, default_thresholds

__all__ = ['EdgeMetric', 'export_edge_predictions', 'PYEDGEEVAL_HINT', 'MAX_DIST']

#: SEISM's matching tolerance (fraction of the image diagonal) per dataset
MAX_DIST = {'pascal-mt': 0.0075, 'nyud-mt': 0.011}
PYEDGEEVAL_HINT = ('unavailable: the pyedgeeval backend needs the optional package pyEdgeEval '
                   '(`pip install pyEdgeEval`; it compiles C++ code from the BSDS benchmark, '
                   'GPL-2.0, and needs a C++ compiler). Use backend="approx" otherwise.')


def _load_pyedgeeval():
    try:
        return importlib.import_module('pyEdgeEval.common.binary_label.evaluate_boundaries')
    except Exception:  # ImportError, or a half-built extension
        return None


@METRICS.register_module()
class EdgeMetric(TaskMetric):
    """ODS / OIS boundary F-measure computed in Python (an approximation of SEISM).

    Each image stores BSDS-style counts (matched / total ground-truth pixels, matched / total
    predicted pixels) at every threshold. ODS is the best F over thresholds of the counts pooled
    over the dataset; OIS averages each image's best F. Backends:

    - ``'approx'`` (default, always available): mtbench's own matcher
      (:func:`mtbench.evaluation.edge_matching.approx_edge_counts`): optional NMS, thinning,
      and one-to-one matching by rounds of mutual nearest neighbours instead of the
      bipartite assignment. Keys ``edge/odsF_approx``, ``edge/oisF_approx``,
      ``edge/ods_threshold_approx`` (percent; threshold as a probability).
    - ``'pyedgeeval'``: the optional ``pyEdgeEval`` package (BSDS matching code ported from
      C++; thinning, no NMS). Keys ``edge/odsF_pyedgeeval``, ``edge/oisF_pyedgeeval``,
      ``edge/ods_threshold_pyedgeeval``. When the package is missing the metric returns
      ``edge/unavailable`` (a message) instead of numbers.

    Neither equals SEISM's ``odsF`` (``TASKS['edge'].primary_metric``), so :attr:`primary`
    names the suffixed key and Δm only uses it against a reference that has the same key.

    Args:
        task: task name (``'edge'``).
        max_dist: matching tolerance as a fraction of the image diagonal (see ``MAX_DIST``).
        num_thresholds: thresholds 1/(K+1) .. K/(K+1), binarised as ``p >= θ``.
        backend: ``'approx'`` or ``'pyedgeeval'``.
        nms: non-maximum suppression before thresholding (approx backend).
        thin: morphological thinning of each binary map.
        match: ``'greedy'`` (one-to-one) or ``'any'`` (approx backend, see the matcher).
        ignore_index: ignored ground-truth value.
        **kwargs: ``collect_device``, ``prefix`` (see :class:`TaskMetric`).
    """

    def __init__(self, task: str = 'edge', max_dist: float = 0.0075, num_thresholds: int = 99,
                 backend: str = 'approx', nms: bool = True, thin: bool = True,
                 match: str = 'greedy', ignore_index: int = 255, **kwargs) -> None:
        if backend not in ('approx', 'pyedgeeval'):
            raise ValueError(f"backend must be 'approx' or 'pyedgeeval', got {backend!r}")
        if match not in ('greedy', 'any'):
            raise ValueError(f"match must be 'greedy' or 'any', got {match!r}")
        kwargs.setdefault('primary', f'odsF_{backend}')
        super().__init__(task, **kwargs)
        self.max_dist, self.backend = max_dist, backend
        self.nms, self.thin, self.match, self.ignore_index = nms, thin, match, ignore_index
        self.thresholds = default_thresholds(num_thresholds)
        self._pyedgeeval = _load_pyedgeeval() if backend == 'pyedgeeval' else None
        if backend == 'pyedgeeval' and self._pyedgeeval is None:
            print_log(f'EdgeMetric: {PYEDGEEVAL_HINT}', logger='current', level=30)

    @property
    def available(self) -> bool:
        """False when the requested backend cannot run (its package is missing)."""
        return self.backend == 'approx' or self._pyedgeeval is not None

    def _counts(self, prob: torch.Tensor, gt: torch.Tensor) -> np.ndarray:
        if self.backend == 'approx':
            return approx_edge_counts(prob, gt, self.thresholds, self.max_dist, nms=self.nms,
                                      thin=self.thin, match=self.match,
                                      ignore_index=self.ignore_index)
        gt_np = gt.cpu().numpy()
        valid = gt_np != self.ignore_index
        prob_np = np.where(valid, prob.float().cpu().numpy(), 0.0)
        out = self._pyedgeeval.evaluate_boundaries_threshold(
            self.thresholds, prob_np, (gt_np == 1) & valid, max_dist=self.max_dist,
            apply_thinning=self.thin)
        return np.stack(out[:4]).astype(np.int64)

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> Optional[np.ndarray]:
        """int64 [4, K] counts (cntR, sumR, cntP, sumP) of one image, or None if unavailable."""
        if not self.available:
            return None
        return self._counts(pred.reshape(gt.shape[-2:]), gt)

    def compute_metrics(self, results: list) -> dict:
        """ODS / OIS F (percent) and the ODS threshold, keys suffixed with the backend."""
        if not self.available:
            return {'unavailable': PYEDGEEVAL_HINT}
        if not results:
            return {}
        counts = np.stack(results).astype(np.float64)  # [N, 4, K]
        sfx = self.backend

        def f_measure(c):
            rec = c[..., 0, :] / np.maximum(c[..., 1, :], 1)
            prec = c[..., 2, :] / np.maximum(c[..., 3, :], 1)
            return 2 * prec * rec / np.maximum(prec + rec, 1e-12)

        f_ods = f_measure(counts.sum(0))
        best = int(f_ods.argmax())
        return {f'odsF_{sfx}': 100.0 * float(f_ods[best]),
                f'oisF_{sfx}': 100.0 * float(f_measure(counts).max(-1).mean()),
                f'ods_threshold_{sfx}': float(self.thresholds[best])}


def export_edge_predictions(preds: Union[torch.Tensor, Sequence[torch.Tensor]],
                            img_ids: Sequence[str], out_dir: Union[str, Path],
                            ori_shapes: Optional[Sequence[Sequence[int]]] = None) -> List[Path]:
    """Write edge probabilities as the PNG folder SEISM evaluates.

    Layout: ``<out_dir>/edge/<img_id>.png``, 8-bit grayscale, value ``round(255 · p)``, one file
    per image, as the ASTMT / MTI-Net evaluation scripts write them before running the MATLAB
    NMS and SEISM (which expect all 5,105 PASCAL-Context val images, or 654 NYUD-v2 ones).

    Args:
        preds: probabilities, a [B, H, W] (or [B, 1, H, W]) tensor or a list of [H, W] maps.
        img_ids: one id per prediction (the file stem).
        out_dir: result folder; ``edge/`` is created inside it.
        ori_shapes: optional ``(H0, W0)`` per image: predictions are resized back bilinearly
            (SEISM compares against ground truth at the original size).

    Returns:
        The written paths.
    """
    from PIL import Image

    folder = Path(out_dir) / 'edge'
    folder.mkdir(parents=True, exist_ok=True)
    if len(preds) != len(img_ids):
        raise ValueError(f'{len(preds)} predictions for {len(img_ids)} ids')
    paths = []
    for i, (pred, img_id) in enumerate(zip(preds, img_ids)):
        pred = torch.as_tensor(pred).detach().float().cpu()
        pred = pred.reshape(pred.shape[-2:])
        if ori_shapes is not None and tuple(ori_shapes[i]) != tuple(pred.shape):
            pred = F.interpolate(pred[None, None], size=tuple(int(v) for v in ori_shapes[i]),
                                 mode='bilinear', align_corners=False)[0, 0]
        img = (pred.clamp(0, 1) * 255.0).round().to(torch.uint8).numpy()
        path = folder / f'{img_id}.png'
        Image.fromarray(img).save(path)  # 2-D uint8: mode L
        paths.append(path)
    return paths

