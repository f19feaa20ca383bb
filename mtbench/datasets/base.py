"""Shared machinery of the multi-task dense prediction datasets: file reading and the base class.

The readers raise one clear exception naming the file when it is missing or unreadable; the
datasets validate that every file of the split exists at initialisation and read content lazily,
one sample at a time.

Example:
    >>> ds = PascalContextMT('data/PASCAL_MT', split='val', tasks=('semseg',), lazy_init=True)
    >>> ds.full_init(); ds.metainfo['file_list_checksum']  # doctest: +SKIP
    'sha256:...'
"""
import copy
import hashlib
import io
import os
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
from mmengine.dataset import BaseDataset

from mtbench.errors import ConfigError, DataError, MissingPathError
from mtbench.registry import TRANSFORMS
from mtbench.tasks import TASKS, check_tasks

__all__ = [
    'MultiTaskDataset', 'file_list_checksum', 'read_bytes', 'read_rgb', 'read_png', 'read_npy',
    'read_mat', 'read_split_ids',
]

PathLike = Union[str, Path]


def read_bytes(path: PathLike) -> bytes:
    """Read a whole file, raising FileNotFoundError naming it when it is missing."""
    try:
        with open(path, 'rb') as f:
            return f.read()
    except FileNotFoundError:
        raise MissingPathError(f'missing file {path}; the dataset layout expects it '
                               '(tools/dataset_converters/check_dataset.py lists every '
                               'missing file)') from None


def _open_pil(path: PathLike, data: Optional[bytes], what: str):
    from PIL import Image
    data = read_bytes(path) if data is None else data
    try:
        img = Image.open(io.BytesIO(data))
        img.load()
    except Exception as err:  # PIL raises many types for corrupt files
        raise DataError(f'Cannot read {what} {path}: expected a readable image file '
                         f'({type(err).__name__}: {err})') from None
    return img


def read_rgb(path: PathLike, data: Optional[bytes] = None) -> np.ndarray:
    """Decode an image file as H x W x 3 uint8 RGB (PIL, as the reference loaders do)."""
    return np.asarray(_open_pil(path, data, 'image').convert('RGB'), dtype=np.uint8).copy()


def read_png(path: PathLike, data: Optional[bytes] = None) -> np.ndarray:
    """Decode a label/target image as stored (palette indices stay indices, no colour mapping)."""
    return np.array(_open_pil(path, data, 'label image'))


def read_npy(path: PathLike, data: Optional[bytes] = None) -> np.ndarray:
    """Load a ``.npy`` array, raising ValueError naming the file when it is corrupt."""
    data = read_bytes(path) if data is None else data
    try:
        return np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as err:
        raise DataError(f'Cannot read {path}: expected a .npy array '
                         f'({type(err).__name__}: {err})') from None


def read_mat(path: PathLike, keys: Sequence[str], data: Optional[bytes] = None) -> dict:
    """Load variables ``keys`` of a MATLAB ``.mat`` file, raising ValueError if absent/corrupt."""
    from scipy.io import loadmat
    data = read_bytes(path) if data is None else data
    try:
        mat = loadmat(io.BytesIO(data), variable_names=list(keys))
    except Exception as err:
        raise DataError(f'Cannot read {path}: expected a MATLAB .mat file '
                         f'({type(err).__name__}: {err})') from None
    missing = [k for k in keys if k not in mat]
    if missing:
        raise DataError(f'{path} has no variable {missing[0]!r}; expected variables: '
                         f'{", ".join(keys)}')
    return mat


def read_split_ids(split_file: PathLike) -> List[str]:
    """Read one id per line (blank lines skipped), raising when the file is missing or empty."""
    split_file = Path(split_file)
    if not split_file.is_file():
        raise MissingPathError(f'Missing split file {split_file} (one image id per line); '
                               'check data_root and the dataset layout (docs/datasets.md)')
    ids = [line.strip() for line in split_file.read_text().splitlines() if line.strip()]
    if not ids:
        raise DataError(f'split file {split_file} lists no image ids; it needs one image id '
                        'per line')
    return ids


def file_list_checksum(root: PathLike, rel_paths: Sequence[str]) -> str:
    """Cheap identity of a file set: sha256 over the sorted ``relpath<TAB>size`` lines.

    No content is read; ``check_dataset`` computes content hashes. The same function is used by
    the datasets and by ``check_dataset`` so their values agree.
    """
    root = Path(root)
    h = hashlib.sha256()
    for rel in sorted(set(rel_paths)):
        h.update(f'{rel}\t{os.path.getsize(root / rel)}\n'.encode())
    return 'sha256:' + h.hexdigest()


class MultiTaskDataset(BaseDataset):
    """Base of the multi-task datasets; subclasses describe their layout and readers.

    A subclass sets ``DATASET_NAME``, ``SPLIT_FILES``, ``CLASSES`` and implements
    ``_detect_variant``, ``_sample_files`` and ``load_targets``.

    Args:
        data_root: dataset root (the ``PASCAL_MT`` or ``NYUD_MT`` folder).
        split: 'train' or 'val'.
        tasks: tasks to load (see ``mtbench.tasks``); default every task of the dataset.
        pipeline: transform configs (built from mtbench's ``TRANSFORMS``) or callables.
        require_all_tasks: validate (and checksum) the files of every task of the dataset, as
            the reference loaders do; ``False`` restricts both to ``tasks``.
        strict_size: raise when a target's size differs from the image's; ``False`` resizes the
            target to the image size instead (nearest, cubic for normals) as the reference does.
        cache_samples: keep every decoded sample (image and targets, before the pipeline) in
            memory after its first read, so later epochs skip file decoding. Meant for small
            sets (the synthetic benchmark); with persistent workers each worker keeps its own.
        test_mode, lazy_init, serialize_data, indices, max_refetch: as in mmengine's
            ``BaseDataset``.
    """
    DATASET_NAME = ''
    SPLIT_FILES: Dict[str, str] = {}
    CLASSES: Dict[str, Tuple[str, ...]] = {}

    def __init__(self,
                 data_root: PathLike,
                 split: str = 'train',
                 tasks: Optional[Sequence[str]] = None,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 require_all_tasks: bool = True,
                 strict_size: bool = True,
                 cache_samples: bool = False,
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 serialize_data: bool = True,
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 max_refetch: int = 1000):
        all_tasks = self.dataset_tasks()
        tasks = tuple(dict.fromkeys(all_tasks if tasks is None else tasks))
        check_tasks(tasks, self.DATASET_NAME)
        if not tasks:
            raise ConfigError(f'{type(self).__name__}: tasks must name at least one of '
                              f'{", ".join(all_tasks)}')
        if split not in self.SPLIT_FILES:
            raise ConfigError(f'{type(self).__name__}: unknown split {split!r}; expected one '
                              f'of {", ".join(self.SPLIT_FILES)}')
        self.split = split
        self.tasks = tasks
        self.require_all_tasks = require_all_tasks
        self.strict_size = strict_size
        self.cache_samples = cache_samples
        self._sample_cache: Dict[int, dict] = {}
        built = [TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline]
        metainfo = dict(dataset_name=self.DATASET_NAME, split=split, tasks=list(tasks),
                        classes=list(self.CLASSES.get('semseg', ())),
                        task_classes={t: list(c) for t, c in self.CLASSES.items() if t in tasks},
                        variant=None, file_list_checksum=None, num_images=None,
                        split_num_images=None)
        super().__init__(ann_file='', metainfo=metainfo, data_root=str(data_root),
                         data_prefix=dict(), pipeline=built, test_mode=test_mode,
                         lazy_init=lazy_init, serialize_data=serialize_data, indices=indices,
                         max_refetch=max_refetch)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        # Plain merge: mmengine's version treats every string value as a possible file name.
        merged = copy.deepcopy(cls.METAINFO)
        merged.update(copy.deepcopy(dict(metainfo or {})))
        return merged

    @classmethod
    def dataset_tasks(cls) -> Tuple[str, ...]:
        """Every task this dataset provides, in ``mtbench.tasks.TASKS`` order."""
        return tuple(t for t, spec in TASKS.items() if cls.DATASET_NAME in spec.outputs)

    # -- layout, implemented by subclasses ---------------------------------------------------
    @classmethod
    def _detect_variant(cls, root: Path, ids: Sequence[str]) -> str:
        raise NotImplementedError

    @classmethod
    def _sample_files(cls, root: Path, img_id: str, variant: str, tasks: Sequence[str]
                      ) -> Tuple[str, Dict[str, str], List[str]]:
        """Return (image relpath, {task: relpath of its main file}, extra relpaths)."""
        raise NotImplementedError

    def load_targets(self, info: dict, img_shape: Tuple[int, int]) -> Dict[str, np.ndarray]:
        """Read and convert the targets of one sample (``info`` from ``get_data_info``)."""
        raise NotImplementedError

    # -- shared implementation ---------------------------------------------------------------
    @classmethod
    def collect_files(cls, data_root: PathLike, split: str, tasks: Optional[Sequence[str]] = None
                      ) -> Tuple[str, List[dict], List[str], List[str]]:
        """List the files a split uses without raising on missing ones.

        Returns:
            (variant, samples, used relpaths, missing relpaths); each sample is a dict with
            ``img_id``, ``img_path``, ``gt_paths`` ({task: relpath}) and ``extra_paths``.
        """
        root = Path(data_root)
        if not root.is_dir():
            raise MissingPathError(f'{cls.DATASET_NAME}: data root {root} does not exist or is '
                                   'not a directory; put the dataset there (docs/datasets.md) '
                                   'or set data_root with --cfg-options')
        split_rel = cls.SPLIT_FILES[split]
        ids = read_split_ids(root / split_rel)
        variant = cls._detect_variant(root, ids)
        tasks = cls.dataset_tasks() if tasks is None else tuple(tasks)
        samples, used, missing = [], [split_rel], []
        for img_id in ids:
            img_rel, gt_rel, extra = cls._sample_files(root, img_id, variant, tasks)
            rels = [img_rel, *gt_rel.values(), *extra]
            samples.append(dict(img_id=img_id, img_path=img_rel, gt_paths=gt_rel,
                                extra_paths=list(extra)))
            for rel in dict.fromkeys(rels):
                if os.path.isfile(root / rel):
                    used.append(rel)
                else:
                    missing.append(rel)
        return variant, samples, used, missing

    def load_data_list(self) -> List[dict]:
        """Validate the split's files, fill ``metainfo`` and return the sample list."""
        tasks = None if self.require_all_tasks else self.tasks
        variant, samples, used, missing = self.collect_files(self.data_root, self.split, tasks)
        if missing:
            shown = '\n  '.join(missing[:10])
            more = f'\n  ... and {len(missing) - 10} more' if len(missing) > 10 else ''
            raise MissingPathError(
                f'{self.DATASET_NAME} {self.split}: {len(missing)} file(s) listed by '
                f'{self.SPLIT_FILES[self.split]} are missing under {self.data_root}:\n  '
                f'{shown}{more}')
        self._metainfo.update(variant=variant, split_num_images=len(samples),
                              file_list_checksum=file_list_checksum(self.data_root, used))
        for s in samples:
            s['img_path'] = os.path.join(self.data_root, s['img_path'])
            s['gt_paths'] = {t: os.path.join(self.data_root, p)
                             for t, p in s['gt_paths'].items() if t in self.tasks}
            s['extra_paths'] = [os.path.join(self.data_root, p) for p in s['extra_paths']]
            s['variant'] = variant
        return samples

    def full_init(self) -> None:
        """Load the sample list (see :meth:`load_data_list`); ``num_images`` counts the subset."""
        if self._fully_initialized:
            return
        super().full_init()
        self._metainfo['num_images'] = len(self)

    def load_sample(self, info: dict) -> dict:
        """Read one sample into the mmcv results dict of ``docs/conventions.md``."""
        img = read_rgb(info['img_path'])
        shape = img.shape[:2]
        gt = self.load_targets(info, shape)
        for task, arr in gt.items():
            if arr.shape[:2] != shape:
                if self.strict_size:
                    raise DataError(
                        f'{info["gt_paths"].get(task, task)}: {task} target is '
                        f'{arr.shape[0]}x{arr.shape[1]} but image {info["img_path"]} is '
                        f'{shape[0]}x{shape[1]}; expected equal sizes')
                gt[task] = _resize_to(arr, shape, TASKS[task].kind)
        return dict(img=img, gt={t: gt[t] for t in self.tasks}, img_id=info['img_id'],
                    ori_shape=tuple(int(s) for s in shape), img_path=info['img_path'],
                    sample_idx=info.get('sample_idx'))

    def prepare_data(self, idx: int):
        """Load sample ``idx`` (from the cache with ``cache_samples``) and run the pipeline."""
        if not self.cache_samples:
            return self.pipeline(self.load_sample(self.get_data_info(idx)))
        if idx not in self._sample_cache:
            self._sample_cache[idx] = self.load_sample(self.get_data_info(idx))
        cached = self._sample_cache[idx]
        sample = dict(cached, img=cached['img'].copy(),
                      gt={t: a.copy() for t, a in cached['gt'].items()})
        return self.pipeline(sample)


def _resize_to(arr: np.ndarray, shape: Tuple[int, int], kind: str) -> np.ndarray:
    import cv2
    interp = cv2.INTER_CUBIC if kind == 'vector' else cv2.INTER_NEAREST
    return cv2.resize(arr, (shape[1], shape[0]), interpolation=interp)
