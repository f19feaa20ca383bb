"""Atomic file writes: a file is either its old self or completely new, never half-written.

Every write of a checkpoint, result record, cache stamp or leaderboard file goes through a
temporary file in the same folder, flushed to disk, then ``os.replace``-d onto the target (an
atomic rename on POSIX). A process killed mid-write leaves the previous file intact and at most
a ``.tmp-*`` file behind.

Example:
    >>> with atomic_open('leaderboard/README.md') as f:  # doctest: +SKIP
    ...     f.write(text)
"""
import json
import os
import os.path as osp
import shutil
import tempfile
from contextlib import contextmanager
from typing import IO, Iterator

__all__ = ['atomic_open', 'write_bytes_atomic', 'write_text_atomic', 'write_json_atomic',
           'copy_atomic', 'torch_save_atomic', 'install_atomic_checkpoint_writes']


@contextmanager
def atomic_open(path, mode: str = 'w', encoding: str = None, newline: str = None
                ) -> Iterator[IO]:
    """Open a temporary file beside ``path`` for writing; it replaces ``path`` on success.

    Args:
        path: the target file (its folder is created).
        mode: ``'w'`` (text) or ``'wb'``.
        encoding, newline: as for :func:`open` (text mode).
    """
    if mode not in ('w', 'wb'):
        raise ValueError(f"atomic_open mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = osp.dirname(osp.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.tmp-{osp.basename(path)}-', dir=directory)
    try:
        kwargs = {} if 'b' in mode else dict(encoding=encoding or 'utf-8', newline=newline)
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def write_bytes_atomic(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, 'wb') as f:
        f.write(data)


def write_text_atomic(path, text: str, newline: str = '\n') -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    with atomic_open(path, 'w', newline=newline) as f:
        f.write(text)


def write_json_atomic(path, obj) -> None:
    """Write ``obj`` as indented, key-sorted JSON to ``path`` atomically."""
    with atomic_open(path, 'w') as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write('\n')


def copy_atomic(src, dst) -> None:
    """Copy the file ``src`` to ``dst`` atomically."""
    with open(src, 'rb') as fin, atomic_open(dst, 'wb') as fout:
        shutil.copyfileobj(fin, fout)


def torch_save_atomic(obj, path) -> None:
    """``torch.save(obj, path)`` atomically."""
    import torch
    with atomic_open(path, 'wb') as f:
        torch.save(obj, f)


def install_atomic_checkpoint_writes() -> None:
    """Make mmengine's local file backend write atomically (checkpoints, ``last_checkpoint``).

    mmengine's ``save_checkpoint`` serialises a checkpoint to bytes and hands them to
    ``LocalBackend.put``, which writes the target in place; a run killed during that write would
    leave a truncated checkpoint that ``--resume`` then picks up. Idempotent.
    """
    from mmengine.fileio.backends.local_backend import LocalBackend
    if getattr(LocalBackend.put, '_mtbench_atomic', False):
        return

    def put(self, obj: bytes, filepath) -> None:
        write_bytes_atomic(filepath, obj)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        write_bytes_atomic(filepath, obj.encode(encoding))

    put._mtbench_atomic = True
    LocalBackend.put = put
    LocalBackend.put_text = put_text
