"""Generate a whole synthetic dataset in the PASCAL_MT or NYUD_MT layout."""
import json
import os
import shutil
import time
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import List, Optional, Sequence, Tuple

import numpy as np

from mtbench.progress import Progress

from .classes import NYU40_CLASSES, VOC_CLASSES
from .sample import FAMILIES, render_scene
from .writers import NYUD_DIRS, PACKAGINGS, PASCAL_DIRS, write_nyud, write_pascal

__all__ = ['LAYOUTS', 'META_FILE', 'GENERATOR_VERSION', 'generate_dataset', 'scene_seed',
           'split_ids']

LAYOUTS = ('pascal-mt', 'nyud-mt')
META_FILE = 'synthetic.json'
GENERATOR_VERSION = 1
_SPLITS = {'train': 0, 'val': 1}


def split_ids(layout: str, split: str, num: int, num_train: int = 0) -> List[str]:
    """Image ids of a split: ``'2008_000001'``-style (PASCAL; val uses 2010) or ``'000001'``."""
    if layout == 'pascal-mt':
        year = 2008 if split == 'train' else 2010
        return [f'{year}_{i + 1:06d}' for i in range(num)]
    start = 1 if split == 'train' else num_train + 1
    return [f'{i:06d}' for i in range(start, start + num)]


def scene_seed(seed: int, split: str, index: int) -> int:
    """The :func:`render_scene` seed of sample ``index`` of ``split`` for a dataset ``seed``."""
    return int(np.random.SeedSequence([int(seed), _SPLITS[split], int(index)]).generate_state(1)[0])


def _work(job) -> Tuple[int, List[Tuple[str, dict]]]:
    root, layout, packaging, family, size, items = job
    write = write_pascal if layout == 'pascal-mt' else write_nyud
    env = 'indoor' if layout == 'nyud-mt' and family == 'downstream' else None
    meta = []
    for img_id, sseed in items:
        sample = render_scene(sseed, size, family, env)
        write(Path(root), img_id, sample, packaging)
        meta.append((img_id, {'seed': sseed, 'env': sample['env'],
                              **{k: round(v, 6) for k, v in sample['intrinsics'].items()}}))
    return len(items), meta


def _prepare(root: Path, overwrite: bool) -> None:
    if root.exists() and not root.is_dir():
        raise NotADirectoryError(f'{root} exists and is not a directory')
    if root.exists() and any(root.iterdir()):
        if not overwrite:
            raise FileExistsError(f'{root} is not empty; pass overwrite=True (--overwrite) to '
                                  'replace a previously generated synthetic dataset')
        if not (root / META_FILE).is_file():
            raise FileExistsError(f'{root} is not empty and holds no {META_FILE}: refusing to '
                                  'delete a directory this generator did not create')
        shutil.rmtree(root)
    root.mkdir(parents=True, exist_ok=True)


def generate_dataset(layout: str, out_dir, num_train: int, num_val: int,
                     size: Sequence[int] = (64, 64), seed: int = 0, packaging: str = 'jpg-npy',
                     family: str = 'downstream', progress: bool = True, *,
                     workers: Optional[int] = None, overwrite: bool = False) -> Path:
    """Render ``num_train + num_val`` scenes and write them in ``layout`` under ``out_dir``.

    Args:
        layout: ``'pascal-mt'`` (PASCAL_MT tree) or ``'nyud-mt'`` (NYUD_MT tree).
        out_dir: dataset root (created; must be empty unless ``overwrite``).
        num_train: number of training images.
        num_val: number of validation images.
        size: ``(H, W)`` of every image.
        seed: dataset seed; the same arguments always give byte-identical files.
        packaging: ``'jpg-npy'`` or (NYUD only) ``'png-npy'`` (see :mod:`.writers`).
        family: ``'downstream'`` (benchmark scenes; NYUD layout renders its indoor scenes) or
            ``'upstream'`` (pre-training scenes; NYUD layout only).
        progress: show progress (:mod:`mtbench.progress`: a bar on a terminal, periodic lines
            otherwise) and print the generation rate.
        workers: worker processes (default: 2 on multi-core machines for 256+ scenes, else 1).
        overwrite: replace an existing synthetic dataset at ``out_dir``.

    Returns:
        The dataset root ``Path(out_dir)``.
    """
    if layout not in LAYOUTS:
        raise ValueError(f'unknown layout {layout!r}; expected one of {LAYOUTS}')
    if packaging not in PACKAGINGS:
        raise ValueError(f'unknown packaging {packaging!r}; expected one of {PACKAGINGS}')
    if family not in FAMILIES:
        raise ValueError(f'unknown family {family!r}; expected one of {tuple(FAMILIES)}')
    if layout == 'pascal-mt' and (packaging != 'jpg-npy' or family != 'downstream'):
        raise ValueError("the pascal-mt layout supports packaging='jpg-npy' and "
                         "family='downstream' only")
    if num_train < 0 or num_val < 0 or num_train + num_val == 0:
        raise ValueError('num_train and num_val must be >= 0 and not both 0')
    size = (int(size[0]), int(size[1]))
    if min(size) < 8:
        raise ValueError(f'size must be at least 8x8, got {size}')
    root = Path(out_dir)
    _prepare(root, overwrite)
    for sub in PASCAL_DIRS if layout == 'pascal-mt' else NYUD_DIRS:
        (root / sub).mkdir(parents=True, exist_ok=True)
    ids = {'train': split_ids(layout, 'train', num_train),
           'val': split_ids(layout, 'val', num_val, num_train)}
    list_dir = root / ('ImageSets/Context' if layout == 'pascal-mt' else 'gt_sets')
    for split, names in ids.items():
        (list_dir / f'{split}.txt').write_text(''.join(f'{n}\n' for n in names))
    items = [(n, scene_seed(seed, split, i)) for split, names in ids.items()
             for i, n in enumerate(names)]
    total = len(items)
    if workers is None:
        workers = 2 if total >= 256 and (os.cpu_count() or 1) > 1 else 1
    chunk = 16
    jobs = [(str(root), layout, packaging, family, size, items[i:i + chunk])
            for i in range(0, total, chunk)]
    bar = Progress(total, desc=f'synthetic {layout}/{family}', unit='scene', enabled=progress)
    meta = {}
    start = time.perf_counter()
    if workers > 1:
        # fork avoids re-importing the (torch-importing) parent packages in every worker
        method = 'fork' if 'fork' in get_all_start_methods() else 'spawn'
        with get_context(method).Pool(workers) as pool:
            for n, m in pool.imap_unordered(_work, jobs):
                meta.update(m)
                bar.update(n)
    else:
        for job in jobs:
            n, m = _work(job)
            meta.update(m)
            bar.update(n)
    elapsed = time.perf_counter() - start
    bar.close()
    info = {'generator': 'mtbench.datasets.synthetic', 'version': GENERATOR_VERSION,
            'layout': layout, 'packaging': packaging, 'family': family, 'seed': int(seed),
            'size': list(size), 'num_train': num_train, 'num_val': num_val,
            'depth': 'camera z in metres, 0 = invalid',
            'normals': 'camera frame, x right, y up, z towards the camera; zero = invalid',
            'classes': list(VOC_CLASSES if layout == 'pascal-mt' else NYU40_CLASSES),
            'images': {k: meta[k] for k in sorted(meta)}}
    (root / META_FILE).write_text(json.dumps(info, indent=1, sort_keys=True) + '\n')
    if progress:
        print(f'generated {total} scenes in {elapsed:.2f} s ({total / max(elapsed, 1e-9):.1f} '
              f'scenes/s, {workers} worker{"s" if workers > 1 else ""}) -> {root}')
    return root
