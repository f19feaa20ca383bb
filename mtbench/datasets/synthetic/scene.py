"""Scene description and the builder that object recipes use to assemble scenes.

World frame: metres, y up, the ground is the plane ``y = 0``; the camera stands at ``(0, h, 0)``
and looks along ``+z`` (pitched down, slightly rolled). Objects are built in an object frame
(origin on the ground at the object's foot point, y up, facing ``+z``, the object's own left along
``+x``) and placed with a position and a yaw.
"""
import colorsys
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from .classes import KINDS
from .geometry import frame_from_y, rot_y

__all__ = ['TEX_PLAIN', 'TEX_STRIPES', 'TEX_CHECKER', 'TEX_NOISE', 'TEX_SPOTS', 'TEX_GRADIENT',
           'Material', 'Surface', 'Primitive', 'Plane', 'Decal', 'Instance', 'Camera', 'Light',
           'Scene', 'ObjectFrame', 'SceneBuilder', 'hsv']

TEX_PLAIN, TEX_STRIPES, TEX_CHECKER, TEX_NOISE, TEX_SPOTS, TEX_GRADIENT = range(6)


def hsv(h: float, s: float, v: float) -> np.ndarray:
    """RGB in [0, 1] from hue (turns), saturation and value."""
    return np.array(colorsys.hsv_to_rgb(h % 1.0, min(max(s, 0.0), 1.0), min(max(v, 0.0), 1.0)))


@dataclass
class Material:
    """Albedo texture: ``c1``/``c2`` blended by a procedural pattern in texture coordinates."""
    c1: np.ndarray
    c2: np.ndarray
    tex: int = TEX_PLAIN
    freq: float = 4.0
    axis: np.ndarray = field(default_factory=lambda: np.array([0.0, 1.0, 0.0]))
    phase: np.ndarray = field(default_factory=lambda: np.zeros(3))
    spec: float = 0.0
    shine: float = 16.0
    emissive: bool = False


@dataclass
class Surface:
    """One labelled surface: every pixel of it gets the same labels and material."""
    kind: str
    instance: int
    part: str
    material: int
    sensor_valid: bool = True
    shadowed: bool = False


@dataclass
class Primitive:
    """A solid (see :mod:`.geometry`) with its local->world rotation and world centre."""
    shape: str
    params: Tuple[float, ...]
    rot: np.ndarray
    centre: np.ndarray
    surface: int
    radius: float = 0.0  # bounding-sphere radius (computed when 0)

    def __post_init__(self):
        if self.radius <= 0.0:
            p = self.params
            if self.shape == 'frustum':
                self.radius = math.hypot(max(p[0], p[1]), p[2])
            elif self.shape == 'box':
                self.radius = math.sqrt(p[0] * p[0] + p[1] * p[1] + p[2] * p[2])
            else:
                self.radius = max(p)


@dataclass
class Plane:
    """An infinite plane ``normal . p = offset`` seen from the side ``normal`` points to."""
    normal: np.ndarray
    offset: float
    surface: int
    max_range: float = np.inf


@dataclass
class Decal:
    """A rectangle painted on a plane: world-axis box ``lo <= p <= hi`` relabels the plane."""
    plane: int
    lo: np.ndarray
    hi: np.ndarray
    surface: int


@dataclass
class Instance:
    """One countable object."""
    id: int
    kind: str
    foot: np.ndarray
    radius: float
    height: float
    parts_annotated: bool


@dataclass
class Camera:
    """Pinhole camera at ``(0, height, 0)``; ``fov`` is the horizontal field of view (rad)."""
    height: float
    pitch: float
    roll: float
    fov: float

    def world_to_camera(self) -> np.ndarray:
        """Rotation taking world vectors to the OpenCV camera frame (x right, y down, z ahead)."""
        cp, sp = np.cos(self.pitch), np.sin(self.pitch)
        r = np.array([[1.0, 0.0, 0.0], [0.0, -cp, -sp], [0.0, -sp, cp]])
        cr, sr = np.cos(self.roll), np.sin(self.roll)
        return np.array([[cr, -sr, 0.0], [sr, cr, 0.0], [0.0, 0.0, 1.0]]) @ r


@dataclass
class Light:
    """Directional light towards ``direction`` (world, unit) plus ambient term."""
    direction: np.ndarray
    colour: np.ndarray
    ambient: float
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    noise: float
    exposure: float


@dataclass
class Scene:
    """Everything the renderer needs."""
    family: str
    env: str
    camera: Camera
    light: Light
    materials: List[Material]
    surfaces: List[Surface]
    primitives: List[Primitive]
    planes: List[Plane]
    decals: List[Decal]
    instances: List[Instance]
    sky_surface: int


@dataclass
class ObjectFrame:
    """Placement of one object: ground position, yaw, instance id and kind."""
    kind: str
    instance: int
    pos: np.ndarray
    rot: np.ndarray


class SceneBuilder:
    """Accumulates materials, labelled surfaces, primitives and instances of one scene."""

    def __init__(self, rng: np.random.Generator):
        self.rng = rng
        self.materials: List[Material] = []
        self.surfaces: List[Surface] = []
        self.primitives: List[Primitive] = []
        self.planes: List[Plane] = []
        self.decals: List[Decal] = []
        self.instances: List[Instance] = []
        self._surface_ids: Dict[tuple, int] = {}

    def material(self, c1, c2=None, tex: int = TEX_PLAIN, freq: float = 4.0, axis=None,
                 spec: float = 0.0, shine: float = 16.0, emissive: bool = False) -> int:
        """Add a material and return its index (``axis`` defaults to a random unit vector)."""
        rng = self.rng
        c1 = np.minimum(np.maximum(np.asarray(c1, dtype=np.float64), 0.0), 1.0)
        c2 = c1 * 0.55 if c2 is None else np.minimum(np.maximum(np.asarray(
            c2, dtype=np.float64), 0.0), 1.0)
        axis = rng.normal(size=3) if axis is None else np.array(axis, dtype=np.float64)
        axis /= math.sqrt(float(axis.dot(axis))) + 1e-12
        self.materials.append(Material(c1, c2, tex, freq, axis, rng.uniform(0, 2 * np.pi, 3),
                                       spec, shine, emissive))
        return len(self.materials) - 1

    def surface(self, kind: str, instance: int, part: str, material: int,
                sensor_valid: bool = True, shadowed: bool = False) -> int:
        """Index of the surface with these labels (created on first use)."""
        if kind not in KINDS:
            raise KeyError(f'unknown kind {kind!r}')
        key = (kind, instance, part, material, sensor_valid, shadowed)
        if key not in self._surface_ids:
            self.surfaces.append(Surface(kind, instance, part, material, sensor_valid, shadowed))
            self._surface_ids[key] = len(self.surfaces) - 1
        return self._surface_ids[key]

    def begin_object(self, kind: str, x: float, z: float, yaw: float, radius: float,
                     height: float, y: float = 0.0, parts_annotated: bool = True) -> ObjectFrame:
        """Start an object of ``kind`` standing at ``(x, y, z)``; stuff kinds get instance 0."""
        inst = 0
        if KINDS[kind].thing:
            inst = len(self.instances) + 1
            self.instances.append(Instance(inst, kind, np.array([x, y, z]), radius, height,
                                           parts_annotated))
        return ObjectFrame(kind, inst, np.array([x, y, z], dtype=np.float64), rot_y(yaw))

    def add(self, obj: ObjectFrame, shape: str, params, offset, mat: int, part: str = '',
            rot: Optional[np.ndarray] = None) -> None:
        """Add one primitive to ``obj`` at ``offset`` (object frame) with local rotation ``rot``."""
        sid = self.surface(obj.kind, obj.instance, part, mat)
        r = obj.rot if rot is None else np.dot(obj.rot, rot)
        centre = obj.pos + np.dot(obj.rot, offset)
        self.primitives.append(Primitive(shape, tuple(map(float, params)), r, centre, sid))

    def limb(self, obj: ObjectFrame, a, b, radius: float, mat: int, part: str = '') -> None:
        """Add an elongated ellipsoid spanning object-frame points ``a`` -> ``b``."""
        a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
        axis = b - a
        length = math.sqrt(float(axis.dot(axis)))
        self.add(obj, 'ellipsoid', (radius, 0.5 * length + 0.3 * radius, radius), 0.5 * (a + b),
                 mat, part, frame_from_y(axis))

    def plane(self, normal, offset: float, surface: int, max_range: float = np.inf) -> int:
        """Add an environment plane and return its index."""
        n = np.asarray(normal, dtype=np.float64)
        self.planes.append(Plane(n / np.linalg.norm(n), float(offset), surface, max_range))
        return len(self.planes) - 1

    def decal(self, plane: int, lo, hi, surface: int) -> None:
        """Relabel the part of ``plane`` inside the world-axis box ``[lo, hi]``."""
        self.decals.append(Decal(plane, np.asarray(lo, float), np.asarray(hi, float), surface))
