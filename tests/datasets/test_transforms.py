"""Multi-task transforms: one geometric decision for all targets, ignore values intact, packing."""
import copy

import numpy as np
import pytest
import torch
from mmengine.dataset import default_collate

from mtbench.datasets.transforms import (MultiTaskRandomFlip, MultiTaskResize,
                                         MultiTaskScaleRotate, PackMultiTaskInputs,
                                         rotate_normals)
from mtbench.registry import TRANSFORMS

H, W = 24, 32


def make_results(seed=0, tasks=('semseg', 'human_parts', 'saliency', 'edge', 'normals', 'depth')):
    rng = np.random.default_rng(seed)
    sem = rng.integers(0, 5, (H, W)).astype(np.uint8)
    sem[:4] = 255
    normals = rng.normal(size=(H, W, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    normals[:, :6] = 0
    depth = rng.uniform(1, 5, (H, W)).astype(np.float32)
    depth[-5:] = 0
    gt = dict(semseg=sem, human_parts=np.full((H, W), 255, np.uint8),
              saliency=(rng.random((H, W)) > 0.5).astype(np.uint8),
              edge=(rng.random((H, W)) > 0.9).astype(np.uint8), normals=normals, depth=depth)
    return dict(img=rng.integers(0, 256, (H, W, 3), np.uint8), img_id='x', ori_shape=(H, W),
                gt={t: gt[t] for t in tasks})


def test_registered():
    for name in ('MultiTaskRandomFlip', 'MultiTaskScaleRotate', 'MultiTaskResize',
                 'PackMultiTaskInputs'):
        assert TRANSFORMS.get(name) is not None


def test_flip_all_targets_and_normals_x():
    res = make_results()
    ref = copy.deepcopy(res)
    out = MultiTaskRandomFlip(prob=1.0)(res)
    assert out['flip'] is True
    np.testing.assert_array_equal(out['img'], ref['img'][:, ::-1])
    for task in ('semseg', 'human_parts', 'saliency', 'edge', 'depth'):
        np.testing.assert_array_equal(out['gt'][task], ref['gt'][task][:, ::-1])
    n, rn = out['gt']['normals'], ref['gt']['normals'][:, ::-1]
    np.testing.assert_array_equal(n[..., 0], -rn[..., 0])
    np.testing.assert_array_equal(n[..., 1:], rn[..., 1:])
    same = MultiTaskRandomFlip(prob=0.0)(copy.deepcopy(ref))
    np.testing.assert_array_equal(same['gt']['normals'], ref['gt']['normals'])


def test_scale_rotate_labels_nearest_and_borders():
    ref = make_results()
    np.random.seed(3)
    out = MultiTaskScaleRotate(rotation_range=(-20, 20), scale_range=(0.75, 0.8))(
        copy.deepcopy(ref))
    assert -20 <= out['rotation'] <= 20 and 0.75 <= out['scale'] <= 0.8
    sem = out['gt']['semseg']
    assert sem.shape == (H, W) and sem.dtype == np.uint8
    assert set(np.unique(sem)) <= set(np.unique(ref['gt']['semseg'])) | {0}  # nearest, no blends
    assert sem[0, 0] == 0 and (sem == 255).any()  # reference border 0; ignore kept inside
    assert (out['gt']['human_parts'] == 255).all()  # fully ignored map stays ignored
    assert set(np.unique(out['gt']['edge'])) <= {0, 1}
    assert (out['gt']['normals'][0, 0] == 0).all() and out['gt']['depth'][0, 0] == 0
    np.random.seed(3)
    ign = MultiTaskScaleRotate(scale_range=(0.75, 0.8), label_border='ignore')(
        copy.deepcopy(ref))
    assert ign['gt']['semseg'][0, 0] == 255 and ign['gt']['saliency'][0, 0] == 255
    mask = out['gt']['semseg'] != ign['gt']['semseg']
    assert (ign['gt']['semseg'][mask] == 255).all()  # only the padding differs


def test_scale_rotate_nyud_depth_divided():
    ref = make_results(tasks=('semseg', 'depth', 'normals'))
    tr = MultiTaskScaleRotate(rotation_range=None, scale_choices=(2.0,))
    out = tr(copy.deepcopy(ref))
    assert out['rotation'] == 0 and out['scale'] == 2.0
    depth = out['gt']['depth']
    src = ref['gt']['depth'] / 2.0
    assert set(np.round(depth[depth > 0], 5)) <= set(np.round(src[src > 0], 5))  # nearest
    np.testing.assert_array_equal(tr._draw()[1], 2.0)


def test_rotate_normals_formula_and_warp():
    n = np.zeros((5, 5, 3), np.float32)
    n[..., 0] = 1.0
    r = rotate_normals(n, 90.0)
    np.testing.assert_allclose(r[2, 2], [0, -1, 0], atol=1e-6)  # image CCW, y down
    res = dict(img=np.zeros((9, 9, 3), np.uint8), gt={'normals': np.tile(n[:1, :1], (9, 9, 1))})
    out = MultiTaskScaleRotate(rotation_range=(30, 30), scale_range=(1, 1))(res)
    c = np.deg2rad(30)
    np.testing.assert_allclose(out['gt']['normals'][4, 4], [np.cos(c), -np.sin(c), 0], atol=1e-5)


def test_scale_rotate_deterministic_under_seed():
    tr = MultiTaskScaleRotate()
    outs = []
    for seed in (7, 7, 8):
        np.random.seed(seed)
        outs.append(tr(make_results()))
    np.testing.assert_array_equal(outs[0]['img'], outs[1]['img'])
    np.testing.assert_array_equal(outs[0]['gt']['normals'], outs[1]['gt']['normals'])
    assert outs[0]['rotation'] != outs[2]['rotation']


def test_resize_interpolations():
    ref = make_results()
    out = MultiTaskResize(size=(48, 40))(copy.deepcopy(ref))
    assert out['img'].shape == (48, 40, 3) and out['img_shape'] == (48, 40)
    for task in ('semseg', 'saliency', 'edge', 'human_parts'):
        assert out['gt'][task].shape == (48, 40)
        assert set(np.unique(out['gt'][task])) <= set(np.unique(ref['gt'][task]))
    n = out['gt']['normals']
    norm = np.linalg.norm(n, axis=2)
    assert np.allclose(norm[norm > 1e-3], 1, atol=1e-4)
    assert (n[:, :6] == 0).all()  # interior of the invalid band stays invalid
    d = out['gt']['depth']
    assert set(np.unique(d)) <= set(np.unique(ref['gt']['depth']))  # nearest: no 0/valid blend
    kept = MultiTaskResize(size=(48, 40), keep_invalid_normals=True)(copy.deepcopy(ref))
    valid = (kept['gt']['normals'] != 0).any(axis=2)
    assert not valid[:, :8].any() and valid[:, 8:].all()  # nearest of the 6 invalid columns


def test_pack_contract_and_collate():
    res = make_results(tasks=('semseg', 'human_parts', 'saliency', 'normals', 'depth'))
    res['gt']['human_parts'] = np.zeros((H, W), np.uint8)  # all background -> ignored
    out = PackMultiTaskInputs()(res)
    assert set(out) == {'inputs', 'data_samples'}
    assert out['inputs'].dtype == torch.uint8 and tuple(out['inputs'].shape) == (3, H, W)
    np.testing.assert_array_equal(out['inputs'].permute(1, 2, 0).numpy(), res['img'])
    ds = out['data_samples']
    assert set(ds) == {'img_id', 'ori_shape', 'gt'} and ds['ori_shape'] == (H, W)
    gt = ds['gt']
    for task in ('semseg', 'human_parts', 'saliency'):
        assert gt[task].dtype == torch.int64 and tuple(gt[task].shape) == (H, W)
    assert (gt['human_parts'] == 255).all() and (gt['semseg'][:4] == 255).all()
    assert gt['normals'].dtype == torch.float32 and tuple(gt['normals'].shape) == (3, H, W)
    assert gt['depth'].dtype == torch.float32 and tuple(gt['depth'].shape) == (H, W)
    batch = default_collate([out, PackMultiTaskInputs()(make_results(1))])
    assert tuple(batch['inputs'].shape) == (2, 3, H, W)
    assert tuple(batch['data_samples']['gt']['normals'].shape) == (2, 3, H, W)


def test_pack_rejects_unresized_targets():
    res = make_results(tasks=('semseg',))
    res['gt']['semseg'] = res['gt']['semseg'][:10]
    with pytest.raises(ValueError, match='semseg is 10x32 but the image is 24x32'):
        PackMultiTaskInputs()(res)


def test_bad_arguments():
    with pytest.raises(ValueError, match='label_border'):
        MultiTaskScaleRotate(label_border='reflect')
    with pytest.raises(ValueError, match='interpolation'):
        MultiTaskResize(depth_interpolation='area')
    with pytest.raises(ValueError, match='prob'):
        MultiTaskRandomFlip(prob=2)
