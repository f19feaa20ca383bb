"""NYUD-v2 multi-task dataset (the ``NYUD_MT`` packaging of ASTMT / MTI-Net / MTLoRA).

Targets (see ``docs/datasets.md``):

- semseg: ``segmentation/<id>.png``, 0 (unlabelled) -> 255 ignore, 1..40 -> classes 0..39;
- depth: ``depth/<id>.npy`` in metres, 0 invalid (non-finite values are made 0 as well);
- normals: ``normals/<id>.npy`` in [-1, 1] with zero vectors invalid, or ``normals/<id>.png``
  mapped by ``2 v / 255 - 1`` (black pixels are invalid);
- edge: ``edge/<id>.npy`` (value >= 0.5 is an edge) or ``edge/<id>.png`` (0/1 or 0/255).

Two packagings exist: ``images/*.jpg`` (``'jpg-npy'``) and ``images/*.png`` (``'png-npy'``); the
one in use is detected from the first image of the split and exposed as ``metainfo['variant']``.
Targets stored as ``.npy`` are preferred over ``.png`` per file.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mtbench.errors import DataError
from mtbench.registry import DATASETS

from .base import MultiTaskDataset, read_npy, read_png

__all__ = ['NYUDv2MT', 'NYUD_CLASSES', 'nyud_semseg', 'nyud_depth', 'nyud_normals', 'nyud_edge',
           'read_nyud_target', 'task_relpath']

NYUD_CLASSES = ('wall', 'floor', 'cabinet', 'bed', 'chair', 'sofa', 'table', 'door', 'window',
                'bookshelf', 'picture', 'counter', 'blinds', 'desk', 'shelves', 'curtain',
                'dresser', 'pillow', 'mirror', 'floor mat', 'clothes', 'ceiling', 'books',
                'refridgerator', 'television', 'paper', 'towel', 'shower curtain', 'box',
                'whiteboard', 'person', 'night stand', 'toilet', 'sink', 'lamp', 'bathtub', 'bag',
                'otherstructure', 'otherfurniture', 'otherprop')
assert len(NYUD_CLASSES) == 40

_TASK_DIRS = {'semseg': 'segmentation', 'depth': 'depth', 'normals': 'normals', 'edge': 'edge'}
_TASK_EXTS = {'semseg': ('.png',), 'depth': ('.npy',), 'normals': ('.npy', '.png'),
              'edge': ('.npy', '.png')}


def nyud_semseg(raw: np.ndarray, path: str = '<semseg>') -> np.ndarray:
    """NYU-40 labels (uint8): 0 -> 255 (ignore), 1..40 -> 0..39."""
    if raw.ndim != 2:
        raise DataError(f'{path}: expected a single-channel label image, got shape {raw.shape}')
    raw = raw.astype(np.int64)
    if raw.size and (raw.min() < 0 or raw.max() > 255):
        raise DataError(f'{path}: label values must lie in 0..255, got {raw.min()}..{raw.max()}')
    return np.where(raw == 0, 255, raw - 1).astype(np.uint8)


def nyud_depth(raw: np.ndarray, path: str = '<depth>') -> np.ndarray:
    """Depth in metres (float32 H x W); 0 marks invalid pixels. NaN/Inf mean a corrupt file."""
    depth = np.squeeze(np.asarray(raw, dtype=np.float32))
    if depth.ndim != 2:
        raise DataError(f'{path}: expected a 2-D depth map, got shape {np.shape(raw)}')
    _require_finite(depth, path, 'depth')
    return depth


def nyud_normals(raw: np.ndarray, path: str = '<normals>') -> np.ndarray:
    """Normals (float32 H x W x 3); ``.png`` data is mapped by ``2 v / 255 - 1``; a zero vector
    marks an invalid pixel, NaN/Inf a corrupt file."""
    if raw.ndim != 3 or raw.shape[2] < 3:
        raise DataError(f'{path}: expected H x W x 3 normals, got shape {raw.shape}')
    if str(path).endswith('.png'):
        normals = 2.0 * raw[..., :3].astype(np.float32) / 255.0 - 1.0
        normals[(raw[..., :3] == 0).all(axis=2)] = 0.0
        return normals
    normals = raw[..., :3].astype(np.float32)
    _require_finite(normals, path, 'normals')
    return normals


def _require_finite(arr: np.ndarray, path, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        raise DataError(f'{path}: {what} has {int(bad.sum())} non-finite value(s) (NaN/Inf); '
                        'the file is corrupt: regenerate it, or mark invalid pixels with 0 '
                        '(tools/dataset_converters/check_dataset.py lists every such file)')


def nyud_edge(raw: np.ndarray, path: str = '<edge>') -> np.ndarray:
    """Binary edge map (uint8 0/1)."""
    edge = np.squeeze(np.asarray(raw))
    if edge.ndim != 2:
        raise DataError(f'{path}: expected a 2-D edge map, got shape {np.shape(raw)}')
    if str(path).endswith('.png') and edge.max(initial=0) > 1:
        return (edge.astype(np.float32) / 255.0 >= 0.5).astype(np.uint8)
    return (edge.astype(np.float32) >= 0.5).astype(np.uint8)


def task_relpath(root: Path, task: str, img_id: str) -> str:
    """Relative path of ``task``'s file for ``img_id`` (first existing extension)."""
    candidates = [f'{_TASK_DIRS[task]}/{img_id}{ext}' for ext in _TASK_EXTS[task]]
    for rel in candidates:
        if (root / rel).is_file():
            return rel
    return candidates[0]


_CONVERTERS = {'semseg': nyud_semseg, 'depth': nyud_depth, 'normals': nyud_normals,
               'edge': nyud_edge}


def read_nyud_target(task: str, path: str, data: Optional[bytes] = None) -> np.ndarray:
    """Read and convert one NYUD target file."""
    raw = read_npy(path, data) if str(path).endswith('.npy') else read_png(path, data)
    return _CONVERTERS[task](raw, path)


@DATASETS.register_module()
class NYUDv2MT(MultiTaskDataset):
    """NYUD-v2 multi-task dataset (``NYUD_MT`` layout, 795 train / 654 val, 480x640 images).

    Tasks: semseg (40 classes), normals, edge, depth.

    Args: see :class:`~mtbench.datasets.base.MultiTaskDataset`.

    Example:
        >>> ds = NYUDv2MT('data/NYUD_MT', split='val', tasks=('semseg', 'depth'),
        ...               pipeline=[dict(type='MultiTaskResize', size=(448, 448)),
        ...                         dict(type='PackMultiTaskInputs')])  # doctest: +SKIP
    """
    DATASET_NAME = 'nyud-mt'
    SPLIT_FILES = {'train': 'gt_sets/train.txt', 'val': 'gt_sets/val.txt'}
    CLASSES = {'semseg': NYUD_CLASSES}

    @classmethod
    def _detect_variant(cls, root: Path, ids: Sequence[str]) -> str:
        if not (root / f'images/{ids[0]}.jpg').is_file() and \
                (root / f'images/{ids[0]}.png').is_file():
            return 'png-npy'
        return 'jpg-npy'

    @classmethod
    def _sample_files(cls, root: Path, img_id: str, variant: str, tasks: Sequence[str]
                      ) -> Tuple[str, Dict[str, str], List[str]]:
        ext = 'png' if variant == 'png-npy' else 'jpg'
        gt = {task: task_relpath(root, task, img_id) for task in tasks}
        return f'images/{img_id}.{ext}', gt, []

    def load_targets(self, info: dict, img_shape: Tuple[int, int]) -> Dict[str, np.ndarray]:
        """Read the targets of one sample."""
        return {task: read_nyud_target(task, info['gt_paths'][task]) for task in self.tasks}
