"""Derived labels: boundaries, saliency and grouped human parts."""
from typing import List

import numpy as np

from .classes import PART_NAMES, PERSON_PART_GROUPS

__all__ = ['boundary_map', 'saliency_map', 'human_parts_map', 'PART_TO_GROUP']

PART_TO_GROUP = np.array([PERSON_PART_GROUPS.get(n, 0) for n in PART_NAMES], dtype=np.uint8)


def boundary_map(key: np.ndarray, depth: np.ndarray, surface: np.ndarray,
                 rel_jump: float = 0.06) -> np.ndarray:
    """One-pixel-wide boundaries of a label map and of depth discontinuities.

    A pair of 4-neighbours is a boundary when their ``key`` differs (another class or instance),
    or when they lie on different surfaces whose depths differ by more than ``rel_jump`` of the
    nearer one. The pixel of the pair nearer to the camera is marked (no-hit pixels, depth 0,
    count as infinitely far).

    Args:
        key: ``[H, W]`` integer label (e.g. context class * 4096 + instance).
        depth: ``[H, W]`` depth, 0 where nothing was hit.
        surface: ``[H, W]`` surface index.
        rel_jump: relative depth jump that counts as a discontinuity.

    Returns:
        ``[H, W]`` uint8 map with values 0 / 1.
    """
    d = np.where(depth > 0, depth, np.inf)
    out = np.zeros(key.shape, dtype=bool)
    for axis in (0, 1):
        sl_a = (slice(None, -1), slice(None)) if axis == 0 else (slice(None), slice(None, -1))
        sl_b = (slice(1, None), slice(None)) if axis == 0 else (slice(None), slice(1, None))
        da, db = d[sl_a], d[sl_b]
        near = np.minimum(da, db)
        with np.errstate(invalid='ignore'):
            jump = (surface[sl_a] != surface[sl_b]) & (np.abs(da - db) > rel_jump * near)
        diff = (key[sl_a] != key[sl_b]) | jump
        a_first = da <= db
        out[sl_a] |= diff & a_first
        out[sl_b] |= diff & ~a_first
    return out.astype(np.uint8)


def saliency_map(instance: np.ndarray, depth: np.ndarray, num: int, rel: float = 0.5,
                 min_area: float = 0.003) -> np.ndarray:
    """Binary map of the prominent objects: large and near ones.

    Every visible instance gets ``score = area_fraction * nearest_mean_depth / mean_depth``; the
    instances scoring at least ``rel`` times the best (and covering ``min_area`` of the image) are
    salient.

    Args:
        instance: ``[H, W]`` instance ids (0 = stuff).
        depth: ``[H, W]`` depth in metres.
        num: number of instances (ids are ``1..num``).
        rel: relative score threshold.
        min_area: minimum area fraction of a salient object.

    Returns:
        ``[H, W]`` uint8 map with values 0 / 1.
    """
    flat = instance.ravel()
    area = np.bincount(flat, minlength=num + 1).astype(np.float64)
    dsum = np.bincount(flat, weights=depth.ravel(), minlength=num + 1)
    area[0] = 0.0
    vis = area > 0
    if not vis.any():
        return np.zeros(instance.shape, dtype=np.uint8)
    mean_d = np.where(vis, dsum / np.maximum(area, 1.0), np.inf)
    score = area / flat.size * (mean_d[vis].min() / mean_d)
    keep = (score >= rel * score.max()) & (area >= min_area * flat.size)
    keep[int(score.argmax())] = True
    keep[0] = False
    return keep[instance].astype(np.uint8)


def human_parts_map(instance: np.ndarray, part: np.ndarray, instances: List[dict]) -> np.ndarray:
    """The 6-group human-parts target, as the reference loader derives it from PASCAL-Part.

    Pixels of people whose parts are annotated get their group (1..6); everything else is 0. When
    no visible person has annotated parts, the whole map is 255 (ignored).
    """
    people = [d['id'] for d in instances if d['kind'] == 'person' and d['parts_annotated']
              and d['area'] > 0]
    if not people:
        return np.full(instance.shape, 255, dtype=np.uint8)
    mask = np.isin(instance, people)
    return np.where(mask, PART_TO_GROUP[part], 0).astype(np.uint8)
