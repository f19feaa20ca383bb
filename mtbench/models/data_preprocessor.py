"""Normalisation, batching and padding of multi-task batches."""
from typing import Dict, Sequence

import torch
import torch.nn.functional as F
from mmengine.model import BaseDataPreprocessor

from mtbench.registry import MODELS
from mtbench.tasks import TASKS

__all__ = ['MultiTaskDataPreprocessor']


@MODELS.register_module()
class MultiTaskDataPreprocessor(BaseDataPreprocessor):
    """Turn a collated batch into normalised float inputs and stacked targets.

    Accepts ``default_collate`` batches (stacked tensors) and ``pseudo_collate`` batches (lists of
    samples, possibly of different sizes, padded to the largest). Inputs are padded with 0 (after
    normalisation) and every dense target with its task's ignore value, to a multiple of
    ``pad_size_divisor``.

    Args:
        mean: per-channel mean on the 0..255 scale (ImageNet by default).
        std: per-channel std on the 0..255 scale.
        pad_size_divisor: pad height and width to a multiple of this.
    """

    def __init__(self, mean: Sequence[float] = (123.675, 116.28, 103.53),
                 std: Sequence[float] = (58.395, 57.12, 57.375), pad_size_divisor: int = 1):
        super().__init__()
        self.register_buffer('mean', torch.tensor(mean).view(-1, 1, 1), persistent=False)
        self.register_buffer('std', torch.tensor(std).view(-1, 1, 1), persistent=False)
        self.pad_size_divisor = pad_size_divisor

    def _pad_to(self, x: torch.Tensor, h: int, w: int, value: float) -> torch.Tensor:
        ph, pw = h - x.shape[-2], w - x.shape[-1]
        if ph == 0 and pw == 0:
            return x
        return F.pad(x, (0, pw, 0, ph), value=value)

    def forward(self, data: dict, training: bool = False) -> dict:
        data = self.cast_data(data)
        inputs = data['inputs']
        samples = data.get('data_samples') or {}
        if isinstance(samples, (list, tuple)):  # pseudo_collate: merge the per-sample dicts
            samples = {
                'img_id': [s['img_id'] for s in samples],
                'ori_shape': [s.get('ori_shape') for s in samples],
                'gt': {t: [s['gt'][t] for s in samples] for t in samples[0].get('gt', {})},
            }
        if isinstance(inputs, (list, tuple)):
            imgs = list(inputs)
        else:
            imgs = list(inputs.unbind(0))
        h = max(i.shape[-2] for i in imgs)
        w = max(i.shape[-1] for i in imgs)
        d = self.pad_size_divisor
        h, w = -(-h // d) * d, -(-w // d) * d
        batch = torch.stack([self._pad_to((i.float() - self.mean) / self.std, h, w, 0.0)
                             for i in imgs])
        gt: Dict[str, torch.Tensor] = {}
        for task, targets in samples.get('gt', {}).items():
            value = TASKS[task].ignore_value
            items = list(targets) if isinstance(targets, (list, tuple)) else targets.unbind(0)
            gt[task] = torch.stack([self._pad_to(t, h, w, value) for t in items])
        out_samples = dict(samples)
        out_samples['gt'] = gt
        out_samples['batch_input_shape'] = (h, w)
        return {'inputs': batch, 'data_samples': out_samples}
