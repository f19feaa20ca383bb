"""The upstream (pre-training) scene distribution.

Deliberately different from the downstream one: furniture of other NYUv2 classes and no people,
animals or vehicles, saturated palettes with bold checker / stripe / spot textures, coloured
lights with less ambient light, and a wider, lower, more tilted camera. Labels use the NYUD_MT
classes, so a backbone pre-trained on it learns depth, normals, boundaries and segmentation of
generic shapes, but not the downstream classes.
"""
import numpy as np

from .downstream import place_objects, sun
from .objects_things import build_thing
from .scene import (TEX_CHECKER, TEX_GRADIENT, TEX_NOISE, TEX_SPOTS, TEX_STRIPES, Camera, Light,
                    SceneBuilder, hsv)

__all__ = ['UP_RECIPES', 'sample_upstream']

# kind: (weight, weight, (min, max) forward distance, footprint radius)
UP_RECIPES = {
    'bed': (1.5, 0.2, (2.5, 6.0), 1.2), 'desk': (1.5, 0.3, (2.0, 6.0), 0.8),
    'bookshelf': (1.0, 0.1, (3.0, 7.0), 0.6), 'lamp': (1.0, 0.5, (2.0, 6.0), 0.3),
    'toilet': (0.8, 0.2, (1.8, 4.0), 0.45), 'bathtub': (0.6, 0.2, (2.5, 6.0), 1.0),
    'bag': (1.0, 0.6, (1.5, 4.0), 0.3), 'pillow': (0.8, 0.3, (1.5, 4.0), 0.35),
    'counter': (0.8, 0.2, (3.0, 7.0), 1.3), 'fridge': (0.8, 0.2, (3.0, 7.0), 0.55),
    'night stand': (1.0, 0.2, (2.0, 5.0), 0.35), 'dresser': (1.0, 0.2, (3.0, 7.0), 0.7),
    'sink': (0.6, 0.2, (2.0, 5.0), 0.45), 'box': (1.0, 1.5, (1.5, 6.0), 0.45),
    'ball': (0.8, 1.5, (1.5, 5.0), 0.35), 'barrel': (0.0, 1.0, (2.0, 8.0), 0.35),
    'cone': (0.0, 1.0, (2.0, 8.0), 0.2),
}


def _mat(sb: SceneBuilder, rng, emissive=False):
    tex = int(rng.choice([TEX_CHECKER, TEX_STRIPES, TEX_SPOTS, TEX_NOISE, TEX_GRADIENT]))
    return sb.material(hsv(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.5, 1.0)),
                       hsv(rng.random(), rng.uniform(0.6, 1.0), rng.uniform(0.2, 0.9)), tex,
                       freq=rng.uniform(2.0, 10.0), spec=rng.uniform(0.0, 0.8),
                       shine=rng.uniform(5, 60), emissive=emissive)


def _boxes(sb, obj, rng, spec):
    for half, centre in spec:
        sb.add(obj, 'box', half, centre, _mat(sb, rng))


def _build(sb: SceneBuilder, rng, kind, x, z, radius):
    yaw = np.pi + rng.normal(0, 0.6) if rng.random() < 0.6 else rng.uniform(0, 2 * np.pi)
    obj = sb.begin_object(kind, x, z, yaw, radius, 1.0)
    m = _mat(sb, rng)
    if kind == 'bed':
        w, length = rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.1)
        _boxes(sb, obj, rng, [((w, 0.22, length), (0, 0.22, 0)),
                              ((w, 0.45, 0.05), (0, 0.45, -length)),
                              ((w * 0.98, 0.06, length * 0.7), (0, 0.5, 0.25))])
    elif kind == 'desk':
        w = rng.uniform(0.5, 0.9)
        _boxes(sb, obj, rng, [((w, 0.025, 0.35), (0, 0.74, 0)),
                              ((0.025, 0.36, 0.33), (w - 0.03, 0.36, 0)),
                              ((0.2, 0.36, 0.33), (-w + 0.2, 0.36, 0))])
    elif kind in ('bookshelf', 'dresser', 'night stand', 'fridge', 'counter'):
        w, hgt, d = {'bookshelf': (0.45, 0.95, 0.18), 'dresser': (0.6, 0.45, 0.25),
                     'night stand': (0.25, 0.28, 0.2), 'fridge': (0.4, 0.9, 0.35),
                     'counter': (1.1, 0.45, 0.3)}[kind] * rng.uniform(0.8, 1.25, 3)
        sb.add(obj, 'box', (w, hgt, d), (0, hgt, 0), m)
        if kind == 'counter':
            sb.add(obj, 'box', (w + 0.02, 0.02, d + 0.02), (0, 2 * hgt + 0.02, 0), _mat(sb, rng))
        elif kind == 'fridge':
            sb.add(obj, 'box', (0.015, hgt * 0.4, 0.02), (w * 0.7, hgt * 1.2, d + 0.02),
                   _mat(sb, rng))
    elif kind == 'lamp':
        sb.add(obj, 'frustum', (0.22, 0.1, 0.16), (0, 1.4, 0), _mat(sb, rng, True))
        sb.add(obj, 'frustum', (0.025, 0.025, 0.65), (0, 0.65, 0), m)
        sb.add(obj, 'ellipsoid', (0.15, 0.04, 0.15), (0, 0.02, 0), m)
    elif kind == 'toilet':
        sb.add(obj, 'frustum', (0.14, 0.18, 0.17), (0, 0.17, 0.05), m)
        sb.add(obj, 'ellipsoid', (0.2, 0.08, 0.26), (0, 0.4, 0.08), m)
        sb.add(obj, 'box', (0.2, 0.2, 0.09), (0, 0.6, -0.2), m)
    elif kind == 'bathtub':
        sb.add(obj, 'box', (0.4, 0.28, 0.85), (0, 0.28, 0), m)
        sb.add(obj, 'ellipsoid', (0.36, 0.05, 0.8), (0, 0.56, 0), _mat(sb, rng))
    elif kind == 'sink':
        sb.add(obj, 'box', (0.35, 0.4, 0.25), (0, 0.4, 0), m)
        sb.add(obj, 'ellipsoid', (0.25, 0.06, 0.18), (0, 0.82, 0), _mat(sb, rng))
    elif kind == 'bag':
        s = rng.uniform(0.7, 1.4)
        sb.add(obj, 'ellipsoid', (0.2 * s, 0.2 * s, 0.1 * s), (0, 0.2 * s, 0), m)
        sb.limb(obj, [-0.12 * s, 0.35 * s, 0], [0.12 * s, 0.35 * s, 0], 0.03 * s, m)
    elif kind == 'pillow':
        sb.add(obj, 'ellipsoid', (0.3, 0.09, 0.22), (0, 0.09, 0), m)
    else:
        build_thing(sb, obj, rng, kind)


def _room(sb: SceneBuilder, rng):
    zw, xw, yc = rng.uniform(4.0, 9.0), rng.uniform(2.0, 4.0), rng.uniform(2.3, 3.0)
    floor = sb.material(hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.4, 0.9)),
                        hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.1, 0.6)),
                        TEX_CHECKER, freq=rng.uniform(0.8, 2.5))
    sb.plane((0, 1, 0), 0.0, sb.surface('floor', 0, '', floor, shadowed=True))
    back = sb.plane((0, 0, -1), -zw, sb.surface('wall', 0, '', _mat(sb, rng)))
    for s in (-1.0, 1.0):
        if rng.random() < 0.7:
            sb.plane((-s, 0, 0), -s * xw, sb.surface('wall', 0, '', _mat(sb, rng)))
    sb.plane((0, -1, 0), -yc, sb.surface('ceiling', 0, '', _mat(sb, rng)))
    for kind in ('whiteboard', 'blinds', 'mirror', 'picture', 'window', 'door'):
        if rng.random() < 0.3:
            w, h = rng.uniform(0.6, 1.8, 2)
            x0 = rng.uniform(-xw - 1, xw + 1 - w)
            y0 = 0.0 if kind == 'door' else rng.uniform(0.5, 1.2)
            sb.decal(back, (x0, y0, zw - 0.05), (x0 + w, y0 + h, zw + 0.05),
                     sb.surface(kind, 0, '', _mat(sb, rng, kind in ('window', 'mirror')),
                                sensor_valid=kind not in ('window', 'mirror')))
    return zw, xw


def sample_upstream(rng: np.random.Generator):
    """Sample an upstream scene. Returns ``(builder, camera, light, env)``."""
    env = 'room' if rng.random() < 0.8 else 'yard'
    cam = Camera(rng.uniform(0.7, 1.4), np.deg2rad(rng.uniform(-2, 25)),
                 np.deg2rad(rng.normal(0, 5)), np.deg2rad(rng.uniform(70, 90)))
    sb = SceneBuilder(rng)
    if env == 'room':
        limits = _room(sb, rng)
    else:
        limits = (1e9, 1e9)
        sb.plane((0, 1, 0), 0.0, sb.surface('ground', 0, '', _mat(sb, rng), shadowed=True),
                 max_range=60.0)
    col = 0 if env == 'room' else 1
    names = [k for k, v in UP_RECIPES.items() if v[col] > 0]
    w = np.array([UP_RECIPES[k][col] for k in names])
    kinds = [names[int(i)] for i in rng.choice(len(names), size=int(rng.integers(2, 7)),
                                               p=w / w.sum())]
    place_objects(sb, rng, kinds, UP_RECIPES, cam, limits, _build)
    light = Light(sun(rng, np.deg2rad(rng.uniform(15, 60))),
                  hsv(rng.random(), rng.uniform(0.2, 0.5), 1.0), rng.uniform(0.15, 0.35),
                  hsv(rng.random(), rng.uniform(0.3, 0.9), rng.uniform(0.5, 1.0)),
                  hsv(rng.random(), rng.uniform(0.1, 0.5), rng.uniform(0.6, 1.0)),
                  rng.uniform(2.0, 6.0), rng.uniform(0.8, 1.2))
    return sb, cam, light, env
