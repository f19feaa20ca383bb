"""Recipes for rigid things of the downstream family: vehicles, furniture and small objects."""
import numpy as np

from .geometry import rot_x, rot_z
from .scene import (TEX_CHECKER, TEX_GRADIENT, TEX_NOISE, TEX_PLAIN, TEX_STRIPES, ObjectFrame,
                    SceneBuilder, hsv)

__all__ = ['build_thing']

_AXLE = rot_z(np.pi / 2)  # local y (frustum axis) -> object x: wheels
_FWD = rot_x(np.pi / 2)  # local y -> object z: noses, barrels lying along the object


def _paint(sb, rng, spec=0.5):
    return sb.material(hsv(rng.random(), rng.uniform(0.3, 0.95), rng.uniform(0.3, 0.95)),
                       spec=spec, shine=40.0)


def _wood(sb, rng):
    c = hsv(rng.uniform(0.05, 0.11), rng.uniform(0.35, 0.75), rng.uniform(0.25, 0.75))
    return sb.material(c, c * 0.7, TEX_STRIPES, freq=rng.uniform(8, 20), axis=(1, 0, 0.2))


def _wheels(sb, obj, rng, xs, zs, r, half_width, names):
    tyre = sb.material(hsv(0, 0, rng.uniform(0.03, 0.12)), spec=0.1)
    for (x, z), name in zip([(x, z) for z in zs for x in xs], names):
        sb.add(obj, 'frustum', (r, r, half_width), (x, r, z), tyre, name, _AXLE)


def _vehicle(sb, obj, rng, kind):
    if kind == 'car':
        w, h, length = rng.uniform(1.6, 1.9), rng.uniform(0.55, 0.75), rng.uniform(3.6, 4.8)
        clear = 0.3
    elif kind == 'bus':
        w, h, length, clear = 2.5, rng.uniform(2.6, 3.2), rng.uniform(9.0, 12.0), 0.45
    else:
        w, h, length, clear = 3.0, rng.uniform(3.2, 3.8), rng.uniform(16.0, 24.0), 0.6
    paint = _paint(sb, rng)
    if kind == 'car':
        sb.add(obj, 'box', (w / 2, h / 2, length / 2), (0, clear + h / 2, 0), paint)
        glass = sb.material(hsv(0.6, 0.3, rng.uniform(0.1, 0.3)), spec=0.9, shine=60.0)
        sb.add(obj, 'box', (0.43 * w, rng.uniform(0.2, 0.28), 0.27 * length),
               (0, clear + h + 0.22, -0.05 * length), glass)
    else:
        body = sb.material(sb.materials[paint].c1, hsv(0.6, 0.3, 0.15), TEX_CHECKER,
                           freq=rng.uniform(0.8, 1.3), axis=(0, 1, 0), spec=0.4)
        sb.add(obj, 'box', (w / 2, h / 2, length / 2), (0, clear + h / 2, 0), body)
        sb.add(obj, 'frustum', (w / 2, w / 2, length / 2), (0, clear + h - 0.25 * w, 0), paint, '',
               _FWD)
    nz = [-0.33 * length, 0.33 * length] if kind != 'train' else [-0.4 * length, 0.4 * length]
    _wheels(sb, obj, rng, (w / 2, -w / 2), nz, 0.32 if kind == 'car' else 0.5, 0.12,
            ('wheel_1', 'wheel_2', 'wheel_3', 'wheel_4'))


def _cycle(sb, obj, rng, motor):
    r, hw = (0.32, 0.07) if motor else (0.34, 0.02)
    wb = rng.uniform(1.0, 1.4)
    frame = _paint(sb, rng, 0.6)
    _wheels(sb, obj, rng, (0.0,), (wb / 2, -wb / 2), r, hw, ('fwheel', 'bwheel'))
    seat = np.array([0.0, r + 0.5, -0.15 * wb])
    bar = np.array([0.0, r + 0.6, 0.42 * wb])
    if motor:
        sb.add(obj, 'ellipsoid', (0.2, 0.22, 0.5 * wb), (0, r + 0.22, 0.05), frame, 'body')
    sb.limb(obj, [0, r, -wb / 2], seat, 0.03 if not motor else 0.06, frame)
    sb.limb(obj, seat - [0, 0.1, 0], bar - [0, 0.1, 0], 0.03 if not motor else 0.08, frame)
    sb.limb(obj, bar, [0, r, wb / 2], 0.025, frame)
    dark = sb.material(hsv(0, 0, 0.1))
    sb.add(obj, 'box', (0.09, 0.03, 0.14), seat + [0, 0.03, 0], dark, 'saddle')
    sb.add(obj, 'frustum', (0.02, 0.02, 0.28), bar, dark, 'handlebar', _AXLE)


def _furniture(sb, obj, rng, kind):
    mat = _wood(sb, rng) if rng.random() < 0.6 else _paint(sb, rng, 0.2)
    if kind == 'chair':
        s = rng.uniform(0.4, 0.5)
        sb.add(obj, 'box', (s / 2, 0.03, s / 2), (0, 0.45, 0), mat)
        sb.add(obj, 'box', (s / 2, 0.25, 0.025), (0, 0.73, -s / 2 + 0.025), mat)
        for x in (-1, 1):
            for z in (-1, 1):
                leg = (x * (s / 2 - 0.03), 0.21, z * (s / 2 - 0.03))
                sb.add(obj, 'box', (0.025, 0.21, 0.025), leg, mat)
    elif kind == 'diningtable':
        w, d, h = rng.uniform(1.0, 1.8), rng.uniform(0.7, 1.0), rng.uniform(0.7, 0.78)
        sb.add(obj, 'box', (w / 2, 0.03, d / 2), (0, h - 0.03, 0), mat)
        for x in (-1, 1):
            for z in (-1, 1):
                sb.add(obj, 'box', (0.04, h / 2 - 0.03, 0.04), (x * (w / 2 - 0.08), h / 2 - 0.03,
                                                               z * (d / 2 - 0.08)), mat)
    else:  # sofa
        fabric = sb.material(hsv(rng.random(), rng.uniform(0.1, 0.7), rng.uniform(0.2, 0.8)),
                             tex=TEX_NOISE, freq=10.0)
        w = rng.uniform(1.6, 2.3)
        sb.add(obj, 'box', (w / 2, 0.21, 0.42), (0, 0.21, 0), fabric)
        sb.add(obj, 'box', (w / 2, 0.24, 0.1), (0, 0.62, -0.33), fabric)
        for x in (-1, 1):
            sb.add(obj, 'box', (0.1, 0.14, 0.42), (x * (w / 2 - 0.1), 0.52, 0), fabric)


def _small(sb, obj, rng, kind, s):
    if kind == 'bottle':
        glass = sb.material(hsv(rng.choice([0.3, 0.08, 0.55]), rng.uniform(0.4, 0.9),
                                rng.uniform(0.2, 0.6)), spec=0.9, shine=50.0)
        label = sb.material(hsv(rng.random(), 0.6, 0.9), sb.materials[glass].c1, TEX_GRADIENT)
        sb.add(obj, 'frustum', (0.04 * s, 0.04 * s, 0.09 * s), (0, 0.09 * s, 0), label, 'body')
        sb.add(obj, 'frustum', (0.04 * s, 0.014 * s, 0.06 * s), (0, 0.24 * s, 0), glass, 'body')
        sb.add(obj, 'frustum', (0.015 * s, 0.015 * s, 0.015 * s), (0, 0.315 * s, 0),
               _paint(sb, rng), 'cap')
    elif kind == 'pottedplant':
        pot = sb.material(hsv(rng.uniform(0.02, 0.08), 0.6, rng.uniform(0.4, 0.8)))
        green = hsv(rng.uniform(0.22, 0.38), rng.uniform(0.5, 0.9), rng.uniform(0.2, 0.6))
        leaf = sb.material(green, tex=TEX_NOISE, freq=25.0 / s)
        sb.add(obj, 'frustum', (0.12 * s, 0.16 * s, 0.09 * s), (0, 0.09 * s, 0), pot, 'pot')
        for _ in range(int(rng.integers(1, 4))):
            off = rng.normal(0, 0.06 * s, 3)
            sb.add(obj, 'ellipsoid', rng.uniform(0.12, 0.22, 3) * s,
                   (off[0], 0.3 * s + abs(off[1]), off[2]), leaf, 'plant')
    else:  # tvmonitor
        frame = sb.material(hsv(0, 0, rng.uniform(0.05, 0.3)), spec=0.4)
        screen = sb.material(hsv(rng.random(), 0.5, rng.uniform(0.3, 0.9)),
                             hsv(rng.random(), 0.7, 0.3), TEX_NOISE, freq=8.0, emissive=True)
        w, h, y = 0.5 * s, 0.3 * s, rng.uniform(0.8, 1.2)
        sb.add(obj, 'box', (w, h, 0.03 * s), (0, y, 0), frame, 'tvframe')
        sb.add(obj, 'box', (0.92 * w, 0.88 * h, 0.004), (0, y, 0.031 * s), screen, 'screen')
        sb.add(obj, 'frustum', (0.03, 0.03, (y - h) / 2), (0, (y - h) / 2, -0.01), frame)
        sb.add(obj, 'box', (0.2, 0.015, 0.15), (0, 0.015, 0), frame)


def _other(sb, obj, rng, kind):
    if kind == 'aeroplane':
        s = rng.uniform(0.6, 1.0)
        paint = sb.material(hsv(rng.random(), rng.uniform(0, 0.3), rng.uniform(0.7, 1.0)),
                            hsv(rng.random(), 0.8, 0.6), TEX_GRADIENT, spec=0.6)
        sb.add(obj, 'ellipsoid', (0.9 * s, 0.9 * s, 6 * s), (0, 0, 0), paint, 'body')
        for name, sx in (('lwing', 1), ('rwing', -1)):
            sb.add(obj, 'box', (3.5 * s, 0.12 * s, 1.0 * s), (sx * 3.8 * s, -0.2 * s, 0.3 * s),
                   paint, name)
        sb.add(obj, 'box', (0.1 * s, 1.0 * s, 0.8 * s), (0, 1.2 * s, -5.0 * s), paint, 'stern')
        sb.add(obj, 'box', (1.8 * s, 0.08 * s, 0.5 * s), (0, 0.3 * s, -5.1 * s), paint, 'stern')
    elif kind == 'boat':
        hull = _paint(sb, rng, 0.3)
        white = sb.material(hsv(0, 0, rng.uniform(0.8, 1.0)), tex=TEX_NOISE, freq=3.0)
        w, length = rng.uniform(1.6, 2.6), rng.uniform(4.0, 7.0)
        sb.add(obj, 'box', (w / 2, 0.45, length / 2), (0, 0.45, 0), hull)
        sb.add(obj, 'frustum', (w / 2, 0.0, 0.9), (0, 0.55, length / 2 + 0.9), hull, '', _FWD)
        sb.add(obj, 'box', (w / 3, 0.4, length / 6), (0, 1.3, -length / 8), white)
        sb.add(obj, 'frustum', (0.05, 0.05, 2.5), (0, 3.4, 0.1 * length), white)
        sb.add(obj, 'box', (0.02, 2.0, 1.0), (0, 3.3, -0.6 + 0.1 * length), white)
    elif kind in ('ball', 'box', 'barrel', 'bucket', 'cone'):
        c = hsv(rng.random(), rng.uniform(0.3, 1.0), rng.uniform(0.3, 1.0))
        tex = int(rng.choice([TEX_PLAIN, TEX_STRIPES, TEX_CHECKER]))
        m = sb.material(c, hsv(rng.random(), 0.2, 0.95), tex, freq=rng.uniform(3, 9), spec=0.3)
        if kind == 'ball':
            r = rng.uniform(0.1, 0.35)
            sb.add(obj, 'ellipsoid', (r, r, r), (0, r, 0), m)
        elif kind == 'box':
            e = rng.uniform(0.12, 0.4, 3)
            card = sb.material(hsv(0.09, 0.5, rng.uniform(0.4, 0.8)), tex=TEX_NOISE, freq=12.0)
            sb.add(obj, 'box', e, (0, e[1], 0), card)
        elif kind == 'barrel':
            sb.add(obj, 'frustum', (0.3, 0.3, 0.45), (0, 0.45, 0), m)
        elif kind == 'bucket':
            sb.add(obj, 'frustum', (0.13, 0.17, 0.15), (0, 0.15, 0), m)
        else:
            orange = sb.material(hsv(0.06, 0.9, 0.95), hsv(0, 0, 0.95), TEX_STRIPES, freq=6.0,
                                 axis=(0, 1, 0))
            sb.add(obj, 'frustum', (0.17, 0.03, 0.35), (0, 0.35, 0), orange)
    elif kind in ('cabinet', 'shelves', 'lamp'):
        if kind == 'lamp':
            shade = sb.material(hsv(rng.uniform(0.05, 0.15), 0.3, 0.95), emissive=True)
            metal = sb.material(hsv(0, 0, 0.5), spec=0.8)
            sb.add(obj, 'frustum', (0.2, 0.12, 0.15), (0, 1.55, 0), shade)
            sb.add(obj, 'frustum', (0.02, 0.02, 0.72), (0, 0.72, 0), metal)
            sb.add(obj, 'frustum', (0.18, 0.18, 0.02), (0, 0.02, 0), metal)
        else:
            m = sb.material(hsv(rng.random(), 0.4, rng.uniform(0.3, 0.8)),
                            hsv(rng.random(), 0.6, 0.3), TEX_STRIPES, freq=rng.uniform(2, 4),
                            axis=(0, 1, 0))
            w, h = rng.uniform(0.6, 1.4), rng.uniform(0.8, 2.0)
            sb.add(obj, 'box', (w / 2, h / 2, 0.22), (0, h / 2, 0), m)


def build_thing(sb: SceneBuilder, obj: ObjectFrame, rng: np.random.Generator, kind: str,
                scale: float = 1.0) -> None:
    """Build a rigid object of ``kind`` in the frame ``obj``."""
    if kind in ('car', 'bus', 'train'):
        _vehicle(sb, obj, rng, kind)
    elif kind in ('bicycle', 'motorbike'):
        _cycle(sb, obj, rng, kind == 'motorbike')
    elif kind in ('chair', 'diningtable', 'sofa'):
        _furniture(sb, obj, rng, kind)
    elif kind in ('bottle', 'pottedplant', 'tvmonitor'):
        _small(sb, obj, rng, kind, scale)
    else:
        _other(sb, obj, rng, kind)
