"""Pooled confusion-matrix mIoU for semantic segmentation and human parts."""
import torch

from mtbench.registry import METRICS

from .base import TaskMetric

__all__ = ['SegmentationMetric', 'segmentation_counts', 'iou_from_counts']


def segmentation_counts(preds: torch.Tensor, gts: torch.Tensor, num_classes: int,
                        ignore_index: int = 255) -> torch.Tensor:
    """Per-image, per-class true-positive, ground-truth and predicted pixel counts.

    One ``bincount`` over the whole batch: pixel ``(b, gt, pred)`` lands in bin
    ``(b * (C + 1) + gt) * C + pred``; pixels whose ground truth is ``ignore_index`` (any value
    >= C) land in the extra row ``gt = C``, dropped afterwards, whatever their prediction.

    Args:
        preds: int [B, H, W] predicted labels in ``0..C-1``.
        gts: int [B, H, W] ground-truth labels; ``ignore_index`` is ignored.
        num_classes: C.
        ignore_index: ignored ground-truth value (documentary: any value >= C is ignored).

    Returns:
        int64 [B, 3, C]: rows ``tp``, ``gt`` (pixels labelled c), ``pred`` (pixels predicted c),
        counted over valid pixels only.
    """
    del ignore_index  # every value outside 0..C-1 (including 255) is ignored
    bsz, c = preds.shape[0], num_classes
    # int32 arithmetic: bincount and the element-wise ops are several times faster than int64.
    pred32 = preds.reshape(bsz, -1).to(torch.int32)
    lo, hi = torch.aminmax(pred32) if pred32.numel() else (0, 0)
    if int(lo) < 0 or int(hi) >= c:
        raise ValueError(f'predicted labels must lie in 0..{c - 1}, got {int(lo)}..{int(hi)}')
    # ground truth >= C (255 included) becomes the extra row C, dropped after counting
    # (a negative label makes bincount raise: labels are 0..C-1 or 255 by convention)
    gt32 = gts.reshape(bsz, -1).to(torch.int32, copy=True).clamp_(max=c)
    offset = torch.arange(bsz, dtype=torch.int32, device=preds.device).mul_((c + 1) * c)
    index = gt32.mul_(c).add_(pred32).add_(offset.unsqueeze(1))
    conf = torch.bincount(index.reshape(-1), minlength=bsz * (c + 1) * c)
    conf = conf.view(bsz, c + 1, c)[:, :c]
    return torch.stack([conf.diagonal(dim1=1, dim2=2), conf.sum(2), conf.sum(1)], dim=1)


def iou_from_counts(counts: torch.Tensor) -> torch.Tensor:
    """Per-class IoU (fraction) from pooled ``[3, C]`` counts.

    IoU_c = TP / max(TP + FP + FN, 1e-8), so a class absent from both ground truth and
    prediction gets IoU 0 and still counts in the mean (the reference protocol).
    """
    counts = counts.double()
    tp, gt, pred = counts[0], counts[1], counts[2]
    return tp / (gt + pred - tp).clamp(min=1e-8)


@METRICS.register_module()
class SegmentationMetric(TaskMetric):
    """mIoU over all classes from a confusion matrix pooled over the dataset.

    Keys (percent): ``{task}/mIoU`` (mean over all ``num_classes`` classes, absent classes count
    as 0), ``{task}/aAcc`` (pixel accuracy over valid pixels) and ``{task}/IoU_per_class`` (a
    list). Ground truth 255 is ignored, together with the prediction there.

    Args:
        task: ``'semseg'`` or ``'human_parts'``.
        num_classes: number of classes including background (PASCAL semseg 21, NYUD 40,
            human parts 7).
        ignore_index: ignored ground-truth value.
        **kwargs: ``primary``, ``collect_device``, ``prefix`` (see :class:`TaskMetric`).
    """

    def __init__(self, task: str = 'semseg', num_classes: int = 21, ignore_index: int = 255,
                 **kwargs) -> None:
        super().__init__(task, **kwargs)
        if not 0 < num_classes <= ignore_index:
            raise ValueError(f'num_classes must lie in 1..{ignore_index}, got {num_classes}')
        self.num_classes = num_classes
        self.ignore_index = ignore_index

    def image_result(self, pred: torch.Tensor, gt: torch.Tensor) -> torch.Tensor:
        """``[3, C]`` counts (tp, gt, pred) of one image."""
        counts = segmentation_counts(pred[None], gt[None], self.num_classes, self.ignore_index)
        return counts[0].cpu()

    def compute_metrics(self, results: list) -> dict:
        """mIoU, aAcc and per-class IoU in percent from the per-image counts."""
        if not results:
            return {}
        counts = torch.stack(results).sum(0)
        iou = iou_from_counts(counts)
        total = counts[1].sum().item()
        return {
            'mIoU': 100.0 * iou.mean().item(),
            'aAcc': 100.0 * counts[0].sum().item() / total if total else 0.0,
            'IoU_per_class': [100.0 * v for v in iou.tolist()],
        }
