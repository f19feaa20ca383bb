"""Shared fixtures: small synthetic trees and tiny model configs."""
import os
import os.path as osp
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
SHARED = osp.normpath(osp.join(REPO, '..', 'shared'))
if REPO not in sys.path:
    sys.path.insert(0, REPO)
os.environ.setdefault('OMP_NUM_THREADS', '2')

from mtbench_fixtures import TINY_BACKBONE, tiny_model_cfg  # noqa: E402,F401


@pytest.fixture(scope='session')
def synthetic_pascal(tmp_path_factory):
    """A small synthetic PASCAL_MT tree (16 train / 8 val scenes, 64x64)."""
    from mtbench.datasets.synthetic import generate_dataset
    root = tmp_path_factory.mktemp('synthetic') / 'pascal'
    return str(generate_dataset('pascal-mt', root, 16, 8, size=(64, 64), seed=0,
                                progress=False))


@pytest.fixture(scope='session')
def synthetic_nyud(tmp_path_factory):
    """A small synthetic NYUD_MT tree (12 train / 6 val scenes, 64x64)."""
    from mtbench.datasets.synthetic import generate_dataset
    root = tmp_path_factory.mktemp('synthetic') / 'nyud'
    return str(generate_dataset('nyud-mt', root, 12, 6, size=(64, 64), seed=0,
                                progress=False))
