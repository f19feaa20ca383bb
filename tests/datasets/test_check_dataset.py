"""check_dataset: layout, split sizes, readability, sizes, value ranges, index JSON."""
import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from mtbench.datasets import NYUDv2MT, PascalContextMT
from mtbench.datasets.checks import check_dataset

REPO = Path(__file__).resolve().parents[2]


def _load(name, path):
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


trees = _load('_mtbench_dataset_trees', Path(__file__).with_name('test_loaders.py'))
cli = _load('_mtbench_check_dataset_cli', REPO / 'tools/dataset_converters/check_dataset.py')


@pytest.fixture
def pascal_root(tmp_path):
    return trees.make_pascal_tree(tmp_path / 'PASCAL_MT')


@pytest.fixture
def nyud_root(tmp_path):
    return trees.make_nyud_tree(tmp_path / 'NYUD_MT')


def test_valid_tree_and_index(pascal_root, tmp_path, capsys):
    index = tmp_path / 'out/index.json'
    assert cli.main([str(pascal_root), '--dataset', 'pascal-mt', '--allow-any-split-size',
                     '--index-out', str(index), '--quiet']) == 0
    assert 'OK' in capsys.readouterr().out
    doc = json.loads(index.read_text())
    assert doc['ok'] and doc['dataset'] == 'pascal-mt' and doc['variant'] == 'voc12'
    rel = 'human_parts/2008_000002.mat'
    assert doc['files'][rel]['sha256'] == hashlib.sha256((pascal_root / rel).read_bytes()
                                                         ).hexdigest()
    assert 'ImageSets/Context/val.txt' in doc['files']
    assert len(doc['files']) == 2 + 5 * 6  # split files + 6 files per id
    for split in ('train', 'val'):
        ds = PascalContextMT(pascal_root, split=split, tasks=['semseg'])
        assert doc['splits'][split]['file_list_checksum'] == ds.metainfo['file_list_checksum']
        assert doc['splits'][split]['content_checksum'].startswith('sha256:')


@pytest.mark.parametrize('packaging', ['jpg-npy', 'png-npy'])
def test_valid_nyud(tmp_path, packaging):
    root = trees.make_nyud_tree(tmp_path / 'N', packaging)
    report = check_dataset(root, 'nyud-mt', allow_any_split_size=True)
    assert report.ok, report.problems
    assert report.variant == packaging
    assert report.splits['val']['file_list_checksum'] == \
        NYUDv2MT(root, split='val').metainfo['file_list_checksum']


def test_standard_split_sizes_enforced(nyud_root, capsys):
    assert cli.main([str(nyud_root), '--dataset', 'nyud-mt', '--quiet']) == 1
    err = capsys.readouterr().err
    assert 'gt_sets/train.txt: 2 ids, expected the standard 795' in err
    assert 'gt_sets/val.txt: 1 ids, expected the standard 654' in err


def test_missing_root_and_split(tmp_path, pascal_root):
    report = check_dataset(tmp_path / 'nothing', 'pascal-mt')
    assert not report.ok and 'does not exist' in report.problems[0]
    (pascal_root / 'ImageSets/Context/train.txt').unlink()
    report = check_dataset(pascal_root, 'pascal-mt', allow_any_split_size=True)
    assert any('Missing split file' in p and 'train.txt' in p for p in report.problems)
    assert 'val' in report.splits


def test_pascal_problems_name_files(pascal_root):
    r = pascal_root
    sem = np.zeros((trees.H, trees.W), np.uint8)
    sem[0, 0] = 50
    Image.fromarray(sem).save(r / 'semseg/VOC12/2008_000002.png')
    Image.fromarray(np.zeros((trees.H, trees.W, 3), np.uint8)).save(
        r / 'sal_distill/2008_000003.png')
    Image.fromarray(np.full((trees.H, trees.W, 3), 128, np.uint8)).save(
        r / 'normals_distill/2008_000007.png')
    scipy.io.savemat(r / 'pascal-context/trainval/2008_000009.mat',
                     {'LabelMap': np.full((5, 5), 3, np.uint16)})
    scipy.io.savemat(r / 'pascal-context/trainval/2008_000015.mat',
                     {'LabelMap': np.full((trees.H, trees.W), 600, np.uint16)})
    (r / 'human_parts/2008_000015.mat').write_bytes(b'broken')
    (r / 'JPEGImages/2008_000003.jpg').unlink()
    problems = '\n'.join(check_dataset(r, 'pascal-mt', allow_any_split_size=True).problems)
    assert 'semseg/VOC12/2008_000002.png: semseg values (0..20, 255) outside the allowed ' \
           'set: [50]' in problems
    assert 'JPEGImages/2008_000003.jpg: missing (listed by ImageSets/Context/train.txt)' \
        in problems
    assert 'normals_distill/2008_000007.png: normals are not unit vectors' in problems
    assert 'pascal-context/trainval/2008_000009.mat: size 5x5 differs from the image size ' \
           '20x30' in problems
    assert 'pascal-context/trainval/2008_000015.mat: LabelMap values must be integers' \
        in problems
    assert 'human_parts/2008_000015.mat: Cannot read' in problems


def test_nyud_problems_name_files(nyud_root):
    r = nyud_root
    d = np.load(r / 'depth/0003.npy')
    d[5, 5] = np.nan
    np.save(r / 'depth/0003.npy', d)
    np.save(r / 'depth/0004.npy', -np.ones((trees.H, trees.W), np.float32))
    np.save(r / 'edge/0011.npy', np.full((trees.H, trees.W), 3, np.float32))
    np.save(r / 'normals/0004.npy', np.full((trees.H, trees.W, 3), 2.0, np.float32))
    Image.fromarray(np.full((trees.H, trees.W), 41, np.uint8)).save(r / 'segmentation/0011.png')
    (r / 'images/0004.jpg').write_bytes(b'no image')
    (r / 'gt_sets/val.txt').write_text('0011\n0003\n0011\n')
    problems = '\n'.join(check_dataset(r, 'nyud-mt', allow_any_split_size=True).problems)
    assert 'depth/0003.npy: depth has non-finite values' in problems
    assert 'edge/0011.npy: edge values outside the allowed set: [3.0]' in problems
    assert 'segmentation/0011.png: segmentation values (0..40) outside the allowed set: [41]' \
        in problems
    assert 'images/0004.jpg: Cannot read image' in problems
    assert "gt_sets/val.txt: duplicated ids ['0011']" in problems
    assert "train and val share 1 ids, e.g. ['0003']" in problems


def test_nyud_range_checks_after_image_ok(nyud_root):
    np.save(nyud_root / 'depth/0004.npy', -np.ones((trees.H, trees.W), np.float32))
    np.save(nyud_root / 'normals/0004.npy', np.full((trees.H, trees.W, 3), 2.0, np.float32))
    problems = '\n'.join(check_dataset(nyud_root, 'nyud-mt', allow_any_split_size=True,
                                       hash_files=False).problems)
    assert 'depth/0004.npy: depth has negative values (min -1.0)' in problems
    assert 'normals/0004.npy: normals must lie in [-1, 1]' in problems


def test_synthetic_trees_pass_check(synthetic_pascal, synthetic_nyud):
    for root, name in ((synthetic_pascal, 'pascal-mt'), (synthetic_nyud, 'nyud-mt')):
        report = check_dataset(root, name, allow_any_split_size=True)
        assert report.ok, report.problems[:10]
