"""The downstream (benchmark) scene distribution: PASCAL-like indoor and outdoor scenes."""
from typing import Optional

import numpy as np

from .classes import KINDS
from .objects_people import QUADRUPEDS, build_bird, build_person, build_quadruped
from .objects_things import build_thing
from .scene import (TEX_CHECKER, TEX_GRADIENT, TEX_NOISE, TEX_STRIPES, Camera, Light, SceneBuilder,
                    hsv)

__all__ = ['RECIPES', 'sample_downstream', 'place_objects', 'sun', 'NEAR_FACTOR']

# Objects stand closer to the camera than in real photos (their distance ranges below are
# multiplied by NEAR_FACTOR) so that at the benchmark's 64x64 resolution they cover a PASCAL-like
# share of the image instead of a few pixels.
NEAR_FACTOR = 0.35

# kind: (indoor weight, outdoor weight, (min, max) forward distance in m, footprint radius in m)
RECIPES = {
    'chair': (3.0, 0.4, (2.0, 6.0), 0.35), 'diningtable': (2.0, 0.3, (3.0, 7.0), 0.8),
    'sofa': (2.0, 0.0, (3.5, 7.5), 1.1), 'tvmonitor': (2.0, 0.0, (2.0, 5.0), 0.3),
    'bottle': (1.5, 0.7, (1.2, 2.6), 0.15), 'pottedplant': (1.5, 0.8, (1.8, 5.0), 0.3),
    'cat': (1.5, 0.5, (1.5, 4.0), 0.3), 'dog': (1.2, 1.5, (2.0, 6.0), 0.5),
    'bird': (0.3, 1.2, (1.2, 3.0), 0.15), 'car': (0.0, 2.5, (5.0, 14.0), 2.4),
    'bus': (0.0, 1.2, (10.0, 22.0), 5.5), 'train': (0.0, 1.0, (16.0, 30.0), 11.0),
    'aeroplane': (0.0, 1.0, (15.0, 35.0), 6.0), 'boat': (0.0, 1.0, (6.0, 14.0), 3.5),
    'motorbike': (0.0, 1.2, (3.0, 9.0), 1.0), 'bicycle': (0.3, 1.2, (3.0, 8.0), 0.8),
    'horse': (0.0, 1.2, (4.0, 10.0), 1.1), 'cow': (0.0, 1.2, (4.0, 11.0), 1.1),
    'sheep': (0.0, 1.2, (3.0, 9.0), 0.6),
    'ball': (0.8, 0.8, (1.5, 5.0), 0.35), 'box': (1.0, 0.5, (1.5, 6.0), 0.4),
    'barrel': (0.0, 0.6, (3.0, 9.0), 0.35), 'bucket': (0.4, 0.4, (1.5, 4.0), 0.2),
    'cone': (0.0, 0.8, (2.5, 8.0), 0.2), 'cabinet': (0.8, 0.0, (4.0, 8.0), 0.7),
    'shelves': (0.6, 0.0, (4.0, 8.0), 0.7), 'lamp': (0.6, 0.0, (2.5, 7.0), 0.25),
}


def sun(rng, elevation) -> np.ndarray:
    """Unit vector towards a light at ``elevation`` (rad) and a random azimuth."""
    az = rng.uniform(0, 2 * np.pi)
    return np.array([np.cos(elevation) * np.cos(az), np.sin(elevation),
                     np.cos(elevation) * np.sin(az)])


def _build(sb: SceneBuilder, rng, kind, x, z, radius):
    y, yaw = 0.0, rng.uniform(0, 2 * np.pi)
    if kind == 'person':
        height = rng.uniform(1.55, 1.9) if rng.random() > 0.15 else rng.uniform(1.0, 1.35)
        obj = sb.begin_object(kind, x, z, np.pi + rng.normal(0, 0.9), radius, height,
                              parts_annotated=rng.random() > 0.05)
        build_person(sb, obj, rng, height)
        return
    if kind == 'train':
        yaw = rng.choice([-1, 1]) * np.pi / 2 + rng.normal(0, 0.3)
    if kind == 'aeroplane':
        y = rng.uniform(4.0, 14.0) if rng.random() < 0.6 else 0.95
    if kind == 'bird' and rng.random() < 0.3:
        y = rng.uniform(0.4, 1.8)
    if kind in ('cabinet', 'shelves', 'tvmonitor', 'sofa'):
        yaw = np.pi + rng.normal(0, 0.4)
    scale = {'bottle': rng.uniform(1.5, 3.0), 'pottedplant': rng.uniform(1.2, 2.8),
             'tvmonitor': rng.uniform(1.2, 2.2), 'bird': rng.uniform(1.2, 2.5)}.get(kind, 1.0)
    height = {'bus': 3.5, 'train': 4.2, 'aeroplane': 2.5, 'boat': 4.5, 'car': 1.6}.get(kind, 1.0)
    obj = sb.begin_object(kind, x, z, yaw, radius, height, y=y)
    if kind in QUADRUPEDS:
        build_quadruped(sb, obj, rng, kind, rng.uniform(0.8, 1.2))
    elif kind == 'bird':
        build_bird(sb, obj, rng, scale)
    else:
        build_thing(sb, obj, rng, kind, scale)


def place_objects(sb: SceneBuilder, rng, kinds, recipes, cam: Camera, limits, build) -> list:
    """Place ``kinds`` on the ground without overlaps, inside the view and the room ``limits``.

    ``limits`` is ``(max_z, max_abs_x)``; ``recipes[kind][2:4]`` give distance range and radius.
    Returns the ``(x, z, radius)`` footprints placed.
    """
    placed = []
    half = 0.8 * 0.5 * cam.fov
    for kind in kinds:
        (d0, d1), r = recipes[kind][2], recipes[kind][3]
        d1 = min(d1, limits[0] - r - 0.3)
        for _ in range(15):
            if d1 <= d0:
                break
            z = rng.uniform(d0, d1)
            x = z * np.tan(rng.uniform(-half, half))
            if abs(x) + r > limits[1] or any(np.hypot(x - px, z - pz) < r + pr
                                             for px, pz, pr in placed):
                continue
            placed.append((x, z, r))
            build(sb, rng, kind, x, z, r)
            break
    return placed


def _room(sb: SceneBuilder, rng):
    zw, xw, yc = rng.uniform(6.0, 11.0), rng.uniform(2.5, 5.0), rng.uniform(2.6, 3.2)
    floor_tex = int(rng.choice([TEX_STRIPES, TEX_CHECKER, TEX_NOISE]))
    floor_c = hsv(rng.uniform(0.04, 0.12), rng.uniform(0.2, 0.7), rng.uniform(0.25, 0.75))
    floor = sb.material(floor_c, floor_c * rng.uniform(0.6, 0.9), floor_tex,
                        freq=rng.uniform(1.0, 4.0), axis=(1, 0, 0))
    wall_c = hsv(rng.uniform(0.0, 0.2), rng.uniform(0.0, 0.3), rng.uniform(0.55, 0.95))
    wall = sb.material(wall_c, wall_c * 0.9, TEX_NOISE, freq=1.5)
    f = sb.plane((0, 1, 0), 0.0, sb.surface('floor', 0, '', floor, shadowed=True))
    back = sb.plane((0, 0, -1), -zw, sb.surface('wall', 0, '', wall))
    if rng.random() < 0.6:
        s = rng.choice([-1.0, 1.0])
        sb.plane((-s, 0, 0), -s * xw, sb.surface('wall', 0, '', wall))
    sb.plane((0, -1, 0), -yc, sb.surface('ceiling', 0, '', sb.material(wall_c * 1.05)))
    if rng.random() < 0.3:
        rug = sb.material(hsv(rng.random(), 0.6, 0.6), hsv(rng.random(), 0.6, 0.4), TEX_STRIPES)
        x0, z0 = rng.uniform(-2, 1), rng.uniform(1.5, 4)
        sb.decal(f, (x0, -0.05, z0), (x0 + rng.uniform(1, 2.5), 0.05, z0 + rng.uniform(1, 3)),
                 sb.surface('rug', 0, '', rug, shadowed=True))
    for kind, p in (('window', 0.6), ('door', 0.4), ('picture', 0.6), ('curtain', 0.15)):
        if rng.random() >= p:
            continue
        w, h = {'window': (1.6, 1.3), 'door': (1.0, 2.1), 'picture': (0.9, 0.7),
                'curtain': (1.2, 2.2)}[kind] * rng.uniform(0.7, 1.3, 2)
        x0 = rng.uniform(-zw * 0.5, zw * 0.5 - w)
        y0 = 0.0 if kind == 'door' else rng.uniform(0.4, 1.2)
        if kind == 'window':
            m = sb.material(hsv(0.57, 0.25, 1.0), hsv(0.3, 0.4, 0.6), TEX_GRADIENT, emissive=True)
        elif kind == 'door':
            m = sb.material(hsv(0.08, 0.5, rng.uniform(0.3, 0.7)), tex=TEX_STRIPES, freq=3.0,
                            axis=(0, 1, 0))
        else:
            m = sb.material(hsv(rng.random(), 0.7, 0.8), hsv(rng.random(), 0.7, 0.3),
                            TEX_NOISE if kind == 'picture' else TEX_STRIPES, freq=5.0,
                            axis=(1, 0, 0))
        sb.decal(back, (x0, y0, zw - 0.05), (x0 + w, y0 + h, zw + 0.05),
                 sb.surface(kind, 0, '', m, sensor_valid=kind != 'window'))
    return zw, xw


def _outdoor(sb: SceneBuilder, rng, cam: Camera):
    kind = 'grass' if rng.random() < 0.5 else 'ground'
    c = hsv(rng.uniform(0.2, 0.35), rng.uniform(0.4, 0.8), rng.uniform(0.25, 0.6)) \
        if kind == 'grass' else hsv(rng.uniform(0.05, 0.12), rng.uniform(0.2, 0.5),
                                    rng.uniform(0.3, 0.7))
    g = sb.plane((0, 1, 0), 0.0, sb.surface(kind, 0, '', sb.material(c, c * 0.75, TEX_NOISE,
                                                                      freq=2.0), shadowed=True),
                 max_range=80.0)
    if rng.random() < 0.5:
        x0, w = rng.uniform(-8, 3), rng.uniform(4, 8)
        asphalt = sb.material(hsv(0, 0, rng.uniform(0.2, 0.45)), tex=TEX_NOISE, freq=6.0)
        sb.decal(g, (x0, -0.05, -1.0), (x0 + w, 0.05, 500.0),
                 sb.surface('road', 0, '', asphalt, shadowed=True))
    for _ in range(int(rng.integers(0, 4))):
        z, w, h, d = rng.uniform(22, 45), rng.uniform(5, 15), rng.uniform(5, 18), rng.uniform(5, 10)
        obj = sb.begin_object('building', z * np.tan(rng.uniform(-0.7, 0.7) * cam.fov), z,
                              rng.normal(0, 0.3), 1.0, h)
        m = sb.material(hsv(rng.uniform(0, 0.15), rng.uniform(0, 0.4), rng.uniform(0.4, 0.9)),
                        hsv(0.6, 0.3, 0.2), TEX_CHECKER, freq=rng.uniform(0.3, 0.6))
        sb.add(obj, 'box', (w / 2, h / 2, d / 2), (0, h / 2, 0), m)
    return g


def _trees(sb: SceneBuilder, rng, cam: Camera, placed):
    for _ in range(int(rng.integers(0, 4))):
        z = rng.uniform(9.0, 30.0)
        x = z * np.tan(rng.uniform(-0.6, 0.6) * cam.fov)
        if any(np.hypot(x - px, z - pz) < pr + 2.5 for px, pz, pr in placed):
            continue
        obj = sb.begin_object('tree', x, z, 0.0, 1.0, 4)
        bark = sb.material(hsv(0.07, 0.5, rng.uniform(0.15, 0.35)))
        leaf = sb.material(hsv(rng.uniform(0.2, 0.38), 0.7, rng.uniform(0.2, 0.5)), tex=TEX_NOISE,
                           freq=3.0)
        trunk = rng.uniform(1.2, 2.5)
        sb.add(obj, 'frustum', (0.2, 0.15, trunk / 2), (0, trunk / 2, 0), bark)
        r = rng.uniform(1.0, 2.5)
        if rng.random() < 0.5:
            crown = (r, r * rng.uniform(0.9, 1.5), r)
            sb.add(obj, 'ellipsoid', crown, (0, trunk + r * 0.8, 0), leaf)
        else:
            sb.add(obj, 'frustum', (r, 0.0, r * 1.4), (0, trunk + r * 1.2, 0), leaf)


def _kinds(rng, env: str, first_voc: bool):
    col = 0 if env == 'indoor' else 1
    names = [k for k, v in RECIPES.items() if v[col] > 0 and (KINDS[k].voc or not first_voc)]
    w = np.array([RECIPES[k][col] for k in names])
    return names[int(rng.choice(len(names), p=w / w.sum()))]


def sample_downstream(rng: np.random.Generator, env: Optional[str] = None):
    """Sample a downstream scene. Returns ``(builder, camera, light, env)``."""
    env = env or ('indoor' if rng.random() < 0.55 else 'outdoor')
    cam = Camera(rng.uniform(1.2, 1.7) if env == 'indoor' else rng.uniform(1.3, 1.9),
                 np.deg2rad(rng.uniform(3, 18)), np.deg2rad(rng.normal(0, 2)),
                 np.deg2rad(rng.uniform(50, 65)))
    sb = SceneBuilder(rng)
    limits = _room(sb, rng) if env == 'indoor' else (1e9, 1e9)
    if env == 'outdoor':
        _outdoor(sb, rng, cam)
    kinds = ['person' if rng.random() < 0.5 else _kinds(rng, env, True)]
    for _ in range(int(rng.choice(4, p=[0.25, 0.35, 0.25, 0.15]))):
        kinds.append('person' if rng.random() < 0.25 else _kinds(rng, env, False))
    recipes = {k: (wi, wo, (d0 * NEAR_FACTOR, d1 * NEAR_FACTOR), r) for k, (wi, wo, (d0, d1), r)
               in dict(RECIPES, person=(0, 0, (2.5, 9.0), 0.4)).items()}
    placed = place_objects(sb, rng, kinds, recipes, cam, limits, _build)
    if env == 'outdoor':
        _trees(sb, rng, cam, placed)
    elev = np.deg2rad(rng.uniform(35, 80) if env == 'indoor' else rng.uniform(20, 70))
    light = Light(sun(rng, elev), hsv(rng.uniform(0.08, 0.15), rng.uniform(0.0, 0.2), 1.0),
                  rng.uniform(0.3, 0.5) if env == 'indoor' else rng.uniform(0.25, 0.45),
                  hsv(rng.uniform(0.55, 0.62), rng.uniform(0.4, 0.8), rng.uniform(0.7, 1.0)),
                  hsv(rng.uniform(0.55, 0.62), rng.uniform(0.05, 0.3), rng.uniform(0.85, 1.0)),
                  rng.uniform(1.0, 4.0), rng.uniform(0.85, 1.15))
    return sb, cam, light, env
