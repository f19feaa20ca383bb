"""PascalContextMT / NYUDv2MT on tiny hand-made trees in the exact PASCAL_MT / NYUD_MT layouts.

The tree builders here are also used by ``test_check_dataset.py``.
"""
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from PIL import Image

from mtbench.datasets import NYUDv2MT, PascalContextMT
from mtbench.datasets.pascal_mt import NORMALS_VALID_CONTEXT_IDS, edge_from_label_map, thin
from mtbench.registry import DATASETS

H, W = 20, 30
PASCAL_IDS = {'train': ['2008_000002', '2008_000003', '2008_000007'], 'val': ['2008_000009',
                                                                             '2008_000015']}
NYUD_IDS = {'train': ['0003', '0004'], 'val': ['0011']}
VALID_ID, INVALID_ID = 3, 2  # PASCAL-Context ids: 3 has a NYUD counterpart, 2 (aeroplane) not
assert VALID_ID in NORMALS_VALID_CONTEXT_IDS and INVALID_ID not in NORMALS_VALID_CONTEXT_IDS


def _png(path: Path, arr: np.ndarray, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(arr, mode) if mode is None else Image.fromarray(arr).convert(mode)
    img.save(path)


def part_anno(img_id, objects):
    """A PASCAL-Part ``anno`` struct: objects = [(class name, class_ind, mask, [(part, mask)])]."""
    obj_arr = np.zeros((1, len(objects)), dtype=[('class', 'O'), ('class_ind', 'O'),
                                                 ('mask', 'O'), ('parts', 'O')])
    for j, (name, ind, mask, parts) in enumerate(objects):
        part_arr = np.zeros((1, len(parts)) if parts else (0, 0),
                            dtype=[('part_name', 'O'), ('mask', 'O')])
        for i, (pname, pmask) in enumerate(parts):
            part_arr[0, i] = (pname, pmask.astype(np.uint8))
        obj_arr[0, j] = (name, np.array([[ind]], dtype=np.uint8), mask.astype(np.uint8), part_arr)
    anno = np.zeros((1, 1), dtype=[('imname', 'O'), ('objects', 'O')])
    anno[0, 0] = (img_id, obj_arr)
    return anno


def person_objects():
    """A person with head/torso/hand/foot parts (hand overlaps torso, painted later) and a cow."""
    person = np.zeros((H, W), bool)
    person[2:18, 5:15] = True
    head, torso, hand, foot = (np.zeros((H, W), bool) for _ in range(4))
    head[2:6, 7:12] = True
    torso[6:12, 5:15] = True
    hand[10:13, 5:8] = True
    foot[15:18, 6:10] = True
    cow = np.zeros((H, W), bool)
    cow[2:10, 20:28] = True
    return [('person', 15, person, [('hair', head), ('torso', torso), ('lhand', hand),
                                    ('rfoot', foot)]),
            ('cow', 10, cow, [('head', cow)])]


def make_pascal_tree(root: Path, voc12_first=True, rng_seed=0) -> Path:
    """PASCAL_MT tree: 3 train / 2 val ids; the 1st id of each split has a person with parts."""
    rng = np.random.default_rng(rng_seed)
    root = Path(root)
    for split, ids in PASCAL_IDS.items():
        (root / 'ImageSets/Context').mkdir(parents=True, exist_ok=True)
        (root / f'ImageSets/Context/{split}.txt').write_text('\n'.join(ids) + '\n')
        for k, img_id in enumerate(ids):
            _png(root / f'JPEGImages/{img_id}.jpg', rng.integers(0, 256, (H, W, 3), np.uint8))
            sem = np.zeros((H, W), np.uint8)
            sem[2:18, 5:15] = 15
            sem[0, :] = 255
            sub = 'VOC12' if (k == 0) == voc12_first else 'pascal-context'
            _png(root / f'semseg/{sub}/{img_id}.png', sem, 'P')
            objects = person_objects() if k == 0 else [person_objects()[1]]
            (root / 'human_parts').mkdir(exist_ok=True)
            scipy.io.savemat(root / f'human_parts/{img_id}.mat',
                             {'anno': part_anno(img_id, objects)})
            sal = np.full((H, W), 127, np.uint8)
            sal[:, W // 2:] = 128
            _png(root / f'sal_distill/{img_id}.png', sal)
            _png(root / f'normals_distill/{img_id}.png', rng.integers(0, 256, (H, W, 3), np.uint8))
            lm = np.full((H, W), VALID_ID, np.uint16)
            lm[:, 12:] = INVALID_ID
            (root / 'pascal-context/trainval').mkdir(parents=True, exist_ok=True)
            scipy.io.savemat(root / f'pascal-context/trainval/{img_id}.mat', {'LabelMap': lm})
    return root


def make_nyud_tree(root: Path, packaging='jpg-npy', rng_seed=0) -> Path:
    """NYUD_MT tree (2 train / 1 val); 'png-npy' uses png images and png normals/edges."""
    rng = np.random.default_rng(rng_seed)
    root = Path(root)
    for split, ids in NYUD_IDS.items():
        (root / 'gt_sets').mkdir(parents=True, exist_ok=True)
        (root / f'gt_sets/{split}.txt').write_text('\n'.join(ids) + '\n')
        for img_id in ids:
            ext = 'png' if packaging == 'png-npy' else 'jpg'
            _png(root / f'images/{img_id}.{ext}', rng.integers(0, 256, (H, W, 3), np.uint8))
            seg = rng.integers(0, 41, (H, W)).astype(np.uint8)
            _png(root / f'segmentation/{img_id}.png', seg)
            depth = rng.uniform(0.5, 9.0, (H, W)).astype(np.float32)
            depth[:3] = 0
            for sub in ('depth', 'normals', 'edge'):
                (root / sub).mkdir(exist_ok=True)
            np.save(root / f'depth/{img_id}.npy', depth)
            vec = rng.normal(size=(H, W, 3)).astype(np.float32)
            vec /= np.linalg.norm(vec, axis=2, keepdims=True)
            vec[:2] = 0
            edge = (rng.random((H, W)) > 0.8).astype(np.float32)
            if packaging == 'png-npy':
                enc = np.round((vec + 1) * 127.5).astype(np.uint8)
                enc[:2] = 0  # black = invalid in the png packaging
                _png(root / f'normals/{img_id}.png', enc)
                _png(root / f'edge/{img_id}.png', (edge * 255).astype(np.uint8))
            else:
                np.save(root / f'normals/{img_id}.npy', vec)
                np.save(root / f'edge/{img_id}.npy', edge)
    return root


@pytest.fixture
def pascal_root(tmp_path):
    return make_pascal_tree(tmp_path / 'PASCAL_MT')


@pytest.fixture
def nyud_root(tmp_path):
    return make_nyud_tree(tmp_path / 'NYUD_MT')


def _sample(ds, i=0):
    return ds.load_sample(ds.get_data_info(i))


def test_pascal_all_tasks_contract(pascal_root):
    ds = PascalContextMT(pascal_root, split='train')
    assert len(ds) == 3 and ds.tasks == ('semseg', 'human_parts', 'saliency', 'normals', 'edge')
    res = ds[0]  # empty pipeline: the results dict itself
    assert res['img'].shape == (H, W, 3) and res['img'].dtype == np.uint8
    assert res['img_id'] == '2008_000002' and res['ori_shape'] == (H, W)
    for task in ('semseg', 'human_parts', 'saliency', 'edge'):
        assert res['gt'][task].dtype == np.uint8 and res['gt'][task].shape == (H, W)
    assert res['gt']['normals'].dtype == np.float32 and res['gt']['normals'].shape == (H, W, 3)
    meta = ds.metainfo
    assert meta['dataset_name'] == 'pascal-mt' and meta['variant'] == 'voc12'
    assert meta['file_list_checksum'].startswith('sha256:') and len(meta['classes']) == 21
    assert meta['tasks'] == list(ds.tasks) and meta['num_images'] == 3


def test_pascal_semseg_voc12_then_context(tmp_path):
    root = make_pascal_tree(tmp_path / 'P', voc12_first=False)
    ds = PascalContextMT(root, split='train', tasks=['semseg'])
    assert ds.metainfo['variant'] == 'pascal-context'
    info = [ds.get_data_info(i)['gt_paths']['semseg'] for i in range(3)]
    assert 'pascal-context' in info[0] and 'VOC12' in info[1] and 'VOC12' in info[2]
    sem = _sample(ds)['gt']['semseg']  # palette png: indices, not colours
    assert set(np.unique(sem)) == {0, 15, 255} and (sem[0] == 255).all()


def test_pascal_human_parts_grouping_and_no_person(pascal_root):
    ds = PascalContextMT(pascal_root, split='train', tasks=['human_parts'])
    parts = _sample(ds, 0)['gt']['human_parts']
    assert parts[3, 8] == 1 and parts[7, 10] == 2 and parts[11, 6] == 4  # hand painted over torso
    assert parts[16, 7] == 6 and parts[1, 1] == 0
    assert parts[5, 22] == 0  # the cow's 'head' part is not a person part
    assert (_sample(ds, 1)['gt']['human_parts'] == 255).all()  # only a cow: ignored


def test_pascal_person_without_parts_is_ignored(tmp_path):
    root = make_pascal_tree(tmp_path / 'P')
    mask = np.zeros((H, W), bool)
    mask[2:5, 2:5] = True
    scipy.io.savemat(root / 'human_parts/2008_000002.mat',
                     {'anno': part_anno('2008_000002', [('person', 15, mask, [])])})
    scipy.io.savemat(root / 'human_parts/2008_000003.mat',
                     {'anno': part_anno('2008_000003', [])})
    ds = PascalContextMT(root, split='train', tasks=['human_parts'])
    assert (_sample(ds, 0)['gt']['human_parts'] == 255).all()
    assert (_sample(ds, 1)['gt']['human_parts'] == 255).all()


def test_pascal_saliency_normals_edge(pascal_root):
    ds = PascalContextMT(pascal_root, split='val', tasks=['saliency', 'normals', 'edge'])
    res = _sample(ds)
    sal = res['gt']['saliency']
    assert (sal[:, :W // 2] == 0).all() and (sal[:, W // 2:] == 1).all()  # 127 -> 0, 128 -> 1
    raw = np.asarray(Image.open(pascal_root / 'normals_distill/2008_000009.png'), np.float32)
    normals = res['gt']['normals']
    np.testing.assert_allclose(normals[:, :12], 2 * raw[:, :12] / 255 - 1, atol=1e-6)
    assert (normals[:, 12:] == 0).all()  # context class without an NYUD counterpart: invalid
    edge = res['gt']['edge']
    assert set(np.unique(edge)) == {0, 1}
    assert edge[:, :10].sum() == 0 and edge[:, 14:].sum() == 0
    assert (edge[1:-1, 10:14].sum(axis=1) == 1).all()  # 2-px Laplacian band thinned to 1 px


def test_edge_thinning_matches_skimage():
    sk = pytest.importorskip('skimage.morphology')
    rng = np.random.default_rng(1)
    for _ in range(5):
        lm = np.kron(rng.integers(0, 4, (6, 8)), np.ones((7, 7), int))
        lap_mask = edge_from_label_map(lm)
        import cv2
        ref = sk.thin(np.abs(cv2.Laplacian(lm.astype(np.float64), cv2.CV_64F)) > 0)
        np.testing.assert_array_equal(lap_mask.astype(bool), ref)
        blob = rng.random((40, 50)) > 0.4
        np.testing.assert_array_equal(thin(blob), sk.thin(blob))


@pytest.mark.parametrize('packaging', ['jpg-npy', 'png-npy'])
def test_nyud_packagings(tmp_path, packaging):
    root = make_nyud_tree(tmp_path / 'N', packaging)
    ds = NYUDv2MT(root, split='train')
    assert ds.metainfo['variant'] == packaging and ds.metainfo['dataset_name'] == 'nyud-mt'
    assert ds.tasks == ('semseg', 'normals', 'edge', 'depth') and len(ds.metainfo['classes']) == 40
    res = ds[1]
    raw = np.asarray(Image.open(root / 'segmentation/0004.png')).astype(int)
    np.testing.assert_array_equal(res['gt']['semseg'], np.where(raw == 0, 255, raw - 1))
    depth = res['gt']['depth']
    assert depth.dtype == np.float32 and (depth[:3] == 0).all() and (depth[3:] > 0).all()
    normals = res['gt']['normals']
    assert normals.shape == (H, W, 3) and (normals[:2] == 0).all()
    norm = np.linalg.norm(normals[2:], axis=2)
    np.testing.assert_allclose(norm, 1, atol=0.02 if packaging == 'png-npy' else 1e-5)
    assert set(np.unique(res['gt']['edge'])) == {0, 1}
    if packaging == 'jpg-npy':
        np.testing.assert_array_equal(res['gt']['edge'], np.load(root / 'edge/0004.npy'))


def test_registry_pipeline_and_serialization(pascal_root):
    ds = DATASETS.build(dict(type='PascalContextMT', data_root=str(pascal_root), split='val',
                             tasks=['semseg', 'normals'], serialize_data=False,
                             pipeline=[dict(type='MultiTaskResize', size=(16, 16)),
                                       dict(type='PackMultiTaskInputs')]))
    out = ds[1]
    assert tuple(out['inputs'].shape) == (3, 16, 16)
    assert out['data_samples']['img_id'] == '2008_000015'
    ser = PascalContextMT(pascal_root, split='val', tasks=['semseg', 'normals'])
    assert ser.metainfo['file_list_checksum'] == ds.metainfo['file_list_checksum']
    np.testing.assert_array_equal(ser[1]['gt']['semseg'], ds.load_sample(ds.get_data_info(1))
                                  ['gt']['semseg'][:H, :W])


def test_lazy_init_and_checksum(pascal_root, tmp_path):
    lazy = PascalContextMT(tmp_path / 'nowhere', lazy_init=True)
    assert lazy.metainfo['file_list_checksum'] is None
    with pytest.raises(FileNotFoundError, match='nowhere'):
        lazy.full_init()
    a = PascalContextMT(pascal_root, tasks=['semseg'])
    b = PascalContextMT(pascal_root, tasks=['saliency'])  # all tasks' files count by default
    c = PascalContextMT(pascal_root, tasks=['semseg'], require_all_tasks=False)
    assert a.metainfo['file_list_checksum'] == b.metainfo['file_list_checksum']
    assert c.metainfo['file_list_checksum'] != a.metainfo['file_list_checksum']
    with open(pascal_root / 'sal_distill/2008_000003.png', 'ab') as f:
        f.write(b'\0')
    assert PascalContextMT(pascal_root, tasks=['semseg']).metainfo['file_list_checksum'] != \
        a.metainfo['file_list_checksum']


def test_indices_subset(nyud_root):
    ds = NYUDv2MT(nyud_root, split='train', indices=[1])
    assert len(ds) == 1 and ds[0]['img_id'] == '0004'
    assert ds.metainfo['num_images'] == 1 and ds.metainfo['split_num_images'] == 2


# -- bad inputs ---------------------------------------------------------------------------


def test_error_missing_root_and_split(tmp_path, pascal_root):
    with pytest.raises(FileNotFoundError, match='data root .*missing_root'):
        PascalContextMT(tmp_path / 'missing_root')
    (pascal_root / 'ImageSets/Context/val.txt').unlink()
    with pytest.raises(FileNotFoundError, match=r'split file .*val\.txt'):
        PascalContextMT(pascal_root, split='val')
    with pytest.raises(ValueError, match="unknown split 'test'"):
        PascalContextMT(pascal_root, split='test')


def test_error_listed_file_missing(pascal_root, nyud_root):
    (pascal_root / 'normals_distill/2008_000003.png').unlink()
    with pytest.raises(FileNotFoundError, match=r'normals_distill/2008_000003\.png'):
        PascalContextMT(pascal_root, tasks=['semseg'])
    (nyud_root / 'images/0011.jpg').unlink()
    with pytest.raises(FileNotFoundError, match=r'images/0011\.jpg'):
        NYUDv2MT(nyud_root, split='val')


def test_error_unknown_task(pascal_root, nyud_root):
    with pytest.raises(ValueError, match="Unknown task 'sal'"):
        PascalContextMT(pascal_root, tasks=['sal'])
    with pytest.raises(ValueError, match="'depth' is not available on dataset 'pascal-mt'"):
        PascalContextMT(pascal_root, tasks=['depth'])
    with pytest.raises(ValueError, match="'human_parts' is not available on dataset 'nyud-mt'"):
        NYUDv2MT(nyud_root, tasks=['human_parts'])


def test_error_corrupt_files(pascal_root, nyud_root):
    (pascal_root / 'JPEGImages/2008_000002.jpg').write_bytes(b'not a jpeg')
    (pascal_root / 'human_parts/2008_000003.mat').write_bytes(b'garbage')
    ds = PascalContextMT(pascal_root, tasks=['human_parts'])
    with pytest.raises(ValueError, match=r'Cannot read image .*2008_000002\.jpg'):
        ds[0]
    with pytest.raises(ValueError, match=r'2008_000003\.mat.*MATLAB'):
        ds[1]
    scipy.io.savemat(pascal_root / 'pascal-context/trainval/2008_000007.mat', {'Other': 1})
    with pytest.raises(ValueError, match="2008_000007.mat has no variable 'LabelMap'"):
        PascalContextMT(pascal_root, tasks=['edge'])[2]
    (nyud_root / 'depth/0003.npy').write_bytes(b'\x93NUMPY garbage')
    with pytest.raises(ValueError, match=r'0003\.npy.*\.npy array'):
        NYUDv2MT(nyud_root, tasks=['depth'])[0]


def test_error_size_mismatch_and_relaxed(pascal_root, nyud_root):
    scipy.io.savemat(pascal_root / 'pascal-context/trainval/2008_000002.mat',
                     {'LabelMap': np.full((H + 2, W), VALID_ID, np.uint16)})
    with pytest.raises(ValueError, match=r'LabelMap is 22x30 but image .*is 20x30'):
        PascalContextMT(pascal_root, tasks=['edge'])[0]
    np.save(nyud_root / 'depth/0003.npy', np.ones((H, W + 4), np.float32))
    with pytest.raises(ValueError, match=r'depth target is 20x34 but image .*0003\.jpg is 20x30'):
        NYUDv2MT(nyud_root, tasks=['depth'])[0]
    relaxed = NYUDv2MT(nyud_root, tasks=['depth'], strict_size=False)[0]
    assert relaxed['gt']['depth'].shape == (H, W)


def test_train_pipeline_end_to_end(pascal_root, nyud_root):
    from mmengine.dataset import default_collate
    pipe = [dict(type='MultiTaskRandomFlip'), dict(type='MultiTaskScaleRotate'),
            dict(type='MultiTaskResize', size=(32, 32)), dict(type='PackMultiTaskInputs')]
    ds = PascalContextMT(pascal_root, split='train', pipeline=pipe)
    batch = default_collate([ds[i] for i in range(len(ds))])
    assert tuple(batch['inputs'].shape) == (3, 3, 32, 32)
    gt = batch['data_samples']['gt']
    assert tuple(gt['normals'].shape) == (3, 3, 32, 32) and tuple(gt['edge'].shape) == (3, 32, 32)
    assert (gt['human_parts'][1] == 255).all()  # no person: still fully ignored
    nyud_pipe = [dict(type='MultiTaskRandomFlip'),
                 dict(type='MultiTaskScaleRotate', rotation_range=None,
                      scale_choices=(1.0, 1.2, 1.5)),
                 dict(type='MultiTaskResize', size=(32, 32)), dict(type='PackMultiTaskInputs')]
    out = NYUDv2MT(nyud_root, split='train', pipeline=nyud_pipe)[0]
    assert out['data_samples']['gt']['depth'].shape == (32, 32)


def test_synthetic_loaders(synthetic_pascal, synthetic_nyud):
    pascal = PascalContextMT(synthetic_pascal, split='val')
    res = pascal[0]
    assert res['img'].dtype == np.uint8 and set(res['gt']) == set(pascal.tasks)
    nyud = NYUDv2MT(synthetic_nyud, split='train')
    assert nyud.metainfo['variant'] in ('jpg-npy', 'png-npy')
    assert nyud[0]['gt']['depth'].dtype == np.float32


def test_cache_samples_reads_each_file_once_and_stays_unmutated(pascal_root, monkeypatch):
    flip = [dict(type='MultiTaskRandomFlip', prob=1.0)]
    plain = PascalContextMT(pascal_root, split='train', pipeline=flip)
    cached = PascalContextMT(pascal_root, split='train', pipeline=flip, cache_samples=True)
    reads = []
    original = PascalContextMT.load_sample
    monkeypatch.setattr(PascalContextMT, 'load_sample',
                        lambda self, info: reads.append(info['img_id']) or original(self, info))
    for _ in range(3):  # flips every time: a cache mutated by the pipeline would alternate
        for i in range(len(cached)):
            a, b = plain[i], cached[i]
            np.testing.assert_array_equal(a['img'], b['img'])
            assert a['gt'].keys() == b['gt'].keys()
            for task in a['gt']:
                np.testing.assert_array_equal(a['gt'][task], b['gt'][task])
    assert len(reads) == 3 * len(plain) + len(cached)  # the cached set read each file once
