"""Vectorised ray / primitive intersection in a primitive's local frame.

Every intersection routine takes the ray origin ``o`` (one 3-vector: all rays start at the camera
centre) and the ray directions ``d`` (channel-first, ``[3, N]``), both expressed in the
primitive's local frame, and returns ``(t, valid, normal_fn)``: the ray parameter of the nearest
hit in front of the camera (``[N]``), a boolean hit mask (``[N]``) and a function that, given the
integer indices of some hit rays, returns their local-frame outward normals (``[3, K]``, not
normalised). Computing normals lazily keeps the cost on the pixels that win the depth test.

Shapes (local frame, y is the axis of revolution):

* ``ellipsoid``: semi-axes ``(ax, ay, az)``;
* ``box``: half-extents ``(hx, hy, hz)``;
* ``frustum``: capped truncated cone from ``y=-h`` (radius ``r0``) to ``y=+h`` (radius ``r1``);
  a cylinder when ``r0 == r1`` and a cone when ``r1 == 0``.
"""
import math

import numpy as np

__all__ = ['NEAR', 'SHAPES', 'frame_from_y', 'intersect', 'rot_x', 'rot_y', 'rot_z']

NEAR = 0.05  # metres; hits closer than this to the camera are ignored


def rot_x(a: float) -> np.ndarray:
    """Rotation matrix about the x axis by ``a`` radians."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    """Rotation matrix about the y axis by ``a`` radians."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation matrix about the z axis by ``a`` radians."""
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def frame_from_y(direction) -> np.ndarray:
    """Rotation whose local y axis maps to ``direction`` (the other two axes are arbitrary)."""
    y0, y1, y2 = (float(v) for v in direction)
    n = math.sqrt(y0 * y0 + y1 * y1 + y2 * y2)
    y0, y1, y2 = y0 / n, y1 / n, y2 / n
    # x = y cross helper, helper = e_x (or e_z when y is close to e_x)
    if abs(y0) < 0.9:
        x0, x1, x2 = 0.0, y2, -y1
    else:
        x0, x1, x2 = y1, -y0, 0.0
    n = math.sqrt(x0 * x0 + x1 * x1 + x2 * x2)
    x0, x1, x2 = x0 / n, x1 / n, x2 / n
    z0, z1, z2 = x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0
    return np.array([[x0, y0, z0], [x1, y1, z1], [x2, y2, z2]])


def _ellipsoid(o, d, p):
    ix, iy, iz = 1.0 / p[0], 1.0 / p[1], 1.0 / p[2]
    ox, oy, oz = o[0] * ix, o[1] * iy, o[2] * iz
    dx, dy, dz = d[0] * ix, d[1] * iy, d[2] * iz
    a = dx * dx + dy * dy + dz * dz
    b = dx * ox + dy * oy + dz * oz
    disc = b * b - a * (ox * ox + oy * oy + oz * oz - 1.0)
    valid = disc > 0.0
    t = (-b - np.sqrt(np.maximum(disc, 0.0))) / a
    valid &= t > NEAR
    scale = np.array([[ix * ix], [iy * iy], [iz * iz]])

    def normal(sel):
        return (o[:, None] + t[sel] * d[:, sel]) * scale
    return t, valid, normal


def _box(o, d, p):
    h = np.asarray(p, dtype=np.float64)[:, None]
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        t1 = (-h - o[:, None]) * inv
        t2 = (h - o[:, None]) * inv
    tlo = np.minimum(t1, t2)
    t_in = tlo.max(axis=0)
    t_out = np.maximum(t1, t2).min(axis=0)
    valid = (t_out >= t_in) & (t_in > NEAR)

    def normal(sel):
        axis = tlo[:, sel].argmax(axis=0)
        cols = np.arange(axis.shape[0])
        n = np.zeros((3, axis.shape[0]))
        n[axis, cols] = -np.sign(d[axis, sel])
        return n
    return t_in, valid, normal


def _frustum(o, d, p):
    r0, r1, h = p
    k = (r1 - r0) / (2.0 * h)
    m = 0.5 * (r0 + r1)
    dx, dy, dz = d[0], d[1], d[2]
    ox, oy, oz = o
    qa = dx * dx + dz * dz - k * k * dy * dy
    qb = ox * dx + oz * dz - k * dy * (k * oy + m)
    qc = ox * ox + oz * oz - (k * oy + m) ** 2
    disc = qb * qb - qa * qc
    ok = (disc > 0.0) & (np.abs(qa) > 1e-12)
    sq = np.sqrt(np.maximum(disc, 0.0))
    qa_safe = np.where(ok, qa, 1.0)
    best = np.full(dx.shape, np.inf)
    part = np.zeros(dx.shape)  # 0 lateral surface, -1 / +1 bottom / top cap
    for sgn in (-1.0, 1.0):
        t = (-qb + sgn * sq) / qa_safe
        y = oy + t * dy
        good = ok & (t > NEAR) & (np.abs(y) <= h) & (k * y + m >= 0.0) & (t < best)
        best = np.where(good, t, best)
    with np.errstate(divide='ignore', invalid='ignore'):
        for side, rc in ((-1.0, r0), (1.0, r1)):
            if rc <= 0.0 or (side * oy) <= h:  # a cap is only visible from its outer side
                continue
            t = (side * h - oy) / dy
            x = ox + t * dx
            z = oz + t * dz
            good = (t > NEAR) & (x * x + z * z <= rc * rc) & (t < best)
            best = np.where(good, t, best)
            part = np.where(good, side, part)
    valid = np.isfinite(best)

    def normal(sel):
        q = o[:, None] + best[sel] * d[:, sel]
        n = np.stack([q[0], -k * (k * q[1] + m), q[2]])
        cap = part[sel]
        capped = cap != 0.0
        n[:, capped] = 0.0
        n[1, capped] = cap[capped]
        return n
    return best, valid, normal


SHAPES = {'ellipsoid': _ellipsoid, 'box': _box, 'frustum': _frustum}


def intersect(shape: str, params, o: np.ndarray, d: np.ndarray):
    """Intersect rays with one primitive in its local frame.

    Args:
        shape: one of :data:`SHAPES` (``'ellipsoid'``, ``'box'``, ``'frustum'``).
        params: shape parameters (see the module docstring).
        o: ray origin in the local frame, shape ``[3]``.
        d: ray directions in the local frame, shape ``[3, N]`` (not necessarily unit length).

    Returns:
        ``(t, valid, normal_fn)`` as described in the module docstring.
    """
    return SHAPES[shape](np.asarray(o, dtype=np.float64), d, params)
