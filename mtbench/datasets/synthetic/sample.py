"""Seeded scene sampling and rendering of one synthetic sample with all its labels."""
from typing import Optional, Tuple

import numpy as np

from .classes import KINDS, PART_NAMES
from .downstream import sample_downstream
from .labels import boundary_map, human_parts_map, saliency_map
from .render import kind_labels, render
from .scene import Scene
from .upstream import sample_upstream

__all__ = ['FAMILIES', 'build_scene', 'render_scene']

FAMILIES = {'downstream': 1, 'upstream': 2}
_MIN_AREA = 4  # pixels of a visible object that makes a scene acceptable


def build_scene(seed: int, family: str = 'downstream', env: Optional[str] = None,
                attempt: int = 0) -> Tuple[Scene, np.random.Generator]:
    """Sample the scene description for ``seed`` (and the generator left for sensor noise).

    Args:
        seed: non-negative integer.
        family: ``'downstream'`` or ``'upstream'``.
        env: downstream only: force ``'indoor'`` or ``'outdoor'`` scenes.
        attempt: re-draw index (used when a draw shows no object).
    """
    if family not in FAMILIES:
        raise ValueError(f'unknown family {family!r}; expected one of {sorted(FAMILIES)}')
    if env not in (None, 'indoor', 'outdoor'):
        raise ValueError(f"env must be None, 'indoor' or 'outdoor', got {env!r}")
    if int(seed) < 0:
        raise ValueError(f'seed must be non-negative, got {seed}')
    rng = np.random.default_rng([int(seed), FAMILIES[family], int(attempt)])
    if family == 'downstream':
        sb, cam, light, env = sample_downstream(rng, env)
    else:
        sb, cam, light, env = sample_upstream(rng)
    sky = sb.surface('sky', 0, '', sb.material(light.sky_top), sensor_valid=False)
    scene = Scene(family, env, cam, light, sb.materials, sb.surfaces, sb.primitives, sb.planes,
                  sb.decals, sb.instances, sky)
    return scene, rng


def render_scene(seed: int, size: Tuple[int, int] = (64, 64), family: str = 'downstream',
                 env: Optional[str] = None) -> dict:
    """Render the synthetic sample ``seed`` with every label, as raw arrays.

    Args:
        seed: non-negative integer; the same seed always gives the same sample.
        size: ``(H, W)`` in pixels.
        family: ``'downstream'`` (benchmark scenes) or ``'upstream'`` (pre-training scenes).
        env: downstream only: force ``'indoor'`` or ``'outdoor'``.

    Returns:
        dict with

        * ``image`` uint8 [H, W, 3] RGB;
        * ``depth`` float32 [H, W], camera z in metres, 0 where nothing is hit (sky);
        * ``normals`` float32 [H, W, 3], unit, camera frame x right / y up / z towards camera,
          zero where nothing is hit;
        * ``sensor_valid`` bool [H, W]: False on sky, windows and mirrors (NYUD writes 0 there);
        * ``semseg`` uint8 VOC-21 ids, ``context`` uint16 PASCAL-Context ids, ``nyu`` uint8
          NYUv2-40 ids (0 unlabeled);
        * ``instance`` int32 (0 = stuff), ``part`` uint8 index into :data:`PART_NAMES`;
        * ``human_parts`` uint8 (0 background, 1..6, or all 255 without annotated people);
        * ``saliency`` and ``edge`` uint8 0 / 1;
        * ``instances``: list of dicts (``id``, ``kind``, ``voc``, ``context``, ``nyu``,
          ``parts_annotated``, ``area``);
        * ``intrinsics`` (``fx``, ``fy``, ``cx``, ``cy``), ``family``, ``env``, ``seed``.
    """
    size = (int(size[0]), int(size[1]))
    for attempt in range(32):
        scene, rng = build_scene(seed, family, env, attempt)
        out = render(scene, size, rng)
        area = np.bincount(out['instance'].ravel(), minlength=len(scene.instances) + 1)
        need_voc = family == 'downstream'
        if any(area[i.id] >= _MIN_AREA and (KINDS[i.kind].voc > 0 or not need_voc)
               for i in scene.instances):
            break
    voc, ctx, nyu = kind_labels(out.pop('kind'))
    instances = [{'id': i.id, 'kind': i.kind, 'voc': KINDS[i.kind].voc,
                  'context': KINDS[i.kind].context, 'nyu': KINDS[i.kind].nyu,
                  'parts_annotated': bool(i.parts_annotated), 'area': int(area[i.id])}
                 for i in scene.instances]
    key = ctx.astype(np.int64) * 4096 + out['instance']
    out.update(
        semseg=voc, context=ctx, nyu=nyu, instances=instances,
        human_parts=human_parts_map(out['instance'], out['part'], instances),
        saliency=saliency_map(out['instance'], out['depth'], len(instances)),
        edge=boundary_map(key, out['depth'], out['surface']),
        family=family, env=scene.env, seed=int(seed), part_names=PART_NAMES)
    return out
