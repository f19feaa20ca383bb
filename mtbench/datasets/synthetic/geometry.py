"""Vectorised ray / primitive intersection and analytic normals in a primitive's local frame.

Shapes (local frame, y is the axis of revolution):

* ``ellipsoid``: semi-axes ``(ax, ay, az)``;
* ``box``: half-extents ``(hx, hy, hz)``;
* ``frustum``: capped truncated cone from ``y=-h`` (radius ``r0``) to ``y=+h`` (radius ``r1``);
  a cylinder when ``r0 == r1`` and a cone when ``r1 == 0``.

:func:`intersect` returns, for rays ``o + t d`` given in the local frame (one origin, directions
channel-first ``[3, N]``), the parameter ``t`` of the nearest hit in front of the camera (``inf``
where the ray misses). :func:`local_normals` gives the outward normal at local surface points, so
the renderer computes normals only for the pixels that win the depth test, in one pass.
"""
import math

import numpy as np

__all__ = ['NEAR', 'SHAPES', 'frame_from_y', 'intersect', 'local_normals', 'rot_x', 'rot_y',
           'rot_z']

NEAR = 0.05  # metres; hits closer than this to the camera are ignored
SHAPES = ('ellipsoid', 'box', 'frustum')


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
    if abs(y0) < 0.9:  # x = y cross e_x
        x0, x1, x2 = 0.0, y2, -y1
    else:  # x = y cross e_z
        x0, x1, x2 = y1, -y0, 0.0
    n = math.sqrt(x0 * x0 + x1 * x1 + x2 * x2)
    x0, x1, x2 = x0 / n, x1 / n, x2 / n
    z0, z1, z2 = x1 * y2 - x2 * y1, x2 * y0 - x0 * y2, x0 * y1 - x1 * y0
    return np.array([[x0, y0, z0], [x1, y1, z1], [x2, y2, z2]])


def _ellipsoid(o, d, p):
    s = 1.0 / p  # unit sphere after scaling by 1 / semi-axes
    os_ = o * s
    ds = d * s
    a = (ds * ds).sum(0)
    b = (os_ * ds).sum(0)
    disc = b * b - a * ((os_ * os_).sum(0) - 1.0)
    t = (-b - np.sqrt(disc)) / a  # NaN where disc < 0
    return np.where(t > NEAR, t, np.inf)


def _box(o, d, p):
    inv = 1.0 / d
    t1 = (-p - o) * inv
    t2 = (p - o) * inv
    t_in = np.minimum(t1, t2).max(0)
    t_out = np.maximum(t1, t2).min(0)
    return np.where((t_out >= t_in) & (t_in > NEAR), t_in, np.inf)


def _frustum(o, d, p):
    r0, r1, h = p
    k = (r1 - r0) / (2.0 * h)
    m = 0.5 * (r0 + r1)
    dx, dy, dz = d
    ox, oy, oz = o
    km = k * oy + m
    qa = dx * dx + dz * dz - (k * k) * (dy * dy)
    qb = ox * dx + oz * dz - (k * km) * dy
    disc = qb * qb - qa * (ox * ox + oz * oz - km * km)
    sq = np.sqrt(disc)
    best = np.full(dx.shape, np.inf)
    for sgn in (-1.0, 1.0):
        t = (sgn * sq - qb) / qa
        y = oy + t * dy
        good = (t > NEAR) & (np.abs(y) <= h) & (k * y + m >= 0.0) & (t < best)
        best = np.where(good, t, best)
    for side, rc in ((-1.0, r0), (1.0, r1)):
        t = (side * h - oy) / dy
        x = ox + t * dx
        z = oz + t * dz
        good = (rc > 0.0) & (side * oy > h) & (t > NEAR) & (x * x + z * z <= rc * rc)
        best = np.where(good & (t < best), t, best)  # a cap is seen from its outer side only
    return best


_FUNCS = {'ellipsoid': _ellipsoid, 'box': _box, 'frustum': _frustum}


def intersect(shape: str, params, o: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Ray parameter of the nearest hit of rays ``o + t d`` with primitives (local frames).

    Args:
        shape: one of :data:`SHAPES`.
        params: shape parameters (see the module docstring), ``[3]`` for one primitive or
            ``[3, N]`` per ray (many primitives of the same shape at once).
        o: ray origins in the local frame, ``[3]`` or ``[3, N]``.
        d: ray directions in the local frame, channel-first ``[3, N]`` (any length).

    Returns:
        ``[N]`` array of ``t`` (``inf`` where the ray misses or hits closer than :data:`NEAR`).
        Division by zero direction components is expected (infinite slab distances).
    """
    p = np.asarray(params, dtype=np.float64)
    o = np.asarray(o, dtype=np.float64)
    if p.ndim == 1:
        p = p[:, None]
    if o.ndim == 1:
        o = o[:, None]
    with np.errstate(divide='ignore', invalid='ignore'):
        return _FUNCS[shape](o, d, p)


def local_normals(shape: str, params: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Outward (unnormalised) normals at local surface points ``q`` of one kind of shape.

    Args:
        shape: one of :data:`SHAPES`.
        params: per-point shape parameters, ``[3, N]``.
        q: local surface points, ``[3, N]``.

    Returns:
        ``[3, N]`` normals in the local frame.
    """
    if shape == 'ellipsoid':
        return q / (params * params)
    if shape == 'box':
        rel = np.abs(q) / params
        axis = rel.argmax(0)
        n = np.zeros_like(q)
        cols = np.arange(q.shape[1])
        n[axis, cols] = np.sign(q[axis, cols])
        return n
    r0, r1, h = params
    k = (r1 - r0) / (2.0 * h)
    rad_y = k * q[1] + 0.5 * (r0 + r1)
    n = np.stack([q[0], -k * rad_y, q[2]])
    cap = (np.abs(q[1]) >= h * (1.0 - 1e-6)) & (q[0] ** 2 + q[2] ** 2 < (rad_y ** 2) * (1 - 1e-4))
    n[:, cap] = 0.0
    n[1, cap] = np.sign(q[1, cap])
    return n
