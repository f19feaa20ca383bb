"""Shared paths and record factory for the leaderboard tests."""
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
for path in (str(HERE), str(ROOT)):
    if path not in sys.path:
        sys.path.insert(0, path)

from lb_factory import make_record  # noqa: E402

FIXTURES = HERE / 'fixtures'


@pytest.fixture
def record():
    """A fresh valid PASCAL 4-task record (full fine-tuning, seed 0)."""
    return make_record()


@pytest.fixture(scope='session')
def fixtures():
    """The fixture directory (results/, baselines/, published/, expected_README.md)."""
    return FIXTURES


@pytest.fixture(scope='session')
def repo_root():
    """The repository root."""
    return ROOT
