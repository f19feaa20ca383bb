"""Vectorised ray-casting renderer: image, depth, normals and label maps of a :class:`Scene`.

Conventions of the outputs:

* ``depth``: camera-frame z (metres) of the visible surface, i.e. distance along the optical
  axis (not along the ray); 0 where no surface is hit (sky).
* ``normals``: unit surface normals in the camera frame with **x right, y up, z towards the
  camera** (a surface facing the camera is ``(0, 0, 1)``, a floor seen from above has ``y > 0``);
  all-zero where nothing is hit.
* pinhole intrinsics ``fx = fy = W / (2 tan(fov / 2))``, ``cx = W / 2``, ``cy = H / 2``; pixel
  ``(u, v)`` (column, row) looks along ``((u + 0.5 - cx) / fx, (v + 0.5 - cy) / fy, 1)`` in the
  OpenCV camera frame (x right, y down, z ahead).
"""
from typing import Dict, Tuple

import numpy as np

from .classes import KINDS, PART_NAMES
from .geometry import NEAR, SHAPES, intersect, local_normals
from .scene import TEX_CHECKER, TEX_GRADIENT, TEX_NOISE, TEX_SPOTS, TEX_STRIPES, Scene

__all__ = ['intrinsics', 'kind_labels', 'render']

_KIND_INDEX = {k: i for i, k in enumerate(KINDS)}
_KIND_TABLE = np.array([(v.voc, v.context, v.nyu) for v in KINDS.values()], dtype=np.int64)
_PART_INDEX = {p: i for i, p in enumerate(PART_NAMES)}
_TWO_PI = 2.0 * np.pi


def intrinsics(size: Tuple[int, int], fov: float) -> Dict[str, float]:
    """Pinhole intrinsics of an image of ``size = (H, W)`` with horizontal field of view ``fov``."""
    h, w = size
    f = 0.5 * w / np.tan(0.5 * fov)
    return {'fx': float(f), 'fy': float(f), 'cx': 0.5 * w, 'cy': 0.5 * h}


def _rects(scene: Scene, origin: np.ndarray, rwc: np.ndarray, k: dict, w: int, h: int):
    """Conservative pixel rectangles ``(v0, v1, u0, u1)`` of the primitives' bounding spheres.

    ``None`` marks primitives entirely behind the camera or outside the image.
    """
    prims = scene.primitives
    if not prims:
        return []
    cc = (np.array([p.centre for p in prims]) - origin) @ rwc.T
    r = np.array([p.radius for p in prims])
    x, y, z = cc.T
    full = z - r <= 2 * NEAR
    zz = np.stack([np.where(full, 1.0, z - r), z + r])
    xs = np.concatenate([(x - r) / zz, (x + r) / zz])
    ys = np.concatenate([(y - r) / zz, (y + r) / zz])
    u0 = np.clip(np.floor(xs.min(0) * k['fx'] + k['cx']), 0, w).astype(int)
    u1 = np.clip(np.ceil(xs.max(0) * k['fx'] + k['cx']) + 1, 0, w).astype(int)
    v0 = np.clip(np.floor(ys.min(0) * k['fy'] + k['cy']), 0, h).astype(int)
    v1 = np.clip(np.ceil(ys.max(0) * k['fy'] + k['cy']) + 1, 0, h).astype(int)
    u0[full], v0[full], u1[full], v1[full] = 0, 0, w, h
    keep = (z + r > NEAR) & (u1 > u0) & (v1 > v0)
    return [(a, b, c, d) if ok else None
            for a, b, c, d, ok in zip(v0.tolist(), v1.tolist(), u0.tolist(), u1.tolist(),
                                      keep.tolist())]


def _cast(scene: Scene, dirs: np.ndarray, origin: np.ndarray, rwc: np.ndarray, k: dict,
          size: Tuple[int, int]):
    """Depth test of planes, decals and primitives on flat channel-first buffers."""
    h, w = size
    n_pix = h * w
    depth = np.full(n_pix, np.inf)
    sid = np.full(n_pix, scene.sky_surface, dtype=np.int32)
    nrm = np.zeros((3, n_pix))
    tc = np.zeros((3, n_pix))
    plane_id = np.full(n_pix, -1, dtype=np.int32)
    for i, pl in enumerate(scene.planes):
        den = pl.normal @ dirs
        t = (pl.offset - pl.normal @ origin) / den
        ok = (den < 0) & (t > NEAR) & (t < depth)
        if np.isfinite(pl.max_range):
            ok &= np.sqrt(dirs[0] ** 2 + dirs[2] ** 2) * t <= pl.max_range
        idx = np.flatnonzero(ok)
        depth[idx] = t[idx]
        sid[idx] = pl.surface
        plane_id[idx] = i
    pidx = np.flatnonzero(plane_id >= 0)
    if pidx.size:
        normals = np.array([pl.normal for pl in scene.planes]).T
        nrm[:, pidx] = normals[:, plane_id[pidx]]
        pts = origin[:, None] + depth[pidx] * dirs[:, pidx]
        tc[:, pidx] = pts
        for dc in scene.decals:
            inside = (plane_id[pidx] == dc.plane) & np.all(
                (pts >= dc.lo[:, None]) & (pts <= dc.hi[:, None]), axis=0)
            sid[pidx[inside]] = dc.surface
    pid = np.full(n_pix, -1, dtype=np.int64)
    _cast_primitives(scene, dirs, origin, rwc, k, size, depth, pid)
    _primitive_normals(scene, pid, depth, dirs, origin, sid, nrm, tc)
    return depth, sid, nrm, tc


def _cast_primitives(scene, dirs, origin, rwc, k, size, depth, pid):
    """Depth test of all primitives at once over (pixel, primitive) pairs of their rectangles."""
    h, w = size
    grid = np.arange(h * w).reshape(h, w)
    rects = _rects(scene, origin, rwc, k, w, h)
    prims = [i for i, r in enumerate(rects) if r is not None]
    if not prims:
        return
    all_p = scene.primitives
    o_loc = np.zeros((len(all_p), 3))
    pix, d_loc, counts = [], [], []
    for i in prims:
        v0, v1, u0, u1 = rects[i]
        idx = grid[v0:v1, u0:u1].ravel()
        rt = all_p[i].rot.T
        o_loc[i] = np.dot(rt, origin - all_p[i].centre)
        pix.append(idx)
        d_loc.append(np.dot(rt, dirs[:, idx]))
        counts.append(idx.size)
    pix = np.concatenate(pix)
    d_loc = np.concatenate(d_loc, axis=1)
    pj = np.repeat(np.asarray(prims), counts)
    params = np.array([p.params for p in all_p])
    code = np.array([SHAPES.index(p.shape) for p in all_p])[pj]
    t = np.full(pix.shape, np.inf)
    for c, shape in enumerate(SHAPES):
        sel = np.flatnonzero(code == c)
        if sel.size:
            q = pj[sel]
            t[sel] = intersect(shape, params[q].T, o_loc[q].T, d_loc[:, sel])
    hit = np.flatnonzero(t < depth[pix])
    if not hit.size:
        return
    pix, t, pj = pix[hit], t[hit], pj[hit]
    np.minimum.at(depth, pix, t)
    win = t == depth[pix]
    pid[pix[win]] = pj[win]


def _rotate(mats: np.ndarray, v: np.ndarray, transpose: bool = False) -> np.ndarray:
    """Apply per-column rotations ``mats`` (``[N, 3, 3]``, or their transposes) to ``v``."""
    out = np.empty_like(v)
    for i in range(3):
        m = mats[:, :, i] if transpose else mats[:, i, :]
        out[i] = m[:, 0] * v[0] + m[:, 1] * v[1] + m[:, 2] * v[2]
    return out


def _primitive_normals(scene, pid, depth, dirs, origin, sid, nrm, tc):
    """Fill surface ids, world normals and local texture coordinates of primitive pixels."""
    px = np.flatnonzero(pid >= 0)
    if not px.size:
        return
    prims = scene.primitives
    pp = pid[px]
    rot = np.array([p.rot for p in prims])[pp]
    rel = origin[:, None] + depth[px] * dirs[:, px] - np.array([p.centre for p in prims])[pp].T
    q = _rotate(rot, rel, transpose=True)
    params = np.array([p.params for p in prims])[pp].T
    code = np.array([SHAPES.index(p.shape) for p in prims])[pp]
    for c, shape in enumerate(SHAPES):
        sel = np.flatnonzero(code == c)
        if sel.size:
            n_loc = local_normals(shape, params[:, sel], q[:, sel])
            nrm[:, px[sel]] = _rotate(rot[sel], n_loc)
    tc[:, px] = q
    sid[px] = np.array([p.surface for p in prims])[pp]


def _material_table(scene: Scene) -> dict:
    mats = scene.materials
    return {
        'c1': np.array([m.c1 for m in mats], dtype=np.float32).T,
        'c2': np.array([m.c2 for m in mats], dtype=np.float32).T,
        'tex': np.array([m.tex for m in mats]),
        'freq': np.array([m.freq for m in mats], dtype=np.float32),
        'axis': np.array([m.axis for m in mats], dtype=np.float32).T,
        'phase': np.array([m.phase for m in mats], dtype=np.float32).T,
        'spec': np.array([m.spec for m in mats], dtype=np.float32),
        'shine': np.array([m.shine for m in mats], dtype=np.float32),
        'emissive': np.array([m.emissive for m in mats]),
    }


def _albedo(tab: dict, mat: np.ndarray, tc: np.ndarray) -> np.ndarray:
    tex = tab['tex'][mat]
    p = tc.astype(np.float32) * tab['freq'][mat]
    ph = tab['phase'][:, mat]
    ax = tab['axis'][:, mat]
    s = (p * ax).sum(0)
    mix = np.zeros(mat.shape, dtype=np.float32)
    for code in np.unique(tex):
        sel = np.flatnonzero(tex == code)
        if code == TEX_STRIPES:
            mix[sel] = np.sin(_TWO_PI * s[sel] + ph[0, sel]) > 0
        elif code == TEX_CHECKER:
            mix[sel] = np.floor(p[:, sel] + ph[:, sel] / _TWO_PI).sum(0) % 2
        elif code == TEX_GRADIENT:
            mix[sel] = 0.5 + 0.5 * np.sin(0.5 * s[sel] + ph[0, sel])
        elif code in (TEX_NOISE, TEX_SPOTS):
            q, g = p[:, sel], ph[:, sel]
            noise = 0.5 + 0.3 * np.sin(_TWO_PI * q[0] + g[0]) * np.sin(
                _TWO_PI * 1.3 * q[1] + g[1]) + 0.2 * np.sin(
                _TWO_PI * (0.7 * q[2] + 0.5 * q[0]) + g[2])
            mix[sel] = noise if code == TEX_NOISE else noise > 0.62
    return tab['c1'][:, mat] * (1.0 - mix) + tab['c2'][:, mat] * mix


def _shade(scene: Scene, dirs, sid, nrm, tc, hit, rng) -> np.ndarray:
    light, surf = scene.light, scene.surfaces
    tab = _material_table(scene)
    mat = np.array([s.material for s in surf])[sid]
    albedo = _albedo(tab, mat, tc)
    nrm = nrm.astype(np.float32)
    view = (-dirs / np.sqrt((dirs * dirs).sum(0))).astype(np.float32)
    ldir = light.direction.astype(np.float32)
    diff = np.maximum(ldir @ nrm, 0.0)
    half = ldir[:, None] + view
    half /= np.sqrt((half * half).sum(0))
    spec = np.zeros(sid.shape, dtype=np.float32)
    gloss = np.flatnonzero(tab['spec'][mat] > 0)
    if gloss.size:
        m = mat[gloss]
        spec[gloss] = tab['spec'][m] * np.maximum(
            (nrm[:, gloss] * half[:, gloss]).sum(0), 0.0) ** tab['shine'][m]
    shadow = np.ones(sid.shape, dtype=np.float32)
    sh_idx = np.flatnonzero(np.array([s.shadowed for s in surf])[sid] & hit)
    if sh_idx.size:
        px, pz = tc[0, sh_idx], tc[2, sh_idx]
        fac = np.ones(sh_idx.shape)
        ly = max(light.direction[1], 0.25)
        for inst in scene.instances:
            if inst.foot[1] > 0.5:
                continue
            off = -light.direction[[0, 2]] / ly * 0.4 * inst.height
            d2 = (px - inst.foot[0] - off[0]) ** 2 + (pz - inst.foot[2] - off[1]) ** 2
            fac *= 1.0 - 0.55 * np.exp(-d2 / (0.6 * inst.radius + 0.15) ** 2)
        shadow[sh_idx] = fac
    lcol = light.colour.astype(np.float32)[:, None]
    col = albedo * (light.ambient + (1.0 - light.ambient) * diff * shadow * lcol) + \
        spec * shadow * lcol
    em = tab['emissive'][mat]
    col[:, em] = albedo[:, em]
    elev = np.clip(-view[1], 0.0, 1.0) ** 0.6
    sky = light.sky_horizon[:, None] * (1.0 - elev) + light.sky_top[:, None] * elev
    col = np.where(hit, col, sky) * (255.0 * light.exposure)
    col += rng.standard_normal(col.shape, dtype=np.float32) * np.float32(light.noise)
    return np.clip(np.rint(col), 0, 255).astype(np.uint8)


def render(scene: Scene, size: Tuple[int, int], rng: np.random.Generator) -> dict:
    """Render ``scene`` at ``size = (H, W)``; ``rng`` drives the sensor noise.

    Returns:
        dict with ``image`` (uint8 [H, W, 3]), ``depth`` (float32 [H, W]), ``normals`` (float32
        [H, W, 3]), ``surface`` (int32 [H, W] index into ``scene.surfaces``), ``hit`` (bool),
        ``sensor_valid`` (bool: depth/normals a depth sensor would measure), ``kind``
        (int [H, W] index into :data:`KINDS`), ``instance`` (int32), ``part`` (uint8 index into
        :data:`PART_NAMES`) and ``intrinsics``.
    """
    h, w = size
    cam = scene.camera
    k = intrinsics(size, cam.fov)
    u = (np.arange(w) + 0.5 - k['cx']) / k['fx']
    v = (np.arange(h) + 0.5 - k['cy']) / k['fy']
    dirs_c = np.stack([np.tile(u, h), np.repeat(v, w), np.ones(h * w)])
    rwc = cam.world_to_camera()
    dirs = rwc.T @ dirs_c
    origin = np.array([0.0, cam.height, 0.0])
    with np.errstate(divide='ignore', invalid='ignore'):
        depth, sid, nrm, tc = _cast(scene, dirs, origin, rwc, k, size)
    hit = np.isfinite(depth)
    nrm /= np.maximum(np.sqrt((nrm * nrm).sum(0)), 1e-12)
    nrm *= np.where((nrm * dirs).sum(0) > 0, -1.0, 1.0)
    image = _shade(scene, dirs, sid, nrm, tc, hit, rng)
    normals = (rwc @ nrm) * np.array([[1.0], [-1.0], [-1.0]]) * hit
    surf = scene.surfaces
    return {
        'image': image.T.reshape(h, w, 3),
        'depth': np.where(hit, depth, 0.0).astype(np.float32).reshape(h, w),
        'normals': normals.T.astype(np.float32).reshape(h, w, 3),
        'surface': sid.reshape(h, w),
        'hit': hit.reshape(h, w),
        'sensor_valid': (np.array([s.sensor_valid for s in surf])[sid] & hit).reshape(h, w),
        'kind': np.array([_KIND_INDEX[s.kind] for s in surf])[sid].reshape(h, w),
        'instance': np.array([s.instance for s in surf], dtype=np.int32)[sid].reshape(h, w),
        'part': np.array([_PART_INDEX[s.part] for s in surf], dtype=np.uint8)[sid].reshape(h, w),
        'intrinsics': k,
    }


def kind_labels(kind: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(voc, context, nyu)`` label maps from a map of :data:`KINDS` indices."""
    lab = _KIND_TABLE[kind]
    return lab[..., 0].astype(np.uint8), lab[..., 1].astype(np.uint16), lab[..., 2].astype(np.uint8)
