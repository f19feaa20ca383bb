"""Multi-task transforms: one geometric decision per sample, applied to the image and every target.

They work on the mmcv results dict of ``docs/conventions.md``: ``results['img']`` (H x W x 3 uint8
RGB) and ``results['gt']`` ({task: array}; labels uint8 with 255 ignore, normals float32 H x W x 3
with zero vectors invalid, depth float32 with 0 invalid). How each target is interpolated follows
``mtbench.tasks.TASKS[task].kind``: 'labels'/'binary' nearest, 'vector' (normals) cubic,
'scalar' (depth) nearest, so invalid zeros are never blended into valid depths (the reference
uses nearest for depth too). Randomness comes from ``numpy.random`` so mmengine's seeding makes
pipelines reproducible.

Example:
    >>> pipeline = [dict(type='MultiTaskRandomFlip'),
    ...             dict(type='MultiTaskScaleRotate'),
    ...             dict(type='MultiTaskResize', size=(448, 448)),
    ...             dict(type='PackMultiTaskInputs')]
"""
from typing import Optional, Sequence, Tuple

import cv2
import numpy as np
import torch
from mmcv.transforms import BaseTransform

from mtbench.registry import TRANSFORMS
from mtbench.tasks import TASKS

__all__ = ['MultiTaskRandomFlip', 'MultiTaskScaleRotate', 'MultiTaskResize',
           'PackMultiTaskInputs', 'rotate_normals', 'renormalize_normals']

_INTERP = {'nearest': cv2.INTER_NEAREST, 'bilinear': cv2.INTER_LINEAR, 'cubic': cv2.INTER_CUBIC}


def _kind(task: str) -> str:
    if task not in TASKS:
        raise KeyError(f'Unknown task {task!r} in results["gt"]; known tasks: {", ".join(TASKS)}')
    return TASKS[task].kind


def _interp(name: str) -> int:
    if name not in _INTERP:
        raise ValueError(f'Unknown interpolation {name!r}; expected one of {", ".join(_INTERP)}')
    return _INTERP[name]


def rotate_normals(normals: np.ndarray, angle: float) -> np.ndarray:
    """Rotate the in-plane (x, y) components by ``angle`` degrees, as the reference does.

    Matches an image rotated counter-clockwise by ``angle`` (``cv2.getRotationMatrix2D``) when y
    points down the image: ``x' = x cos a + y sin a``, ``y' = y cos a - x sin a``. Zero vectors
    stay zero.
    """
    rad = np.deg2rad(angle)
    c, s = np.float32(np.cos(rad)), np.float32(np.sin(rad))
    out = normals.astype(np.float32, copy=True)
    x, y = normals[..., 0], normals[..., 1]
    out[..., 0] = x * c + y * s
    out[..., 1] = y * c - x * s
    return out


def renormalize_normals(normals: np.ndarray) -> np.ndarray:
    """L2-normalise per pixel; zero vectors stay zero (invalid)."""
    norm = np.sqrt((normals.astype(np.float32) ** 2).sum(axis=-1, keepdims=True))
    return (normals / (norm + np.finfo(np.float32).eps)).astype(np.float32)


@TRANSFORMS.register_module()
class MultiTaskRandomFlip(BaseTransform):
    """Horizontal flip of the image and every target with probability ``prob``.

    The x component of the normals is negated. Sets ``results['flip']``.

    Args:
        prob: flip probability (the reference uses 0.5).
    """

    def __init__(self, prob: float = 0.5):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f'MultiTaskRandomFlip: prob must lie in [0, 1], got {prob}')
        self.prob = prob

    def transform(self, results: dict) -> dict:
        """Flip ``results`` in place (decision drawn from ``numpy.random``)."""
        flip = bool(np.random.rand() < self.prob)
        results['flip'] = flip
        if not flip:
            return results
        results['img'] = np.ascontiguousarray(results['img'][:, ::-1])
        for task, arr in results['gt'].items():
            arr = np.ascontiguousarray(arr[:, ::-1])
            if _kind(task) == 'vector':
                arr[..., 0] = -arr[..., 0]
            results['gt'][task] = arr
        return results

    def __repr__(self) -> str:
        return f'{type(self).__name__}(prob={self.prob})'


@TRANSFORMS.register_module()
class MultiTaskScaleRotate(BaseTransform):
    """Random rotation and zoom about the image centre at the same output size (``ScaleNRotate``).

    Defaults are the PASCAL recipe (rotation U(-20, 20) degrees, scale U(0.75, 1.25)); for NYUD
    use ``rotation_range=None, scale_choices=(1.0, 1.2, 1.5)``. ``cv2.warpAffine`` is used with
    cubic interpolation for the image and normals, nearest for labels and depth; normals are
    rotated in-plane; depth is divided by the scale. Pixels from outside the image become 0 in
    every map, as in the reference (padding is *background* for labels), or 255 (ignore) for
    labels with ``label_border='ignore'``. A label map that is entirely ignored (e.g. human
    parts of an image without people) stays entirely ignored. Sets ``results['rotation']`` and
    ``results['scale']``.

    Args:
        rotation_range: (min, max) degrees, uniform; ``None`` for no rotation.
        scale_range: (min, max), uniform; used when ``scale_choices`` is ``None``.
        scale_choices: scales drawn uniformly from this list instead of ``scale_range``.
        label_border: 'zero' (reference) or 'ignore' for the padding of label/binary maps.
        divide_depth: divide depth by the scale (the reference does, on NYUD).
        depth_interpolation: 'nearest' (reference), 'bilinear' or 'cubic'.
    """

    def __init__(self,
                 rotation_range: Optional[Sequence[float]] = (-20.0, 20.0),
                 scale_range: Optional[Sequence[float]] = (0.75, 1.25),
                 scale_choices: Optional[Sequence[float]] = None,
                 label_border: str = 'zero',
                 divide_depth: bool = True,
                 depth_interpolation: str = 'nearest'):
        if label_border not in ('zero', 'ignore'):
            raise ValueError(f"MultiTaskScaleRotate: label_border must be 'zero' or 'ignore', "
                             f'got {label_border!r}')
        for name, rng in (('rotation_range', rotation_range), ('scale_range', scale_range)):
            if rng is not None and (len(rng) != 2 or rng[0] > rng[1]):
                raise ValueError(f'MultiTaskScaleRotate: {name} must be (min, max), got {rng}')
        if scale_choices is not None and (not len(scale_choices) or min(scale_choices) <= 0):
            raise ValueError('MultiTaskScaleRotate: scale_choices must be positive scales, got '
                             f'{scale_choices}')
        self.rotation_range = None if rotation_range is None else tuple(rotation_range)
        self.scale_range = None if scale_range is None else tuple(scale_range)
        self.scale_choices = None if scale_choices is None else tuple(scale_choices)
        self.label_border = label_border
        self.divide_depth = divide_depth
        self.depth_interp = _interp(depth_interpolation)
        self.depth_interpolation = depth_interpolation

    def _draw(self) -> Tuple[float, float]:
        rot = 0.0 if self.rotation_range is None else float(np.random.uniform(*self.rotation_range))
        if self.scale_choices is not None:
            scale = float(self.scale_choices[np.random.randint(len(self.scale_choices))])
        elif self.scale_range is not None:
            scale = float(np.random.uniform(*self.scale_range))
        else:
            scale = 1.0
        return rot, scale

    def transform(self, results: dict) -> dict:
        """Warp the image and every target with one drawn (rotation, scale)."""
        rot, scale = self._draw()
        results['rotation'], results['scale'] = rot, scale
        h, w = results['img'].shape[:2]
        mat = cv2.getRotationMatrix2D((w / 2, h / 2), rot, scale)

        def warp(arr, interp, border):
            return cv2.warpAffine(arr, mat, (w, h), flags=interp,
                                  borderMode=cv2.BORDER_CONSTANT, borderValue=border)

        results['img'] = warp(results['img'], cv2.INTER_CUBIC, 0)
        label_pad = 255 if self.label_border == 'ignore' else 0
        for task, arr in results['gt'].items():
            kind = _kind(task)
            if arr.shape[:2] != (h, w):
                raise ValueError(f'MultiTaskScaleRotate: {task} is {arr.shape[0]}x{arr.shape[1]}'
                                 f' but the image is {h}x{w}')
            if kind in ('labels', 'binary'):
                if (arr == 255).all():
                    continue
                arr = warp(arr, cv2.INTER_NEAREST, label_pad)
            elif kind == 'vector':
                arr = warp(rotate_normals(arr, rot), cv2.INTER_CUBIC, 0)
            else:
                arr = warp(arr.astype(np.float32), self.depth_interp, 0)
                if self.divide_depth:
                    arr = arr / np.float32(scale)
            results['gt'][task] = arr
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(rotation_range={self.rotation_range}, '
                f'scale_range={self.scale_range}, scale_choices={self.scale_choices}, '
                f'label_border={self.label_border!r}, divide_depth={self.divide_depth}, '
                f'depth_interpolation={self.depth_interpolation!r})')


@TRANSFORMS.register_module()
class MultiTaskResize(BaseTransform):
    """Resize the image and every target to a fixed ``size`` (``FixedResize``, no aspect kept).

    Image cubic; labels nearest; normals cubic then L2-renormalised (zero vectors stay zero);
    depth nearest by default. Sets ``results['img_shape']``.

    Args:
        size: output (height, width); the PEFT papers use (448, 448).
        depth_interpolation: 'nearest' (default, keeps invalid zeros out of valid pixels),
            'bilinear' or 'cubic'.
        keep_invalid_normals: also zero the normals wherever the nearest source pixel was
            invalid (the reference does not: its cubic blend makes border pixels valid).
    """

    def __init__(self, size: Sequence[int] = (448, 448), depth_interpolation: str = 'nearest',
                 keep_invalid_normals: bool = False):
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f'MultiTaskResize: size must be (height, width), got {size}')
        self.size = (int(size[0]), int(size[1]))
        self.depth_interpolation = depth_interpolation
        self.depth_interp = _interp(depth_interpolation)
        self.keep_invalid_normals = keep_invalid_normals

    def transform(self, results: dict) -> dict:
        """Resize ``results`` to ``self.size``."""
        h, w = self.size
        dsize = (w, h)
        results['img'] = cv2.resize(results['img'], dsize, interpolation=cv2.INTER_CUBIC)
        for task, arr in results['gt'].items():
            kind = _kind(task)
            if kind in ('labels', 'binary'):
                arr = cv2.resize(arr, dsize, interpolation=cv2.INTER_NEAREST)
            elif kind == 'vector':
                out = renormalize_normals(cv2.resize(arr.astype(np.float32), dsize,
                                                     interpolation=cv2.INTER_CUBIC))
                if self.keep_invalid_normals:
                    valid = (arr != 0).any(axis=-1).astype(np.uint8)
                    out[cv2.resize(valid, dsize, interpolation=cv2.INTER_NEAREST) == 0] = 0.0
                arr = out
            else:
                arr = cv2.resize(arr.astype(np.float32), dsize, interpolation=self.depth_interp)
            results['gt'][task] = arr
        results['img_shape'] = (h, w)
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(size={self.size}, '
                f'depth_interpolation={self.depth_interpolation!r}, '
                f'keep_invalid_normals={self.keep_invalid_normals})')


@TRANSFORMS.register_module()
class PackMultiTaskInputs(BaseTransform):
    """Pack ``results`` into the sample of ``docs/conventions.md``.

    ``inputs``: uint8 [3, H, W] RGB; ``data_samples``: ``img_id``, ``ori_shape`` and ``gt``
    ({task: tensor}: int64 [H, W] for labels/binary, float32 [3, H, W] normals, float32 [H, W]
    depth). As the reference's ``AddIgnoreRegions``, a human-parts map that is all background
    after augmentation becomes all 255 (ignored).

    Args:
        empty_parts_to_ignore: apply the human-parts rule above.
        meta_keys: extra keys of ``results`` copied into ``data_samples`` (default none).
    """

    def __init__(self, empty_parts_to_ignore: bool = True, meta_keys: Sequence[str] = ()):
        self.empty_parts_to_ignore = empty_parts_to_ignore
        self.meta_keys = tuple(meta_keys)

    def transform(self, results: dict) -> dict:
        """Return ``{'inputs': tensor, 'data_samples': dict}``."""
        img = results['img']
        if img.dtype != np.uint8:
            img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f'PackMultiTaskInputs: expected an H x W x 3 image, got {img.shape}')
        h, w = img.shape[:2]
        gt = {}
        for task, arr in results['gt'].items():
            if arr.shape[:2] != (h, w):
                raise ValueError(f'PackMultiTaskInputs: {task} is {arr.shape[0]}x{arr.shape[1]} '
                                 f'but the image is {h}x{w}; resize targets with the image '
                                 '(e.g. MultiTaskResize) before packing')
            kind = _kind(task)
            if kind in ('labels', 'binary'):
                arr = np.asarray(arr).astype(np.int64)
                if task == 'human_parts' and self.empty_parts_to_ignore and not arr.any():
                    arr = np.full_like(arr, 255)
                gt[task] = torch.from_numpy(arr)
            elif kind == 'vector':
                gt[task] = torch.from_numpy(
                    np.ascontiguousarray(arr.transpose(2, 0, 1), dtype=np.float32))
            else:
                gt[task] = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float32))
        samples = dict(img_id=str(results['img_id']),
                       ori_shape=tuple(int(s) for s in results['ori_shape']), gt=gt)
        for key in self.meta_keys:
            samples[key] = results[key]
        inputs = torch.from_numpy(np.ascontiguousarray(img.transpose(2, 0, 1)))
        return dict(inputs=inputs, data_samples=samples)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(empty_parts_to_ignore={self.empty_parts_to_ignore}, '
                f'meta_keys={self.meta_keys})')
