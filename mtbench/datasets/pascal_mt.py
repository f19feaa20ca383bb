"""PASCAL-Context multi-task dataset (the ``PASCAL_MT`` packaging of ASTMT / MTI-Net / MTLoRA).

Targets are derived exactly as that line of work does (see ``docs/datasets.md``):

- semseg: ``semseg/VOC12/<id>.png`` if present, else ``semseg/pascal-context/<id>.png``;
- human_parts: person (class 15) parts of ``human_parts/<id>.mat`` grouped into 6 parts; an image
  without a person gets an all-255 (ignored) target;
- saliency: ``sal_distill/<id>.png / 255 > 0.5``;
- normals: ``2 * normals_distill/<id>.png / 255 - 1``, zeroed (invalid) where the
  ``pascal-context/trainval/<id>.mat`` ``LabelMap`` class has no NYUD-v2 counterpart;
- edge: ``|Laplacian(LabelMap)| > 0``, then morphological thinning.
"""
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mtbench.errors import DataError
from mtbench.registry import DATASETS

from .base import MultiTaskDataset, read_mat, read_png

__all__ = [
    'PascalContextMT', 'PASCAL_CLASSES', 'HUMAN_PART_CLASSES', 'HUMAN_PART_GROUPS',
    'NORMALS_VALID_CONTEXT_IDS', 'parse_human_parts', 'edge_from_label_map',
    'normals_from_distilled', 'saliency_from_distilled', 'semseg_relpath', 'thin',
]

PASCAL_CLASSES = ('background', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car',
                  'cat', 'chair', 'cow', 'diningtable', 'dog', 'horse', 'motorbike', 'person',
                  'pottedplant', 'sheep', 'sofa', 'train', 'tvmonitor')
HUMAN_PART_CLASSES = ('background', 'head', 'torso', 'upper arm', 'lower arm', 'upper leg',
                      'lower leg')
_GROUPS = {
    1: ('hair', 'head', 'lear', 'rear', 'lebrow', 'rebrow', 'leye', 'reye', 'mouth', 'nose'),
    2: ('neck', 'torso'),
    3: ('luarm', 'ruarm'),
    4: ('llarm', 'rlarm', 'lhand', 'rhand'),
    5: ('luleg', 'ruleg'),
    6: ('llleg', 'rlleg', 'lfoot', 'rfoot'),
}
#: PASCAL-Part person part name -> one of the 6 grouped part labels.
HUMAN_PART_GROUPS: Dict[str, int] = {name: lab for lab, names in _GROUPS.items() for name in names}
PERSON_CLASS_IND = 15

#: PASCAL-Context (459-class LabelMap) ids whose class exists in NYUD-v2, plus tvmonitor (427):
#: the distilled normals are valid only there.
NORMALS_VALID_CONTEXT_IDS = frozenset(int(x) for x in """
3 4 6 9 10 11 13 15 17 18 22 23 29 30 33 34 36 37 38 39 41 43 46 49 50 51 53 55 56 59 61 62 65 66
68 69 72 73 78 83 84 85 87 88 95 96 101 104 105 107 111 113 115 122 124 135 141 142 143 146 150
154 157 158 159 165 172 174 181 183 184 191 193 195 197 199 202 213 215 216 219 220 223 225 228
230 232 233 238 239 242 243 246 250 251 252 255 260 261 263 269 272 273 275 281 283 284 285 286
287 288 290 291 292 293 295 304 307 309 310 314 315 319 323 329 330 331 336 342 345 349 350 351
352 355 357 368 370 371 374 379 380 383 384 397 401 403 405 407 408 411 412 413 414 417 419 421
423 427 429 430 432 440 441 442 443 444 446 454 457""".split())
assert len(NORMALS_VALID_CONTEXT_IDS) == 170
_NORMALS_VALID_LUT = np.zeros(max(NORMALS_VALID_CONTEXT_IDS) + 2, dtype=bool)
_NORMALS_VALID_LUT[list(NORMALS_VALID_CONTEXT_IDS)] = True

_LABEL_MAP_TASKS = ('normals', 'edge')


def semseg_relpath(root: Path, img_id: str) -> str:
    """``semseg/VOC12/<id>.png`` when it exists, else ``semseg/pascal-context/<id>.png``."""
    voc = f'semseg/VOC12/{img_id}.png'
    return voc if (Path(root) / voc).is_file() else f'semseg/pascal-context/{img_id}.png'


def parse_human_parts(anno: np.ndarray, shape: Tuple[int, int], path: str = '<anno>'
                      ) -> np.ndarray:
    """Grouped person-part label map (uint8: 0 background, 1..6 parts, all 255 without people).

    ``anno`` is the ``'anno'`` variable of a PASCAL-Part ``.mat``: ``anno[0][0][1][0]`` holds the
    objects, each (class name, class index, instance mask, parts), each part (name, mask). As in
    the reference, the image counts as having people if any class-15 object has a non-empty
    mask; then the parts of every class-15 object that has parts are painted in order (later
    parts overwrite earlier ones) on a map of the person mask's size. ``shape`` (the image size)
    is the size of the all-255 map returned when no part is painted.

    Raises:
        ValueError: the struct does not have that layout, a mask has the wrong size, or a part
            name is unknown.
    """
    ignore = np.full(shape, 255, dtype=np.uint8)
    try:
        objects = anno[0][0][1]
        objects = objects[0] if objects.size else []
        people = [obj for obj in objects if int(np.asarray(obj[1]).ravel()[0]) == PERSON_CLASS_IND]
        if not any(np.asarray(obj[2]).any() for obj in people):
            return ignore
        target = None
        for obj in people:
            parts = obj[3]
            if parts.size == 0:
                continue
            if target is None:  # built at the instance-mask size, like the reference
                target = np.zeros(np.asarray(obj[2]).shape, dtype=np.uint8)
            for part in parts[0]:
                name = str(np.asarray(part[0]).ravel()[0])
                if name not in HUMAN_PART_GROUPS:
                    raise DataError(f'{path}: unknown person part name {name!r}; expected one '
                                     f'of {", ".join(sorted(HUMAN_PART_GROUPS))}')
                mask = np.asarray(part[1]).astype(bool)
                if mask.shape != target.shape:
                    raise DataError(f'{path}: part {name!r} mask is {mask.shape[0]}x'
                                     f'{mask.shape[1]} but the person mask is '
                                     f'{target.shape[0]}x{target.shape[1]}')
                target[mask] = HUMAN_PART_GROUPS[name]
    except ValueError:
        raise
    except (IndexError, TypeError, KeyError, AttributeError) as err:
        raise DataError(f'{path}: unexpected PASCAL-Part struct, expected anno[0][0][1][0] to '
                         f'be the objects (class, class_ind, mask, parts) ({err})') from None
    # The reference turns an all-zero parts map into all-ignore (AddIgnoreRegions).
    return target if target is not None and target.any() else ignore


def _thinning_luts() -> Tuple[np.ndarray, np.ndarray]:
    """Deletion tables of the two sub-iterations of Guo & Hall's parallel thinning (1989, A1).

    A neighbourhood code sums ``2**k`` over the set neighbours ``x_{k+1}`` (x1 east, then
    counter-clockwise: NE, N, NW, W, SW, S, SE), the encoding of ``skimage.morphology.thin``.
    """
    first, second = np.zeros(256, bool), np.zeros(256, bool)
    for code in range(256):
        x = [bool(code >> k & 1) for k in range(8)]
        crossings = sum(1 for i in (0, 2, 4, 6) if not x[i] and (x[i + 1] or x[(i + 2) % 8]))
        n1 = sum(1 for k in (1, 3, 5, 7) if x[k - 1] or x[k])
        n2 = sum(1 for k in (1, 3, 5, 7) if x[k] or x[(k + 1) % 8])
        deletable = crossings == 1 and 2 <= min(n1, n2) <= 3
        first[code] = deletable and not ((x[1] or x[2] or not x[7]) and x[0])
        second[code] = deletable and not ((x[5] or x[6] or not x[3]) and x[4])
    return first, second


_THIN_LUTS = _thinning_luts()
# (row offset, column offset, weight) of each neighbour in the code above.
_NEIGHBOURS = ((0, 1, 1), (-1, 1, 2), (-1, 0, 4), (-1, -1, 8), (0, -1, 16), (1, -1, 32),
               (1, 0, 64), (1, 1, 128))


def thin(mask: np.ndarray) -> np.ndarray:
    """Morphological thinning to one-pixel-wide curves (same result as skimage's ``thin``).

    Args:
        mask: 2-D array, non-zero is foreground.

    Returns:
        bool array of the same shape.
    """
    skel = np.asarray(mask).astype(bool)
    h, w = skel.shape
    padded = np.zeros((h + 2, w + 2), dtype=np.uint8)
    while True:
        removed = 0
        for lut in _THIN_LUTS:
            padded[1:-1, 1:-1] = skel
            code = np.zeros((h, w), dtype=np.uint8)
            for dy, dx, weight in _NEIGHBOURS:
                code |= padded[1 + dy:1 + dy + h, 1 + dx:1 + dx + w] * np.uint8(weight)
            delete = lut[code] & skel
            removed += int(delete.sum())
            skel[delete] = False
        if not removed:
            return skel


def edge_from_label_map(label_map: np.ndarray) -> np.ndarray:
    """Thin boundary map (uint8 0/1): ``|Laplacian(LabelMap)| > 0`` then morphological thinning."""
    import cv2
    lap = cv2.Laplacian(np.asarray(label_map, dtype=np.float64), cv2.CV_64F)
    return thin(np.abs(lap) > 0).astype(np.uint8)


def normals_from_distilled(raw: np.ndarray, label_map: Optional[np.ndarray]) -> np.ndarray:
    """``2 v / 255 - 1`` (float32 H x W x 3), zero vectors where the context class is invalid."""
    normals = 2.0 * raw[..., :3].astype(np.float32) / 255.0 - 1.0
    if label_map is not None:
        # ids outside the table (negative or > 457) land on a False entry
        ids = np.clip(np.asarray(label_map).astype(np.int64), 0, _NORMALS_VALID_LUT.size - 1)
        normals[~_NORMALS_VALID_LUT[ids]] = 0.0
    return normals


def saliency_from_distilled(raw: np.ndarray) -> np.ndarray:
    """Binary saliency (uint8 0/1): ``value / 255 > 0.5`` of the grayscale distilled map."""
    if raw.ndim == 3:  # RGB(A) stored: use the luminance, as PIL's convert('L') does
        from PIL import Image
        raw = np.asarray(Image.fromarray(raw[..., :3].astype(np.uint8)).convert('L'))
    return (raw.astype(np.float32) / 255.0 > 0.5).astype(np.uint8)


def _as_labels(arr: np.ndarray, path: str) -> np.ndarray:
    if arr.ndim != 2:
        raise DataError(f'{path}: expected a single-channel label image, got shape {arr.shape}')
    if arr.dtype != np.uint8:
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise DataError(f'{path}: label values must lie in 0..255, got '
                             f'{arr.min()}..{arr.max()}')
        arr = arr.astype(np.uint8)
    return arr


@DATASETS.register_module()
class PascalContextMT(MultiTaskDataset):
    """PASCAL-Context multi-task dataset (``PASCAL_MT`` layout, 4,998 train / 5,105 val).

    Tasks: semseg (21 classes), human_parts (7), saliency, normals, edge. ``metainfo['variant']``
    names the semantic segmentation source: ``'voc12'`` when ``semseg/VOC12`` holds the first
    id's label, else ``'pascal-context'`` (each id falls back individually, as the reference).

    Args: see :class:`~mtbench.datasets.base.MultiTaskDataset`.

    Example:
        >>> ds = PascalContextMT('data/PASCAL_MT', split='val',
        ...                      tasks=('semseg', 'human_parts', 'saliency', 'normals'),
        ...                      pipeline=[dict(type='MultiTaskResize', size=(448, 448)),
        ...                                dict(type='PackMultiTaskInputs')])  # doctest: +SKIP
    """
    DATASET_NAME = 'pascal-mt'
    SPLIT_FILES = {'train': 'ImageSets/Context/train.txt', 'val': 'ImageSets/Context/val.txt'}
    CLASSES = {'semseg': PASCAL_CLASSES, 'human_parts': HUMAN_PART_CLASSES}

    @classmethod
    def _detect_variant(cls, root: Path, ids: Sequence[str]) -> str:
        return 'voc12' if (root / f'semseg/VOC12/{ids[0]}.png').is_file() else 'pascal-context'

    @classmethod
    def _sample_files(cls, root: Path, img_id: str, variant: str, tasks: Sequence[str]
                      ) -> Tuple[str, Dict[str, str], List[str]]:
        label_map = f'pascal-context/trainval/{img_id}.mat'
        gt = {}
        for task in tasks:
            if task == 'semseg':
                gt[task] = semseg_relpath(root, img_id)
            elif task == 'human_parts':
                gt[task] = f'human_parts/{img_id}.mat'
            elif task == 'saliency':
                gt[task] = f'sal_distill/{img_id}.png'
            elif task == 'normals':
                gt[task] = f'normals_distill/{img_id}.png'
            elif task == 'edge':
                gt[task] = label_map
        extra = [label_map] if 'normals' in tasks else []
        return f'JPEGImages/{img_id}.jpg', gt, extra

    def load_targets(self, info: dict, img_shape: Tuple[int, int]) -> Dict[str, np.ndarray]:
        """Read the targets of one sample (label map read once for normals and edge)."""
        paths = info['gt_paths']
        img_id = info['img_id']
        label_map = None
        if any(t in self.tasks for t in _LABEL_MAP_TASKS):
            lm_path = str(Path(self.data_root) / f'pascal-context/trainval/{img_id}.mat')
            label_map = read_mat(lm_path, ['LabelMap'])['LabelMap']
            if label_map.ndim != 2:
                raise DataError(f'{lm_path}: LabelMap must be 2-D, got shape {label_map.shape}')
            if label_map.shape != tuple(img_shape) and self.strict_size:
                raise DataError(f'{lm_path}: LabelMap is {label_map.shape[0]}x'
                                 f'{label_map.shape[1]} but image {info["img_path"]} is '
                                 f'{img_shape[0]}x{img_shape[1]}; expected equal sizes')
        gt = {}
        for task in self.tasks:
            path = paths[task]
            if task == 'semseg':
                gt[task] = _as_labels(read_png(path), path)
            elif task == 'human_parts':
                gt[task] = parse_human_parts(read_mat(path, ['anno'])['anno'], img_shape, path)
            elif task == 'saliency':
                gt[task] = saliency_from_distilled(read_png(path))
            elif task == 'normals':
                raw = read_png(path)
                if raw.ndim != 3 or raw.shape[2] < 3:
                    raise DataError(f'{path}: expected an RGB normals image, got shape '
                                     f'{raw.shape}')
                if raw.shape[:2] != label_map.shape:
                    raise DataError(f'{path}: normals are {raw.shape[0]}x{raw.shape[1]} but '
                                     f'the LabelMap is {label_map.shape[0]}x'
                                     f'{label_map.shape[1]}; expected equal sizes')
                gt[task] = normals_from_distilled(raw, label_map)
            elif task == 'edge':
                gt[task] = edge_from_label_map(label_map)
        return gt
