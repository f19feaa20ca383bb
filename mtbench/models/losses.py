"""Per-task losses of the MTLoRA / TADFormer protocol.

All losses take the raw network output at the ground truth's size and the ground truth in the
conventions of ``docs/conventions.md``, and average over valid pixels only. Invalid pixels are
zeroed with ``torch.where`` rather than dropped by boolean indexing, whose ``nonzero`` and
scatter-back in the backward pass cost more than the loss itself on a CPU.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from mtbench.registry import MODELS

__all__ = ['CrossEntropyLoss', 'BalancedBCELoss', 'NormalsL1Loss', 'DepthL1Loss']


def _safe_mean(total: torch.Tensor, count: torch.Tensor) -> torch.Tensor:
    """``total / count``, or a zero that keeps the graph when nothing is valid."""
    return total / count.clamp(min=1)


@MODELS.register_module()
class CrossEntropyLoss(nn.Module):
    """Softmax cross-entropy averaged over pixels whose label is not ``ignore_index``."""

    def __init__(self, ignore_index: int = 255):
        super().__init__()
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        valid = target != self.ignore_index
        losses = F.cross_entropy(logits, target.long(), ignore_index=self.ignore_index,
                                 reduction='none')
        return _safe_mean(losses.sum(), valid.sum())


@MODELS.register_module()
class BalancedBCELoss(nn.Module):
    """Class-balanced binary cross-entropy on a single logit (saliency, edges).

    ``loss = (w * sum_pos BCE + (1 - w) * sum_neg BCE) / #valid`` where ``w`` is the fraction of
    negative pixels in the batch (``pos_weight=None``, the saliency setting) or a fixed value
    (0.95 for edges in the reference code).

    Args:
        pos_weight: fixed weight of positives, or None for the automatic batch balance.
        ignore_index: label value excluded from the loss.
    """

    def __init__(self, pos_weight: float = None, ignore_index: int = 255):
        super().__init__()
        self.pos_weight = pos_weight
        self.ignore_index = ignore_index

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        logits = logits.squeeze(1) if logits.dim() == target.dim() + 1 else logits
        pos = target == 1
        neg = target == 0
        num_valid = (pos | neg).sum()
        if self.pos_weight is None:
            w = neg.sum().to(logits.dtype) / num_valid.clamp(min=1)
        else:
            w = torch.as_tensor(self.pos_weight, dtype=logits.dtype, device=logits.device)
        bce = F.binary_cross_entropy_with_logits(logits, pos.to(logits.dtype), reduction='none')
        zero = bce.new_zeros(())
        total = (w * torch.where(pos, bce, zero).sum()
                 + (1 - w) * torch.where(neg, bce, zero).sum())
        return _safe_mean(total, num_valid)


@MODELS.register_module()
class NormalsL1Loss(nn.Module):
    """L1 between the per-pixel L2-normalised prediction and the ground-truth normal.

    Averaged over valid elements (3 per valid pixel); a pixel is valid when its ground-truth
    vector is not all zeros.
    """

    def __init__(self, eps: float = 1e-12):
        super().__init__()
        self.eps = eps

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = pred / (pred.norm(p=2, dim=1, keepdim=True) + self.eps)
        valid = (target != 0).any(dim=1, keepdim=True).expand_as(target)
        total = torch.where(valid, (pred - target).abs(), pred.new_zeros(())).sum()
        return _safe_mean(total, valid.sum())


@MODELS.register_module()
class DepthL1Loss(nn.Module):
    """L1 on pixels with a valid (> 0) ground-truth depth."""

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        pred = pred.squeeze(1) if pred.dim() == target.dim() + 1 else pred
        valid = target > 0
        total = torch.where(valid, (pred - target).abs(), pred.new_zeros(())).sum()
        return _safe_mean(total, valid.sum())


DEFAULT_LOSSES = {
    'semseg': dict(type='CrossEntropyLoss'),
    'human_parts': dict(type='CrossEntropyLoss'),
    'saliency': dict(type='BalancedBCELoss'),
    'edge': dict(type='BalancedBCELoss', pos_weight=0.95),
    'normals': dict(type='NormalsL1Loss'),
    'depth': dict(type='DepthL1Loss'),
}
