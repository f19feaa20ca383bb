"""Recipes for articulated things of the downstream family: people, animals, birds.

A person is 16 primitives tagged with real PASCAL-Part part names (``head``, ``hair``, ``neck``,
``torso``, ``luarm``/``ruarm``, ``llarm``/``rlarm``, ``lhand``/``rhand``, ``luleg``/``ruleg``,
``llleg``/``rlleg``, ``lfoot``/``rfoot``), so the 6-group mapping of the loader is exercised.
"""
import numpy as np

from .geometry import rot_x
from .scene import TEX_NOISE, TEX_PLAIN, TEX_SPOTS, TEX_STRIPES, ObjectFrame, SceneBuilder, hsv

__all__ = ['build_person', 'build_quadruped', 'build_bird', 'QUADRUPEDS']


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.sqrt(v.dot(v))


def _bend(direction: np.ndarray, angle: float) -> np.ndarray:
    """Rotate ``direction`` towards +z (the object's front) by ``angle`` radians."""
    fwd = np.array([0.0, 0.0, 1.0]) - direction * direction[2]
    n = np.sqrt(fwd.dot(fwd))
    fwd = fwd / n if n > 1e-6 else np.array([0.0, 1.0, 0.0])
    return _unit(direction * np.cos(angle) + fwd * np.sin(angle))


def _cloth(sb: SceneBuilder, rng) -> int:
    c1 = hsv(rng.random(), rng.uniform(0.15, 0.9), rng.uniform(0.2, 0.95))
    tex = int(rng.choice([TEX_PLAIN, TEX_PLAIN, TEX_STRIPES, TEX_NOISE]))
    c2 = c1 * rng.uniform(0.4, 0.8) if rng.random() < 0.7 else hsv(rng.random(), 0.5, 0.8)
    return sb.material(c1, c2, tex, freq=rng.uniform(6, 14), axis=(0, 1, 0))


def build_person(sb: SceneBuilder, obj: ObjectFrame, rng: np.random.Generator,
                 height: float) -> None:
    """A standing / walking person of the given height (metres)."""
    h = height
    skin = sb.material(hsv(rng.uniform(0.03, 0.09), rng.uniform(0.25, 0.6),
                           rng.uniform(0.35, 0.95)), tex=TEX_NOISE, freq=20.0)
    hair = sb.material(hsv(rng.uniform(0.04, 0.12), rng.uniform(0.3, 0.8), rng.uniform(0.08, 0.7)),
                       tex=TEX_NOISE, freq=30.0)
    shirt = _cloth(sb, rng)
    pants = sb.material(hsv(rng.uniform(0.55, 0.7), rng.uniform(0.1, 0.6), rng.uniform(0.1, 0.5)),
                        tex=TEX_NOISE, freq=12.0)
    shoes = sb.material(hsv(rng.random(), 0.3, rng.uniform(0.05, 0.35)), spec=0.3)
    upper_mat = shirt if rng.random() < 0.85 else skin
    lower_mat = shirt if upper_mat == shirt and rng.random() < 0.6 else skin
    for side, sx in (('l', 1.0), ('r', -1.0)):
        swing = rng.normal(0.0, 0.25)
        hip = np.array([sx * 0.06 * h, 0.52 * h, 0.0])
        thigh = _unit([sx * 0.05, -np.cos(swing), np.sin(swing)])
        knee = hip + 0.245 * h * thigh
        ankle = knee + 0.235 * h * _bend(thigh, -abs(rng.normal(0.0, 0.35)))
        ankle[1] = max(ankle[1], 0.045 * h)
        sb.limb(obj, hip, knee, 0.058 * h, pants, side + 'uleg')
        sb.limb(obj, knee, ankle, 0.042 * h, pants, side + 'lleg')
        sb.add(obj, 'box', (0.03 * h, 0.022 * h, 0.062 * h),
               ankle + np.array([0.0, -0.022 * h, 0.035 * h]), shoes, side + 'foot')
        shoulder = np.array([sx * 0.145 * h, 0.795 * h, 0.0])
        abd, sw = rng.uniform(0.05, 0.8), rng.normal(0.0, 0.45)
        upper = _unit([sx * np.sin(abd), -np.cos(abd) * np.cos(sw), np.cos(abd) * np.sin(sw)])
        elbow = shoulder + 0.165 * h * upper
        lower = _bend(upper, rng.uniform(0.0, 1.7))
        wrist = elbow + 0.145 * h * lower
        sb.limb(obj, shoulder, elbow, 0.037 * h, upper_mat, side + 'uarm')
        sb.limb(obj, elbow, wrist, 0.031 * h, lower_mat, side + 'larm')
        sb.add(obj, 'ellipsoid', (0.028 * h, 0.038 * h, 0.02 * h), wrist + 0.03 * h * lower, skin,
               side + 'hand')
    sb.add(obj, 'ellipsoid', (0.125 * h, 0.165 * h, 0.078 * h), (0.0, 0.665 * h, 0.0), shirt,
           'torso')
    sb.add(obj, 'frustum', (0.032 * h, 0.03 * h, 0.03 * h), (0.0, 0.835 * h, 0.0), skin, 'neck')
    sb.add(obj, 'ellipsoid', (0.056 * h, 0.067 * h, 0.062 * h), (0.0, 0.905 * h, 0.004 * h), skin,
           'head')
    if rng.random() < 0.9:
        sb.add(obj, 'ellipsoid', (0.061 * h, 0.056 * h, 0.064 * h),
               (0.0, 0.93 * h, -0.014 * h), hair, 'hair')


# species: body length, body radius, leg length, neck length, head radius, colours, texture
QUADRUPEDS = {
    'dog': (0.8, 0.17, 0.4, 0.18, 0.11, ((0.05, 0.12), (0.3, 0.8), (0.15, 0.8)), TEX_SPOTS),
    'cat': (0.5, 0.1, 0.22, 0.08, 0.075, ((0.0, 0.12), (0.0, 0.7), (0.2, 0.9)), TEX_STRIPES),
    'sheep': (1.0, 0.3, 0.38, 0.15, 0.12, ((0.08, 0.14), (0.0, 0.15), (0.75, 0.95)), TEX_NOISE),
    'cow': (1.9, 0.45, 0.72, 0.3, 0.2, ((0.0, 0.1), (0.0, 0.1), (0.8, 0.95)), TEX_SPOTS),
    'horse': (1.9, 0.38, 0.95, 0.6, 0.17, ((0.04, 0.1), (0.4, 0.8), (0.15, 0.6)), TEX_NOISE),
}


def build_quadruped(sb: SceneBuilder, obj: ObjectFrame, rng: np.random.Generator, species: str,
                    scale: float) -> None:
    """A four-legged animal (``species`` in :data:`QUADRUPEDS`) scaled by ``scale``."""
    length, r, leg, neck, head, (hr, sr, vr), tex = QUADRUPEDS[species]
    length, r, leg, neck, head = (v * scale for v in (length, r, leg, neck, head))
    c1 = hsv(rng.uniform(*hr), rng.uniform(*sr), rng.uniform(*vr))
    c2 = hsv(rng.uniform(*hr), rng.uniform(*sr), rng.uniform(0.02, 0.3))
    fur = sb.material(c1, c2, tex, freq=rng.uniform(3, 8) / scale)
    dark = sb.material(c1 * 0.6 if species != 'sheep' else hsv(0.08, 0.3, 0.15))
    body_y = leg + 0.75 * r
    sb.add(obj, 'ellipsoid', (0.85 * r, r, 0.5 * length), (0.0, body_y, 0.0), fur, 'torso')
    for name, sx, sz in (('lfleg', 1, 1), ('rfleg', -1, 1), ('lbleg', 1, -1), ('rbleg', -1, -1)):
        swing = rng.normal(0.0, 0.2)
        top = np.array([sx * 0.5 * r, body_y - 0.3 * r, sz * 0.33 * length])
        foot = top + (leg + 0.45 * r) * _unit([0.0, -1.0, np.tan(swing)])
        sb.limb(obj, top, foot, 0.2 * r, dark if species == 'sheep' else fur, name)
    base = np.array([0.0, body_y + 0.45 * r, 0.45 * length])
    up = rng.uniform(0.3, 1.1)
    tip = base + neck * _unit([rng.normal(0, 0.3), np.sin(up) + 0.2, np.cos(up)])
    sb.limb(obj, base, tip, 0.45 * r if species != 'cat' else 0.6 * r, fur, 'head')
    face = dark if species == 'sheep' else fur
    sb.add(obj, 'ellipsoid', (0.8 * head, 0.85 * head, 1.25 * head),
           tip + [0, 0.2 * head, 0.4 * head], face, 'head', rot_x(rng.uniform(-0.3, 0.4)))
    tail_a = np.array([0.0, body_y + 0.3 * r, -0.48 * length])
    tail_b = tail_a + length * 0.35 * _unit([rng.normal(0, 0.4), rng.uniform(-1.0, 0.6), -0.6])
    sb.limb(obj, tail_a, tail_b, 0.08 * r if species != 'sheep' else 0.2 * r, fur, 'tail')


def build_bird(sb: SceneBuilder, obj: ObjectFrame, rng: np.random.Generator, scale: float) -> None:
    """A small bird (body, head, beak, tail) scaled by ``scale``."""
    s = scale
    feathers = sb.material(hsv(rng.random(), rng.uniform(0.2, 0.9), rng.uniform(0.2, 0.9)),
                           hsv(rng.random(), 0.5, 0.4), TEX_NOISE, freq=40.0)
    beak = sb.material(hsv(rng.uniform(0.08, 0.15), 0.8, 0.8))
    sb.add(obj, 'ellipsoid', (0.06 * s, 0.065 * s, 0.11 * s), (0, 0.11 * s, 0), feathers, 'torso')
    sb.add(obj, 'ellipsoid', (0.045 * s,) * 3, (0, 0.19 * s, 0.08 * s), feathers, 'head')
    sb.add(obj, 'frustum', (0.015 * s, 0.0, 0.025 * s), (0, 0.19 * s, 0.145 * s), beak, 'beak',
           rot_x(np.pi / 2))
    sb.add(obj, 'box', (0.035 * s, 0.008 * s, 0.06 * s), (0, 0.12 * s, -0.14 * s), feathers, 'tail',
           rot_x(-0.3))
    for sx in (1.0, -1.0):
        sb.limb(obj, [sx * 0.02 * s, 0.06 * s, 0], [sx * 0.025 * s, 0.0, 0.01 * s], 0.008 * s,
                beak, '')
