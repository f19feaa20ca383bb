"""Tests of the procedural synthetic data generator (``mtbench.datasets.synthetic``)."""
import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import scipy.io as sio
from PIL import Image

from mtbench.datasets.synthetic import (NYU_COMPATIBLE_CONTEXT_IDS, PART_NAMES,
                                        PERSON_PART_GROUPS, VOC_CLASSES, generate_dataset,
                                        render_scene)
from mtbench.datasets.synthetic.classes import OBJECT_PART_NAMES

REPO = Path(__file__).resolve().parents[2]
SIZE = (48, 64)


def _tree_digest(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def pascal_root(tmp_path_factory) -> Path:
    return generate_dataset('pascal-mt', tmp_path_factory.mktemp('syn') / 'PASCAL_MT', 12, 6,
                            size=SIZE, seed=3, progress=False)


@pytest.fixture(scope='module')
def samples():
    return [render_scene(s, SIZE, 'downstream') for s in range(24)]


def test_render_scene_arrays(samples):
    h, w = SIZE
    for fam in ('downstream', 'upstream'):
        out = render_scene(5, SIZE, fam)
        assert out['image'].shape == (h, w, 3) and out['image'].dtype == np.uint8
        assert out['depth'].dtype == np.float32 and out['depth'].shape == (h, w)
        assert out['normals'].dtype == np.float32 and out['normals'].shape == (h, w, 3)
        norm = np.linalg.norm(out['normals'], axis=-1)
        hit = out['depth'] > 0
        assert np.allclose(norm[hit], 1.0, atol=1e-4) and np.all(norm[~hit] == 0)
        assert (out['edge'].max() == 1) and set(np.unique(out['saliency'])) <= {0, 1}
        assert out['context'].dtype == np.uint16 and out['semseg'].max() <= 20
    envs = {s['env'] for s in samples}
    assert envs == {'indoor', 'outdoor'}
    # every downstream scene shows at least one VOC object
    assert all((s['semseg'] > 0).any() for s in samples)


def test_render_scene_is_deterministic():
    a, b, c = render_scene(11, SIZE), render_scene(11, SIZE), render_scene(12, SIZE)
    for key in ('image', 'depth', 'normals', 'context', 'instance', 'part', 'edge', 'saliency'):
        assert np.array_equal(a[key], b[key])
    assert not np.array_equal(a['image'], c['image'])


def _depth_normals(depth: np.ndarray, k: dict) -> np.ndarray:
    """Normals (x right, y up, z to camera) from central differences of back-projected depth."""
    h, w = depth.shape
    u = (np.arange(w) + 0.5 - k['cx']) / k['fx']
    v = (np.arange(h) + 0.5 - k['cy']) / k['fy']
    pts = np.stack([depth * u[None, :], depth * v[:, None], depth], axis=-1)
    du = pts[1:-1, 2:] - pts[1:-1, :-2]
    dv = pts[2:, 1:-1] - pts[:-2, 1:-1]
    n = np.cross(du, dv)
    n /= np.maximum(np.linalg.norm(n, axis=-1, keepdims=True), 1e-12)
    n *= np.where((n * pts[1:-1, 1:-1]).sum(-1, keepdims=True) > 0, -1.0, 1.0)
    out = np.zeros(depth.shape + (3,))
    out[1:-1, 1:-1] = n * np.array([1.0, -1.0, -1.0])
    return out


def test_normals_agree_with_depth(samples):
    errors = []
    for s in samples[:12] + [render_scene(i, SIZE, 'upstream') for i in range(6)]:
        surf = s['surface']
        same = np.ones(surf.shape, bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                same &= np.roll(surf, (dy, dx), (0, 1)) == surf
        same[[0, -1], :] = same[:, [0, -1]] = False
        interior = same & (s['depth'] > 0) & (s['depth'] < 30)
        est = _depth_normals(s['depth'].astype(np.float64), s['intrinsics'])
        cos = np.clip((est * s['normals']).sum(-1), -1, 1)
        errors.append(np.degrees(np.arccos(cos[interior])))
    err = np.concatenate(errors)
    assert err.size > 5000
    assert np.median(err) < 2.0, np.median(err)
    assert np.mean(err < 10.0) > 0.9, np.mean(err < 10.0)


def test_edges_lie_on_label_or_depth_boundaries(samples):
    for s in samples:
        key = s['context'].astype(np.int64) * 4096 + s['instance']
        d = np.where(s['depth'] > 0, s['depth'], np.inf)
        boundary = np.zeros(key.shape, bool)
        for axis in (0, 1):
            for shift in (1, -1):
                nk = np.roll(key, shift, axis)
                nd = np.roll(d, shift, axis)
                with np.errstate(invalid='ignore'):
                    jump = np.abs(nd - d) > 0.05 * np.minimum(nd, d)
                b = (nk != key) | jump
                if shift == 1:
                    b[(0,) if axis == 0 else (slice(None), 0)] = False
                else:
                    b[(-1,) if axis == 0 else (slice(None), -1)] = False
                boundary |= b
        edge = s['edge'].astype(bool)
        assert edge.any() and not (edge & ~boundary).any()
        # every label change between horizontal neighbours is marked on one side
        change = key[:, 1:] != key[:, :-1]
        assert np.all(edge[:, 1:][change] | edge[:, :-1][change])


def test_parts_and_saliency_consistency(samples):
    # person-only part names (animals share 'head' / 'torso', as in PASCAL-Part)
    person_parts = {i for i, n in enumerate(PART_NAMES)
                    if n in PERSON_PART_GROUPS and n not in OBJECT_PART_NAMES}
    with_people = 0
    for s in samples:
        people = [d['id'] for d in s['instances'] if d['kind'] == 'person']
        person_px = np.isin(s['instance'], people)
        assert not (np.isin(s['part'], list(person_parts)) & ~person_px).any()
        hp = s['human_parts']
        if (hp == 255).all():
            assert not any(d['kind'] == 'person' and d['parts_annotated'] and d['area'] > 0
                           for d in s['instances'])
        else:
            with_people += 1
            assert set(np.unique(hp)) <= set(range(7))
            assert not ((hp > 0) & ~person_px).any() and (hp > 0).any()
        sal = s['saliency'].astype(bool)
        assert sal.any() and not (sal & (s['instance'] == 0)).any()
    assert 0 < with_people < len(samples)


def test_pascal_layout_and_encodings(pascal_root):
    root = pascal_root
    train = (root / 'ImageSets/Context/train.txt').read_text().split()
    val = (root / 'ImageSets/Context/val.txt').read_text().split()
    assert len(train) == 12 and len(val) == 6 and train[0] == '2008_000001'
    saw_person = saw_no_person = False
    for img_id in train + val:
        img = Image.open(root / 'JPEGImages' / f'{img_id}.jpg')
        assert img.format == 'JPEG' and img.mode == 'RGB' and img.size == SIZE[::-1]
        sem = Image.open(root / 'semseg/pascal-context' / f'{img_id}.png')
        assert sem.mode == 'L'
        sem = np.array(sem)
        assert sem.max() <= 20 and (sem > 0).any()
        sal = np.array(Image.open(root / 'sal_distill' / f'{img_id}.png'))
        assert sal.ndim == 2 and set(np.unique(sal)) <= {0, 255}
        nrm = np.array(Image.open(root / 'normals_distill' / f'{img_id}.png'))
        assert nrm.shape == SIZE + (3,) and nrm.dtype == np.uint8
        lm = sio.loadmat(root / 'pascal-context/trainval' / f'{img_id}.mat')['LabelMap']
        assert lm.shape == SIZE and lm.dtype == np.uint16 and lm.min() >= 1 and lm.max() <= 459
        valid = np.isin(lm, list(NYU_COMPATIBLE_CONTEXT_IDS))
        decoded = 2.0 * nrm / 255.0 - 1.0
        assert np.allclose(np.linalg.norm(decoded[valid], axis=-1), 1.0, atol=0.02)
        for c in np.unique(lm):  # one VOC label per context class
            assert len(np.unique(sem[lm == c])) == 1
        anno = sio.loadmat(root / 'human_parts' / f'{img_id}.mat')['anno']
        assert anno.dtype.names == ('imname', 'objects') and anno[0][0][0][0] == img_id
        objects = anno[0][0][1][0]
        assert len(objects) >= 1
        for obj in objects:
            name, ind, mask, parts = obj[0][0], obj[1], obj[2], obj[3]
            assert ind.shape == (1, 1) and VOC_CLASSES[int(ind[0, 0])] == name
            assert mask.shape == SIZE and mask.dtype == np.uint8 and mask.any()
            assert np.all(sem[mask.astype(bool)] == int(ind[0, 0]))
            if name == 'person' and len(parts):
                saw_person = True
                for part in parts[0]:
                    assert part[0][0] in PERSON_PART_GROUPS
                    assert not (part[1].astype(bool) & ~mask.astype(bool)).any()
            elif name != 'person':
                assert len(parts) == 0 or all(p[0][0] not in ('luarm', 'llleg') for p in parts[0])
        if not any(o[0][0] == 'person' for o in objects):
            saw_no_person = True
    assert saw_person and saw_no_person


@pytest.mark.parametrize('packaging', ['jpg-npy', 'png-npy'])
def test_nyud_layout_and_encodings(tmp_path, packaging):
    root = generate_dataset('nyud-mt', tmp_path / 'NYUD_MT', 6, 4, size=SIZE, seed=1,
                            packaging=packaging, progress=False)
    assert (root / 'gt_sets/train.txt').read_text().split()[0] == '000001'
    ids = (root / 'gt_sets/val.txt').read_text().split()
    assert ids == ['000007', '000008', '000009', '000010']
    ext = '.jpg' if packaging == 'jpg-npy' else '.png'
    some_invalid = False
    for img_id in ids + ['000001']:
        img = Image.open(root / 'images' / f'{img_id}{ext}')
        assert img.mode == 'RGB' and img.size == SIZE[::-1]
        seg = np.array(Image.open(root / 'segmentation' / f'{img_id}.png'))
        assert seg.dtype == np.uint8 and seg.max() <= 40 and (seg > 0).any()
        depth = np.load(root / 'depth' / f'{img_id}.npy')
        assert depth.dtype == np.float32 and depth.shape == SIZE and depth.min() >= 0
        if packaging == 'jpg-npy':
            nrm = np.load(root / 'normals' / f'{img_id}.npy')
            edge = np.load(root / 'edge' / f'{img_id}.npy')
            assert nrm.dtype == np.float32 and set(np.unique(edge)) <= {0, 1}
            norm = np.linalg.norm(nrm, axis=-1)
            assert np.allclose(norm[depth > 0], 1.0, atol=1e-4) and np.all(norm[depth == 0] == 0)
        else:
            raw = np.array(Image.open(root / 'normals' / f'{img_id}.png'))
            black = (raw == 0).all(-1)
            assert np.array_equal(black, depth == 0)
            dec = 2.0 * raw[~black] / 255.0 - 1.0
            assert np.allclose(np.linalg.norm(dec, axis=-1), 1.0, atol=0.02)
            edge = np.array(Image.open(root / 'edge' / f'{img_id}.png'))
            assert set(np.unique(edge)) <= {0, 255}
        some_invalid |= bool((depth == 0).any())
    assert some_invalid


def test_generation_is_byte_deterministic(tmp_path, pascal_root):
    again = generate_dataset('pascal-mt', tmp_path / 'a', 12, 6, size=SIZE, seed=3,
                             progress=False)
    assert _tree_digest(again) == _tree_digest(pascal_root)
    other = generate_dataset('pascal-mt', tmp_path / 'b', 12, 6, size=SIZE, seed=4,
                             progress=False)
    da, db = _tree_digest(again), _tree_digest(other)
    assert da.keys() == db.keys()
    assert sum(da[k] != db[k] for k in da if k.startswith('JPEGImages')) == 18
    # worker processes do not change the bytes
    n1 = generate_dataset('nyud-mt', tmp_path / 'n1', 20, 4, size=(32, 32), progress=False)
    n2 = generate_dataset('nyud-mt', tmp_path / 'n2', 20, 4, size=(32, 32), progress=False,
                          workers=2)
    assert _tree_digest(n1) == _tree_digest(n2)


def test_upstream_differs_from_downstream():
    down = [render_scene(s, SIZE, 'downstream', env='indoor') for s in range(12)]
    up = [render_scene(s, SIZE, 'upstream') for s in range(12)]
    cls_down = set(np.concatenate([np.unique(s['nyu']) for s in down]).tolist())
    cls_up = set(np.concatenate([np.unique(s['nyu']) for s in up]).tolist())
    assert 31 in cls_down and 31 not in cls_up  # people only downstream
    assert len(cls_up - cls_down) >= 4 and len(cls_down - cls_up) >= 2
    assert np.mean([s['intrinsics']['fx'] for s in up]) < np.mean(
        [s['intrinsics']['fx'] for s in down])  # wider field of view upstream

    def saturation(img):
        img = img.astype(np.float64)
        return ((img.max(-1) - img.min(-1)) / np.maximum(img.max(-1), 1)).mean()
    assert np.mean([saturation(s['image']) for s in up]) > np.mean(
        [saturation(s['image']) for s in down]) + 0.05


def test_cli_and_argument_errors(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        'make_synthetic', REPO / 'tools/dataset_converters/make_synthetic.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / 'cli'
    argv = ['--layout', 'nyud-mt', '--out', str(out), '--num-train', '3', '--num-val', '2',
            '--size', '32', '32', '--packaging', 'png-npy']
    assert tool.main(argv) == 0
    assert 'scenes/s' in capsys.readouterr().out
    assert tool.main(argv + ['--quiet']) == 1
    assert 'not empty' in capsys.readouterr().err
    assert tool.main(argv + ['--overwrite', '--quiet']) == 0
    assert len(list((out / 'images').glob('*.png'))) == 5
    assert tool.main(['--layout', 'pascal-mt', '--family', 'upstream', '--out',
                      str(tmp_path / 'p'), '--num-train', '1', '--num-val', '1']) == 1
    assert not (tmp_path / 'p').exists()
    with pytest.raises(ValueError, match='pascal-mt'):
        generate_dataset('pascal-mt', tmp_path / 'x', 2, 1, family='upstream', progress=False)
    with pytest.raises(ValueError, match='layout'):
        generate_dataset('coco', tmp_path / 'y', 2, 1, progress=False)
    (tmp_path / 'z').mkdir()
    (tmp_path / 'z' / 'keep.txt').write_text('x')
    with pytest.raises(FileExistsError):
        generate_dataset('nyud-mt', tmp_path / 'z', 2, 1, progress=False, overwrite=True)


def test_loaders_read_the_synthetic_trees(pascal_root, tmp_path):
    datasets = pytest.importorskip('mtbench.datasets')
    ds = datasets.PascalContextMT(str(pascal_root), split='train',
                                  tasks=('semseg', 'human_parts', 'saliency', 'normals', 'edge'))
    parts = [ds[i]['gt']['human_parts'] for i in range(len(ds))]
    assert any((p != 255).any() for p in parts) and any((p == 255).all() for p in parts)
    root = generate_dataset('nyud-mt', tmp_path / 'n', 3, 2, size=SIZE, packaging='png-npy',
                            family='upstream', progress=False)
    dn = datasets.NYUDv2MT(str(root), split='val', tasks=('semseg', 'depth', 'normals', 'edge'))
    assert dn[0]['gt']['depth'].shape == SIZE
