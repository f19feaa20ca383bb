"""Vectorised ray / primitive intersection in a primitive's local frame.

Every intersection routine takes the ray origin ``o`` (one 3-vector: all rays start at the camera
centre) and the ray directions ``d`` (``[N, 3]``), both expressed in the primitive's local frame,
and returns ``(t, valid, normal_fn)``: the ray parameter of the nearest hit in front of the camera
(``[N]``), a boolean hit mask (``[N]``) and a function that, given a boolean selection of hit rays,
returns their local-frame outward normals (not normalised). Computing normals lazily keeps the cost
on the pixels that win the depth test.

Shapes (local frame, y is the axis of revolution):

* ``ellipsoid``: semi-axes ``(ax, ay, az)``;
* ``box``: half-extents ``(hx, hy, hz)``;
* ``frustum``: capped truncated cone from ``y=-h`` (radius ``r0``) to ``y=+h`` (radius ``r1``);
  a cylinder when ``r0 == r1`` and a cone when ``r1 == 0``.
"""
import numpy as np

__all__ = ['NEAR', 'SHAPES', 'frame_from_y', 'intersect', 'rot_x', 'rot_y', 'rot_z']

NEAR = 0.05  # metres; hits closer than this to the camera are ignored
_INF = np.inf


def rot_x(a: float) -> np.ndarray:
    """Rotation matrix about the x axis by ``a`` radians."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rot_y(a: float) -> np.ndarray:
    """Rotation matrix about the y axis by ``a`` radians."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rot_z(a: float) -> np.ndarray:
    """Rotation matrix about the z axis by ``a`` radians."""
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def frame_from_y(direction) -> np.ndarray:
    """Rotation whose local y axis maps to ``direction`` (the other two axes are arbitrary)."""
    y = np.asarray(direction, dtype=np.float64)
    y = y / np.linalg.norm(y)
    helper = np.array([1.0, 0.0, 0.0]) if abs(y[0]) < 0.9 else np.array([0.0, 0.0, 1.0])
    x = np.cross(y, helper)
    x /= np.linalg.norm(x)
    z = np.cross(x, y)
    return np.stack([x, y, z], axis=1)


def _ellipsoid(o, d, p):
    inv = 1.0 / np.asarray(p, dtype=np.float64)
    os_, ds = o * inv, d * inv
    a = np.einsum('ij,ij->i', ds, ds)
    b = ds @ os_
    c = os_ @ os_ - 1.0
    disc = b * b - a * c
    valid = disc > 0.0
    t = (-b - np.sqrt(np.where(valid, disc, 0.0))) / a
    valid &= t > NEAR

    def normal(sel):
        return (o + t[sel, None] * d[sel]) * (inv * inv)
    return t, valid, normal


def _box(o, d, p):
    h = np.asarray(p, dtype=np.float64)
    with np.errstate(divide='ignore', invalid='ignore'):
        inv = 1.0 / d
        t1 = (-h - o) * inv
        t2 = (h - o) * inv
    tlo = np.minimum(t1, t2)
    thi = np.maximum(t1, t2)
    tlo = np.nan_to_num(tlo, nan=-_INF)
    thi = np.nan_to_num(thi, nan=_INF)
    t_in = tlo.max(axis=1)
    t_out = thi.min(axis=1)
    valid = (t_out >= t_in) & (t_in > NEAR)

    def normal(sel):
        axis = tlo[sel].argmax(axis=1)
        n = np.zeros((axis.shape[0], 3))
        n[np.arange(axis.shape[0]), axis] = -np.sign(d[sel, axis])
        return n
    return t_in, valid, normal


def _frustum(o, d, p):
    r0, r1, h = p
    k = (r1 - r0) / (2.0 * h)
    m = 0.5 * (r0 + r1)
    dx, dy, dz = d[:, 0], d[:, 1], d[:, 2]
    ox, oy, oz = o
    qa = dx * dx + dz * dz - k * k * dy * dy
    qb = ox * dx + oz * dz - k * dy * (k * oy + m)
    qc = ox * ox + oz * oz - (k * oy + m) ** 2
    disc = qb * qb - qa * qc
    ok = (disc > 0.0) & (np.abs(qa) > 1e-12)
    sq = np.sqrt(np.where(ok, disc, 0.0))
    qa_safe = np.where(ok, qa, 1.0)
    best = np.full(d.shape[0], _INF)
    part = np.zeros(d.shape[0])  # 0 lateral surface, -1 / +1 bottom / top cap
    for sgn in (-1.0, 1.0):
        t = (-qb + sgn * sq) / qa_safe
        y = oy + t * dy
        good = ok & (t > NEAR) & (np.abs(y) <= h) & (k * y + m >= 0.0) & (t < best)
        best = np.where(good, t, best)
    with np.errstate(divide='ignore', invalid='ignore'):
        for side, rc in ((-1.0, r0), (1.0, r1)):
            if rc <= 0.0:
                continue
            t = (side * h - oy) / dy
            x = ox + t * dx
            z = oz + t * dz
            good = (t > NEAR) & (x * x + z * z <= rc * rc) & (t < best)
            best = np.where(good, t, best)
            part = np.where(good, side, part)
    valid = np.isfinite(best)

    def normal(sel):
        q = o + best[sel, None] * d[sel]
        n = np.stack([q[:, 0], -k * (k * q[:, 1] + m), q[:, 2]], axis=1)
        cap = part[sel] != 0.0
        n[cap] = 0.0
        n[cap, 1] = part[sel][cap]
        return n
    return best, valid, normal


SHAPES = {'ellipsoid': _ellipsoid, 'box': _box, 'frustum': _frustum}


def intersect(shape: str, params, o: np.ndarray, d: np.ndarray):
    """Intersect rays with one primitive in its local frame.

    Args:
        shape: one of :data:`SHAPES` (``'ellipsoid'``, ``'box'``, ``'frustum'``).
        params: shape parameters (see the module docstring).
        o: ray origin in the local frame, shape ``[3]``.
        d: ray directions in the local frame, shape ``[N, 3]`` (not necessarily unit length).

    Returns:
        ``(t, valid, normal_fn)`` as described in the module docstring.
    """
    return SHAPES[shape](np.asarray(o, dtype=np.float64), d, params)
