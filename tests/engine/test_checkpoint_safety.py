"""Safe loading of Runner checkpoints on torch >= 2.6 (weights_only unpickling)."""
import os

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer
from mmengine.runner.checkpoint import _load_checkpoint

from mtbench.engine.checkpoint_safety import UnsafeCheckpointError, safe_torch_load


class _Payload:
    """An object whose unpickling would run code."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def test_mmengine_objects_load_with_weights_only(tmp_path):
    buf = HistoryBuffer()
    buf.update(1.5)
    buf.update(np.float64(2.5))
    ckpt = {'state_dict': {'w': torch.ones(2)},
            'message_hub': {'log_scalars': {'train/loss': buf},
                            'runtime_info': {'x': np.float32(3.0), 'a': np.arange(3)}},
            'meta': {'seed': np.int64(7)}}
    path = tmp_path / 'ok.pth'
    torch.save(ckpt, path)
    loaded = _load_checkpoint(str(path), map_location='cpu')
    assert loaded['message_hub']['log_scalars']['train/loss'].mean() == 2.0
    assert loaded['message_hub']['runtime_info']['x'] == np.float32(3.0)
    assert loaded['meta']['seed'] == 7


def test_non_allow_listed_object_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'payload': _Payload()}, path)
    with pytest.raises(UnsafeCheckpointError, match='refusing to load'):
        _load_checkpoint(str(path), map_location='cpu')
    with pytest.raises(UnsafeCheckpointError, match='evil.pth'):
        safe_torch_load(str(path))


def test_missing_checkpoint_names_the_path(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        safe_torch_load(str(tmp_path / 'nope.pth'))


class _GetattrPayload:
    """Reaches a function's globals through ``getattr`` during unpickling."""

    def __reduce__(self):
        return (getattr, (HistoryBuffer, '__init__'))


def test_getattr_is_limited_to_history_buffer_statistics(tmp_path):
    path = tmp_path / 'getattr.pth'
    torch.save({'x': _GetattrPayload()}, path)
    with pytest.raises(UnsafeCheckpointError):
        safe_torch_load(str(path))
