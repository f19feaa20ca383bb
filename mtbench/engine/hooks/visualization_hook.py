"""Save one PNG per test sample tiling the input and each task's prediction and ground truth.

``tools/test.py --show-dir DIR`` adds :class:`PredictionVisualizationHook` to the config's
``custom_hooks``. Colour conventions (see ``docs/conventions.md`` for the targets):

- ``semseg`` / ``human_parts``: VOC-style palette; ignored pixels (255) are black and the
  background class (0) is dark grey so that it is not confused with them;
- ``saliency`` / ``edge``: grayscale probability (ground truth 0 black, 1 white, ignored grey);
- ``normals``: RGB ``(n + 1) / 2``, invalid (all-zero) ground-truth vectors black;
- ``depth``: ``viridis`` over the valid ground-truth range, invalid (0) pixels black.
"""
import os
import os.path as osp
import re
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from PIL import Image, ImageDraw

from mtbench.registry import HOOKS
from mtbench.tasks import TASKS

__all__ = ['PredictionVisualizationHook', 'label_palette', 'colorize', 'tile_sample']

CAPTION_HEIGHT = 12
BINARY_IGNORE_GRAY = 128
BACKGROUND_GRAY = 64


def label_palette(num_classes: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map (uint8 ``[num_classes, 3]``), background dark grey."""
    palette = np.zeros((num_classes, 3), dtype=np.uint8)
    for i in range(num_classes):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette[i] = (r, g, b)
    palette[0] = BACKGROUND_GRAY
    return palette


_PALETTE = label_palette(256)


def _to_numpy(x) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return (x.float() if x.dtype == torch.bfloat16 else x).numpy()
    return np.asarray(x)


def colorize(task: str, value, is_gt: bool, depth_range: Optional[Sequence[float]] = None
             ) -> np.ndarray:
    """An ``H x W x 3`` uint8 rendering of one prediction or target of ``task``.

    Args:
        task: task name (its kind in :data:`mtbench.tasks.TASKS` picks the rendering).
        value: the map, ``[H, W]`` or ``[3, H, W]`` for normals (tensor or array).
        is_gt: whether ``value`` is a target (ignore/invalid values are then rendered).
        depth_range: ``(lo, hi)`` of the depth colour map; defaults to the map's range.
    """
    kind = TASKS[task].kind
    arr = _to_numpy(value)
    if kind == 'labels':
        labels = arr.astype(np.int64)
        out = _PALETTE[np.clip(labels, 0, 255)]
        out[labels == TASKS[task].ignore_value] = 0
        return out
    if kind == 'binary':
        gray = np.clip(np.rint(arr.astype(np.float64) * 255), 0, 255).astype(np.uint8)
        if is_gt:
            gray[arr == TASKS[task].ignore_value] = BINARY_IGNORE_GRAY
        return np.repeat(gray[..., None], 3, axis=2)
    if kind == 'vector':
        vec = arr.astype(np.float32).transpose(1, 2, 0)
        out = np.clip(np.rint((vec + 1.0) * 127.5), 0, 255).astype(np.uint8)
        out[~np.any(vec != 0, axis=2)] = 0
        return out
    depth = arr.astype(np.float32)
    valid = depth > 0 if is_gt else np.isfinite(depth)
    if depth_range is None:
        depth_range = (float(depth[valid].min()), float(depth[valid].max())) if valid.any() \
            else (0.0, 1.0)
    lo, hi = depth_range
    norm = np.clip((depth - lo) / max(hi - lo, 1e-6), 0.0, 1.0)
    from matplotlib import colormaps
    out = (colormaps['viridis'](norm)[..., :3] * 255).round().astype(np.uint8)
    out[~valid] = 0
    return out


SHORT_NAMES = {'semseg': 'seg', 'human_parts': 'parts', 'saliency': 'sal', 'normals': 'nrm'}


def _caption(tile: np.ndarray, *texts: str) -> np.ndarray:
    """``tile`` under a caption band showing the first of ``texts`` that fits (else the last)."""
    band = Image.new('RGB', (tile.shape[1], CAPTION_HEIGHT))
    draw = ImageDraw.Draw(band)
    text = next((t for t in texts if draw.textlength(t) <= tile.shape[1] - 2), texts[-1])
    draw.text((2, 0), text, fill=(255, 255, 255))
    return np.concatenate([np.asarray(band), tile], axis=0)


def _labels(task: str, what: str) -> tuple:
    short = SHORT_NAMES.get(task, task)
    return f'{task} {what}', f'{short} {what}', f'{short}:{what[0]}'


def tile_sample(image: np.ndarray, pred: Dict[str, object], gt: Dict[str, object],
                tasks: Sequence[str]) -> np.ndarray:
    """Tile one sample: column 0 the input, then one column per task, prediction above target.

    Every tile gets a caption band of ``CAPTION_HEIGHT`` pixels, so the result is
    ``2 * (H + CAPTION_HEIGHT)`` x ``(1 + len(tasks)) * W`` x 3 (uint8). Maps larger than the
    image (padding) are cropped to it; a task without a target gets a black target tile.
    """
    h, w = image.shape[:2]
    blank = np.zeros((h, w, 3), dtype=np.uint8)
    top, bottom = [_caption(image, 'input')], [_caption(blank, '')]
    for task in tasks:
        p = _to_numpy(pred[task])[..., :h, :w]
        g = _to_numpy(gt[task])[..., :h, :w] if task in gt else None
        depth_range = None
        if TASKS[task].kind == 'scalar':
            ref = g[g > 0] if g is not None and (g > 0).any() else p.reshape(-1)
            depth_range = (float(ref.min()), float(ref.max()))
        top.append(_caption(colorize(task, p, False, depth_range), *_labels(task, 'pred')))
        g_img = blank if g is None else colorize(task, g, True, depth_range)
        bottom.append(_caption(g_img, *_labels(task, 'gt')))
    return np.concatenate([np.concatenate(top, axis=1), np.concatenate(bottom, axis=1)], axis=0)


def _batch_images(data_batch: dict, mean: Optional[np.ndarray], std: Optional[np.ndarray]
                  ) -> List[np.ndarray]:
    """The batch's input images as ``H x W x 3`` uint8 RGB (de-normalised if float)."""
    inputs = data_batch['inputs']
    items = list(inputs) if isinstance(inputs, (list, tuple)) else list(inputs.unbind(0))
    images = []
    for x in items:
        arr = _to_numpy(x)
        if arr.dtype != np.uint8:
            arr = arr.astype(np.float32)
            if mean is not None and std is not None:
                arr = arr * std.reshape(-1, 1, 1) + mean.reshape(-1, 1, 1)
            arr = np.clip(np.rint(arr), 0, 255).astype(np.uint8)
        images.append(np.ascontiguousarray(arr.transpose(1, 2, 0)))
    return images


def _safe_name(img_id) -> str:
    name = re.sub(r'[^A-Za-z0-9._-]+', '_', str(img_id)).strip('.')
    return name or 'sample'


@HOOKS.register_module()
class PredictionVisualizationHook(Hook):
    """Write ``<show_dir>/<img_id>.png`` for the first ``max_samples`` test samples.

    Each PNG tiles the input image and, per task, the prediction above the ground truth (see
    :func:`tile_sample` and the module docstring for the colours). Inputs are the dataloader's
    uint8 images; float inputs are de-normalised with the model's data preprocessor mean/std.
    Only rank 0 writes, so ``max_samples`` bounds the total under distributed testing.
    Characters of ``img_id`` outside ``[A-Za-z0-9._-]`` become ``_`` in the file name.

    Args:
        show_dir: output directory (created if missing; relative paths are relative to the
            current directory).
        max_samples: stop after this many samples; ``None`` for every sample.
        interval: draw only test iterations whose index is a multiple of this (as mmseg).
    """

    priority = 'NORMAL'

    def __init__(self, show_dir: str, max_samples: Optional[int] = 20, interval: int = 1):
        if not show_dir:
            raise ValueError('PredictionVisualizationHook: show_dir must be a directory path')
        if max_samples is not None and (not isinstance(max_samples, int) or max_samples < 0):
            raise ValueError(f'PredictionVisualizationHook: max_samples must be a non-negative '
                             f'int or None, got {max_samples!r}')
        if not isinstance(interval, int) or interval < 1:
            raise ValueError(f'PredictionVisualizationHook: interval must be a positive int, '
                             f'got {interval!r}')
        self.show_dir = show_dir
        self.max_samples = max_samples
        self.interval = interval
        self.num_saved = 0

    def _make_dir(self) -> None:
        try:
            os.makedirs(self.show_dir, exist_ok=True)
        except OSError as err:
            raise OSError(f'cannot create the visualisation directory {self.show_dir!r}: '
                          f'{err.strerror or err}') from err

    def before_test(self, runner) -> None:
        self.num_saved = 0
        if runner.rank == 0:
            self._make_dir()

    def _norm_stats(self, runner):
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        pre = getattr(model, 'data_preprocessor', None)
        if getattr(pre, 'mean', None) is None or getattr(pre, 'std', None) is None:
            return None, None
        return _to_numpy(pre.mean).reshape(-1), _to_numpy(pre.std).reshape(-1)

    def after_test_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None,
                        outputs: Optional[Sequence[dict]] = None) -> None:
        if runner.rank != 0 or not data_batch or not outputs or batch_idx % self.interval:
            return
        if self.max_samples is not None and self.num_saved >= self.max_samples:
            return
        images = _batch_images(data_batch, *self._norm_stats(runner))
        for image, sample in zip(images, outputs):
            if self.max_samples is not None and self.num_saved >= self.max_samples:
                break
            pred, gt = sample['pred'], sample.get('gt', {})
            canvas = tile_sample(image, pred, gt, list(pred))
            path = osp.join(self.show_dir, f'{_safe_name(sample.get("img_id"))}.png')
            Image.fromarray(canvas).save(path)
            self.num_saved += 1

    def after_test(self, runner) -> None:
        if runner.rank == 0 and self.num_saved:
            runner.logger.info(f'Saved {self.num_saved} visualisations to {self.show_dir}')
