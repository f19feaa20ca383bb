"""Procedural synthetic multi-task data: the embedded default benchmark of mtbench.

A deterministic numpy ray caster renders small 3D scenes (people made of named parts, animals,
vehicles, furniture, rooms and outdoor scenery) with analytically consistent RGB, depth, surface
normals, semantic / instance / part labels, saliency and boundaries, and writes them in the
PASCAL_MT or NYUD_MT on-disk layouts. See ``docs/synthetic.md``.

Example:
    >>> from mtbench.datasets.synthetic import generate_dataset, render_scene
    >>> root = generate_dataset('nyud-mt', '/tmp/nyud_syn', 8, 4, progress=False)
    >>> render_scene(0, (64, 64))['depth'].shape
    (64, 64)
"""
from .classes import (KINDS, NYU40_CLASSES, NYU_COMPATIBLE_CONTEXT_IDS, PART_NAMES,
                      PERSON_PART_GROUPS, VOC_CLASSES)
from .generate import LAYOUTS, META_FILE, generate_dataset, scene_seed, split_ids
from .render import intrinsics
from .sample import FAMILIES, build_scene, render_scene
from .writers import PACKAGINGS, encode_normals

__all__ = ['FAMILIES', 'KINDS', 'LAYOUTS', 'META_FILE', 'NYU40_CLASSES',
           'NYU_COMPATIBLE_CONTEXT_IDS', 'PACKAGINGS', 'PART_NAMES', 'PERSON_PART_GROUPS',
           'VOC_CLASSES', 'build_scene', 'encode_normals', 'generate_dataset', 'intrinsics',
           'render_scene', 'scene_seed', 'split_ids']
