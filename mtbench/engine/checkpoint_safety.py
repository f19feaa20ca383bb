"""Safe checkpoint loading on torch >= 2.6 (``weights_only=True`` unpickling).

mmengine 0.10.7 stores a few Python objects in its checkpoints (the message hub's
:class:`~mmengine.logging.HistoryBuffer` and numpy arrays/scalars). torch >= 2.6 refuses to unpickle
them by default, which breaks ``--resume``. Instead of switching the process to unsafe unpickling,
mtbench allow-lists exactly these globals and replaces mmengine's local-file loader with one that
keeps ``weights_only=True`` and turns a refusal into a clear error.
"""
import pickle

import numpy as np
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import CheckpointLoader

from mtbench.errors import CheckpointError, MissingPathError

__all__ = ['SAFE_GLOBALS', 'UnsafeCheckpointError', 'register_safe_globals', 'safe_torch_load']


def _numpy_globals() -> list:
    multiarray = np._core.multiarray if hasattr(np, '_core') else np.core.multiarray
    dtypes = [type(np.dtype(t)) for t in (np.float16, np.float32, np.float64, np.int8, np.int16,
                                          np.int32, np.int64, np.uint8, np.bool_)]
    return [multiarray._reconstruct, multiarray.scalar, np.ndarray, np.dtype, *dtypes]


def _history_buffer_getattr(obj, name: str):
    """Stand-in for ``getattr`` while unpickling: only ``HistoryBuffer.<statistics method>``.

    mmengine pickles a HistoryBuffer's statistics methods (min/max/current/mean and any registered
    one) as ``getattr(HistoryBuffer, name)``. Allow-listing the real ``getattr`` would let a
    checkpoint reach arbitrary attributes, so only these lookups are permitted.
    """
    allowed = set(HistoryBuffer._statistics_methods) | {'min', 'max', 'current', 'mean'}
    if obj is HistoryBuffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(f'GLOBAL builtins.getattr({obj!r}, {name!r}) is not allowed')


SAFE_GLOBALS = [HistoryBuffer, *_numpy_globals(), (_history_buffer_getattr, 'builtins.getattr')]


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint holds a pickled object outside the allow-list; it was not executed."""


def register_safe_globals() -> None:
    """Allow-list the globals mmengine's Runner writes into checkpoints (idempotent)."""
    torch.serialization.add_safe_globals(SAFE_GLOBALS)


def safe_torch_load(filename, map_location=None):
    """``torch.load(weights_only=True)`` with mtbench's allow-list and a clear refusal message.

    Raises:
        MissingPathError: the file does not exist.
        UnsafeCheckpointError: the file needs a global that is not allow-listed.
        CheckpointError: the file is not a checkpoint, or is truncated.
    """
    register_safe_globals()
    try:
        return torch.load(filename, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise MissingPathError(f'checkpoint not found: {filename}; check the path') from None
    except IsADirectoryError:
        raise CheckpointError(f'{filename} is a directory, not a checkpoint file; name a .pth '
                              'file in it') from None
    except pickle.UnpicklingError as err:
        if 'weights only' not in str(err).lower() and 'weights_only' not in str(err).lower():
            raise CheckpointError(f'{filename} is not a checkpoint (unpickling failed: {err}); '
                                  'name a .pth file saved by mtbench or mmengine') from None
        detail = str(err).strip().splitlines()
        reason = next((line for line in detail if 'GLOBAL' in line or 'global' in line),
                      detail[0] if detail else '')
        raise UnsafeCheckpointError(
            f'refusing to load {filename}: it contains a pickled object that mtbench does not '
            f'allow-list, and loading it could execute code. ({reason.strip()}) Only load '
            'checkpoints you trust; to inspect a trusted file use '
            'torch.load(path, weights_only=False) yourself.') from None
    except Exception as err:  # torch.load raises many types for non-checkpoint files
        first = str(err).strip().splitlines()[0] if str(err).strip() else ''
        raise CheckpointError(f'{filename} is not a readable checkpoint ({type(err).__name__}: '
                              f'{first}); it may be truncated (a run killed while saving?) or '
                              'another kind of file: use another checkpoint of the run') from None


@CheckpointLoader.register_scheme(prefixes='', force=True)
def _load_local_checkpoint(filename, map_location=None, logger=None):
    """mmengine loader for local files, replaced to keep ``weights_only=True``."""
    return safe_torch_load(filename, map_location=map_location)


register_safe_globals()
