"""Full validation of a ``PASCAL_MT`` / ``NYUD_MT`` tree, with a content index (sha256 per file).

Used by ``tools/dataset_converters/check_dataset.py``. Every problem names the offending file;
nothing stops at the first one.

Example:
    >>> report = check_dataset('data/NYUD_MT', 'nyud-mt')  # doctest: +SKIP
    >>> report.ok, report.problems[:3]  # doctest: +SKIP
"""
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import numpy as np

from .base import file_list_checksum, read_bytes, read_mat, read_npy, read_png, read_rgb
from mtbench.fileio import write_text_atomic

from .nyud_mt import NYUDv2MT
from .pascal_mt import PascalContextMT, parse_human_parts

__all__ = ['STANDARD_SPLIT_SIZES', 'DATASETS_BY_NAME', 'CheckReport', 'check_dataset']

STANDARD_SPLIT_SIZES = {'pascal-mt': {'train': 4998, 'val': 5105},
                        'nyud-mt': {'train': 795, 'val': 654}}
DATASETS_BY_NAME = {'pascal-mt': PascalContextMT, 'nyud-mt': NYUDv2MT}
_NUM_CONTEXT_CLASSES = 459
_UNIT_TOL = 0.1


@dataclass
class CheckReport:
    """Outcome of :func:`check_dataset`.

    Attributes:
        dataset: 'pascal-mt' or 'nyud-mt'.
        data_root: the checked root.
        variant: the detected packaging (as ``metainfo['variant']``).
        problems: one line per problem, each naming the file.
        splits: per split: ``num_images``, ``split_file``, ``file_list_checksum`` (as the
            datasets compute it) and ``content_checksum`` (sha256 over path + file sha256).
        files: {relpath: {'size': int, 'sha256': str}} of every file read.
    """
    dataset: str
    data_root: str
    variant: Optional[str] = None
    problems: List[str] = field(default_factory=list)
    splits: Dict[str, dict] = field(default_factory=dict)
    files: Dict[str, dict] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems

    def index(self) -> dict:
        """The index document written by ``--index-out``."""
        return dict(index_version=1, dataset=self.dataset, data_root=self.data_root,
                    variant=self.variant, ok=self.ok, problems=self.problems, splits=self.splits,
                    files=dict(sorted(self.files.items())))

    def write_index(self, path) -> None:
        """Write :meth:`index` as JSON to ``path``."""
        write_text_atomic(path, json.dumps(self.index(), indent=1) + '\n')


def _value_problem(arr: np.ndarray, allowed: np.ndarray, what: str) -> Optional[str]:
    bad = np.setdiff1d(np.unique(arr), allowed)
    if bad.size:
        return f'{what} outside the allowed set: {bad[:8].tolist()}'
    return None


def _unit_problem(vec: np.ndarray) -> Optional[str]:
    norm = np.sqrt((vec.astype(np.float64) ** 2).sum(axis=-1))
    norm = norm[norm > 0]
    if norm.size and abs(float(np.median(norm)) - 1.0) > _UNIT_TOL:
        return f'normals are not unit vectors (median norm {float(np.median(norm)):.3f})'
    return None


def _check_pascal(task: str, path: str, data: bytes, shape: Tuple[int, int]) -> List[str]:
    if task == 'semseg':
        arr = read_png(path, data)
        if arr.ndim != 2:
            return [f'semseg must be single-channel, got shape {arr.shape}']
        return [p for p in [_value_problem(arr, np.r_[0:21, 255], 'semseg values (0..20, 255)'),
                            _size_problem(arr, shape)] if p]
    if task == 'human_parts':
        parts = parse_human_parts(read_mat(path, ['anno'], data)['anno'], shape, path)
        return [p for p in [_size_problem(parts, shape)] if p]
    if task == 'saliency':
        arr = read_png(path, data)
        probs = [] if arr.ndim == 2 else [f'saliency must be grayscale, got shape {arr.shape}']
        if arr.dtype != np.uint8:
            probs.append(f'saliency must be 8-bit (0..255), got {arr.dtype}')
        return probs + [p for p in [_size_problem(arr, shape)] if p]
    if task == 'normals':
        arr = read_png(path, data)
        if arr.ndim != 3 or arr.shape[2] < 3 or arr.dtype != np.uint8:
            return [f'normals must be an 8-bit RGB image, got {arr.dtype} {arr.shape}']
        vec = 2.0 * arr[..., :3].astype(np.float32) / 255.0 - 1.0
        return [p for p in [_unit_problem(vec), _size_problem(arr, shape)] if p]
    # 'label_map': the PASCAL-Context LabelMap (edges and the normals validity mask)
    lm = read_mat(path, ['LabelMap'], data)['LabelMap']
    if lm.ndim != 2:
        return [f'LabelMap must be 2-D, got shape {lm.shape}']
    probs = [_size_problem(lm, shape)]
    if lm.size and (lm.min() < 0 or lm.max() > _NUM_CONTEXT_CLASSES or
                    not np.array_equal(lm, np.round(lm))):
        probs.append(f'LabelMap values must be integers in 0..{_NUM_CONTEXT_CLASSES}, got '
                     f'{lm.min()}..{lm.max()}')
    return [p for p in probs if p]


def _check_nyud(task: str, path: str, data: bytes, shape: Tuple[int, int]) -> List[str]:
    raw = read_npy(path, data) if path.endswith('.npy') else read_png(path, data)
    if task == 'semseg':
        if raw.ndim != 2:
            return [f'segmentation must be single-channel, got shape {raw.shape}']
        return [p for p in [_value_problem(raw, np.arange(41), 'segmentation values (0..40)'),
                            _size_problem(raw, shape)] if p]
    if task == 'depth':
        arr = np.squeeze(raw)
        if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.number):
            return [f'depth must be a 2-D numeric array, got {arr.dtype} {raw.shape}']
        probs = [_size_problem(arr, shape)]
        if not np.isfinite(arr).all():
            probs.append('depth has non-finite values')
        elif arr.size and arr.min() < 0:
            probs.append(f'depth has negative values (min {arr.min()})')
        return [p for p in probs if p]
    if task == 'normals':
        if raw.ndim != 3 or raw.shape[2] != 3:
            return [f'normals must be H x W x 3, got shape {raw.shape}']
        if path.endswith('.png'):
            vec = 2.0 * raw.astype(np.float32) / 255.0 - 1.0
            vec[(raw == 0).all(axis=2)] = 0.0
        else:
            vec = raw.astype(np.float64)
            if not np.isfinite(vec).all():
                return ['normals have non-finite values']
            if np.abs(vec).max(initial=0) > 1.0 + 1e-3:
                return [f'normals must lie in [-1, 1], got max |v| {np.abs(vec).max():.3f}']
        return [p for p in [_unit_problem(vec), _size_problem(raw, shape)] if p]
    arr = np.squeeze(raw)  # edge
    if arr.ndim != 2:
        return [f'edge must be 2-D, got shape {raw.shape}']
    allowed = np.array([0, 1, 255]) if path.endswith('.png') else np.array([0, 1])
    return [p for p in [_value_problem(arr, allowed, 'edge values'), _size_problem(arr, shape)]
            if p]


def _size_problem(arr: np.ndarray, shape: Tuple[int, int]) -> Optional[str]:
    if tuple(arr.shape[:2]) != tuple(shape):
        return (f'size {arr.shape[0]}x{arr.shape[1]} differs from the image size '
                f'{shape[0]}x{shape[1]}')
    return None


_CHECKERS = {'pascal-mt': _check_pascal, 'nyud-mt': _check_nyud}


def _check_sample(job: Tuple[str, str, dict, bool]) -> Tuple[List[str], Dict[str, dict]]:
    """Validate and hash the files of one sample; returns (problems, {relpath: file entry})."""
    dataset, root, sample, hash_files = job
    problems, files = [], {}

    def load(rel):
        data = read_bytes(Path(root) / rel)
        files[rel] = dict(size=len(data),
                          sha256=hashlib.sha256(data).hexdigest() if hash_files else None)
        return data

    rel = sample['img_path']
    try:
        shape = read_rgb(Path(root) / rel, load(rel)).shape[:2]
    except (OSError, ValueError) as err:
        return [f'{rel}: {err}'], files
    done = set()
    entries = list(sample['gt_paths'].items()) + [('extra', p) for p in sample['extra_paths']]
    for task, rel in entries:
        if rel in done:  # PASCAL: the LabelMap serves edge and normals, checked once
            continue
        done.add(rel)
        key = 'label_map' if dataset == 'pascal-mt' and task in ('edge', 'extra') else task
        try:
            for problem in _CHECKERS[dataset](key, str(Path(root) / rel), load(rel), shape):
                problems.append(f'{rel}: {problem}')
        except (OSError, ValueError) as err:
            problems.append(f'{rel}: {err}')
    return problems, files


def check_dataset(data_root, dataset: str, allow_any_split_size: bool = False,
                  hash_files: bool = True, workers: int = 0,
                  progress: Optional[Callable[[int, int], None]] = None) -> CheckReport:
    """Validate layout, split sizes, readability, sizes and value ranges of every file.

    Args:
        data_root: the ``PASCAL_MT`` or ``NYUD_MT`` folder.
        dataset: 'pascal-mt' or 'nyud-mt'.
        allow_any_split_size: accept split sizes other than the standard ones.
        hash_files: compute a sha256 per file (for the index).
        workers: worker processes (0: in this process).
        progress: called as ``progress(done, total)`` after each sample.

    Returns:
        The :class:`CheckReport`; ``report.ok`` is False when anything is wrong.
    """
    if dataset not in DATASETS_BY_NAME:
        raise ValueError(f'Unknown dataset {dataset!r}; expected one of '
                         f'{", ".join(DATASETS_BY_NAME)}')
    cls = DATASETS_BY_NAME[dataset]
    root = Path(data_root)
    report = CheckReport(dataset=dataset, data_root=str(root.resolve()))
    if not root.is_dir():
        report.problems.append(f'{root}: data root does not exist or is not a directory')
        return report
    jobs, split_ids = [], {}
    for split, split_rel in cls.SPLIT_FILES.items():
        try:
            variant, samples, used, missing = cls.collect_files(root, split)
        except (OSError, ValueError) as err:
            report.problems.append(str(err))
            continue
        report.variant = report.variant or variant
        report.problems += [f'{rel}: missing (listed by {split_rel})' for rel in missing]
        ids = [s['img_id'] for s in samples]
        split_ids[split] = ids
        dups = sorted(i for i, n in Counter(ids).items() if n > 1)
        if dups:
            report.problems.append(f'{split_rel}: duplicated ids {dups[:8]}')
        expected = STANDARD_SPLIT_SIZES[dataset][split]
        if not allow_any_split_size and len(ids) != expected:
            report.problems.append(f'{split_rel}: {len(ids)} ids, expected the standard '
                                   f'{expected} (use --allow-any-split-size for subsets)')
        present = [rel for rel in used if rel not in set(missing)]
        report.splits[split] = dict(split_file=split_rel, num_images=len(ids), _used=present,
                                    file_list_checksum=(file_list_checksum(root, used)
                                                        if not missing else None))
        missing_set = set(missing)
        for s in samples:
            if s['img_path'] in missing_set:
                continue
            s = dict(s, gt_paths={t: p for t, p in s['gt_paths'].items() if p not in missing_set},
                     extra_paths=[p for p in s['extra_paths'] if p not in missing_set])
            jobs.append((dataset, str(root), s, hash_files))
    if len(split_ids) == 2:
        overlap = sorted(set(split_ids['train']) & set(split_ids['val']))
        if overlap:
            report.problems.append(f'train and val share {len(overlap)} ids, e.g. {overlap[:5]}')
    _run_jobs(jobs, workers, progress, report)
    for info in report.splits.values():
        used = info.pop('_used')
        if hash_files:
            h = hashlib.sha256()
            for rel in sorted(set(used)):
                if rel not in report.files:  # the split file itself
                    data = read_bytes(root / rel)
                    report.files[rel] = dict(size=len(data),
                                             sha256=hashlib.sha256(data).hexdigest())
                h.update(f'{rel}\t{report.files[rel]["sha256"]}\n'.encode())
            info['content_checksum'] = 'sha256:' + h.hexdigest()
    return report


def _run_jobs(jobs, workers, progress, report) -> None:
    if workers and workers > 1:
        import multiprocessing
        with multiprocessing.get_context('spawn').Pool(workers) as pool:
            results = pool.imap(_check_sample, jobs, chunksize=8)
            _collect(results, len(jobs), progress, report)
    else:
        _collect(map(_check_sample, jobs), len(jobs), progress, report)


def _collect(results, total, progress, report) -> None:
    for done, (problems, files) in enumerate(results, 1):
        report.problems += problems
        report.files.update(files)
        if progress is not None:
            progress(done, total)
