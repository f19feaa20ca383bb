"""Writers of one rendered sample into the PASCAL_MT and NYUD_MT on-disk layouts.

PASCAL_MT (``layout='pascal-mt'``)::

    JPEGImages/<id>.jpg                 RGB
    semseg/pascal-context/<id>.png      uint8, 0 background, 1..20 VOC classes
    human_parts/<id>.mat                PASCAL-Part struct ``anno`` (imname, objects)
    sal_distill/<id>.png                uint8, 0 / 255
    normals_distill/<id>.png            RGB, normal = 2 * v / 255 - 1
    pascal-context/trainval/<id>.mat    ``LabelMap`` uint16, PASCAL-Context 459-class ids

NYUD_MT (``layout='nyud-mt'``; packaging ``jpg-npy`` / ``png-npy``)::

    images/<id>.jpg | .png              RGB
    segmentation/<id>.png               uint8, 0 unlabeled, 1..40
    depth/<id>.npy                      float32 metres, 0 invalid
    normals/<id>.npy | .png             float32 [H, W, 3] in [-1, 1], zero = invalid |
                                        RGB, 2 * v / 255 - 1, invalid stored black (0, 0, 0)
    edge/<id>.npy | .png                uint8 0 / 1 | uint8 0 / 255
"""
import os

import cv2
import numpy as np

from .classes import PART_NAMES, VOC_CLASSES
from .matfile import MatStruct, write_mat

__all__ = ['PASCAL_DIRS', 'NYUD_DIRS', 'PACKAGINGS', 'encode_normals', 'pascal_part_struct',
           'write_pascal', 'write_nyud']

PACKAGINGS = ('jpg-npy', 'png-npy')
PASCAL_DIRS = ('JPEGImages', 'ImageSets/Context', 'semseg/pascal-context', 'human_parts',
               'sal_distill', 'normals_distill', 'pascal-context/trainval')
NYUD_DIRS = ('images', 'gt_sets', 'segmentation', 'depth', 'normals', 'edge')
_JPEG = [cv2.IMWRITE_JPEG_QUALITY, 90]
_PNG = [cv2.IMWRITE_PNG_COMPRESSION, 6]
_EMPTY_PARTS = MatStruct(['part_name', 'mask'], [], (0, 0))


def _imwrite(path: str, img: np.ndarray) -> None:
    if img.ndim == 3:
        img = np.ascontiguousarray(img[..., ::-1])  # RGB -> BGR for OpenCV
    ext = path[-4:]
    ok, buf = cv2.imencode(ext, img, _JPEG if ext == '.jpg' else _PNG)
    if not ok:
        raise OSError(f'could not encode {path}')
    with open(path, 'wb') as f:
        f.write(buf.tobytes())


def encode_normals(normals: np.ndarray) -> np.ndarray:
    """uint8 RGB encoding ``v = round((n + 1) / 2 * 255)`` (decode: ``n = 2 * v / 255 - 1``)."""
    return np.clip(np.rint((normals + 1.0) * 127.5), 0, 255).astype(np.uint8)


def pascal_part_struct(img_id: str, sample: dict) -> MatStruct:
    """The PASCAL-Part ``anno`` struct of a rendered sample.

    One object per visible VOC-class instance (``class``, ``class_ind``, ``mask``, ``parts``);
    ``parts`` lists ``(part_name, mask)`` for the visible named parts of objects whose parts are
    annotated, and is an empty 0x0 struct otherwise (e.g. chairs, or an unannotated person).
    """
    inst, part = sample['instance'], sample['part']
    objects = []
    for d in sample['instances']:
        if d['voc'] == 0 or d['area'] == 0:
            continue
        mask = inst == d['id']
        parts = _EMPTY_PARTS
        if d['parts_annotated']:
            ids = np.unique(part[mask])
            elems = [{'part_name': PART_NAMES[i], 'mask': (mask & (part == i)).astype(np.uint8)}
                     for i in ids.tolist() if i > 0]
            if elems:
                parts = MatStruct(['part_name', 'mask'], elems)
        objects.append({'class': VOC_CLASSES[d['voc']],
                        'class_ind': np.array([[float(d['voc'])]]),
                        'mask': mask.astype(np.uint8), 'parts': parts})
    objs = MatStruct(['class', 'class_ind', 'mask', 'parts'], objects)
    return MatStruct(['imname', 'objects'], [{'imname': img_id, 'objects': objs}])


def write_pascal(root, img_id: str, sample: dict, packaging: str = 'jpg-npy') -> None:
    """Write one sample into a PASCAL_MT tree rooted at ``root`` (directories must exist)."""
    if packaging != 'jpg-npy':
        raise ValueError("the pascal-mt layout has a single packaging, 'jpg-npy'")
    r = os.fspath(root)
    _imwrite(f'{r}/JPEGImages/{img_id}.jpg', sample['image'])
    _imwrite(f'{r}/semseg/pascal-context/{img_id}.png', sample['semseg'])
    _imwrite(f'{r}/sal_distill/{img_id}.png', sample['saliency'] * np.uint8(255))
    _imwrite(f'{r}/normals_distill/{img_id}.png', encode_normals(sample['normals']))
    write_mat(f'{r}/human_parts/{img_id}.mat', {'anno': pascal_part_struct(img_id, sample)})
    write_mat(f'{r}/pascal-context/trainval/{img_id}.mat', {'LabelMap': sample['context']})


def write_nyud(root, img_id: str, sample: dict, packaging: str = 'jpg-npy') -> None:
    """Write one sample into a NYUD_MT tree rooted at ``root`` (directories must exist)."""
    if packaging not in PACKAGINGS:
        raise ValueError(f'unknown packaging {packaging!r}; expected one of {PACKAGINGS}')
    valid = sample['sensor_valid']
    depth = np.where(valid, sample['depth'], 0.0).astype(np.float32)
    normals = np.where(valid[..., None], sample['normals'], 0.0).astype(np.float32)
    edge = sample['edge'].astype(np.uint8)
    r = os.fspath(root)
    _imwrite(f'{r}/segmentation/{img_id}.png', sample['nyu'])
    np.save(f'{r}/depth/{img_id}.npy', depth)
    if packaging == 'jpg-npy':
        _imwrite(f'{r}/images/{img_id}.jpg', sample['image'])
        np.save(f'{r}/normals/{img_id}.npy', normals)
        np.save(f'{r}/edge/{img_id}.npy', edge)
    else:
        _imwrite(f'{r}/images/{img_id}.png', sample['image'])
        enc = encode_normals(normals)
        enc[~valid] = 0  # black = invalid (decodes to (-1, -1, -1), never a unit normal)
        _imwrite(f'{r}/normals/{img_id}.png', enc)
        _imwrite(f'{r}/edge/{img_id}.png', edge * np.uint8(255))
