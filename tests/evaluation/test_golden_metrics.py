"""mtbench's metrics against the reference evaluation code's golden values (shared/golden)."""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from mtbench.evaluation import (DepthMetric, NormalsMetric, SaliencyMetric, SegmentationMetric,
                                delta_m, reference_beta_maxf)

SHARED = Path(__file__).resolve().parents[2] / '..' / 'shared'
GOLDEN = SHARED / 'golden' / 'metrics'
pytestmark = pytest.mark.skipif(not (GOLDEN / 'expected.json').is_file(),
                                reason=f'golden metric fixtures not found in {GOLDEN}')
REL = 1e-6
BATCH_SIZES = (1, 2, 3, 6)


@pytest.fixture(scope='module')
def golden():
    arrays = np.load(GOLDEN / 'inputs.npz')
    expected = json.loads((GOLDEN / 'expected.json').read_text())
    return {k: arrays[k] for k in arrays.files}, expected


def run(metric, task, preds, gts, batch_size=6):
    """Feed per-image tensors in batches of ``batch_size``, as the model's predict returns."""
    metric.results = []
    n = len(preds)
    for start in range(0, n, batch_size):
        metric.process(None, [{'img_id': str(i), 'pred': {task: preds[i]}, 'gt': {task: gts[i]}}
                              for i in range(start, min(n, start + batch_size))])
    return metric.compute_metrics(metric.results)


def inputs(arrays, task):
    """Convert the reference-convention arrays to mtbench's (see the golden README)."""
    if task in ('semseg', 'human_parts'):
        return (torch.from_numpy(arrays[f'{task}_pred']).long(),
                torch.from_numpy(arrays[f'{task}_gt']).long())
    if task == 'saliency':
        return (torch.from_numpy(arrays['sal_pred'] / np.float32(255)),
                torch.from_numpy(arrays['sal_gt']).long())
    if task == 'normals':
        pred = 2 * arrays['normals_pred'] / np.float32(255) - 1
        gt = arrays['normals_gt'].copy()
        gt[gt == 255] = 0  # mtbench marks invalid normals with the zero vector
        return (torch.from_numpy(np.ascontiguousarray(pred.transpose(0, 3, 1, 2))),
                torch.from_numpy(gt))
    if task == 'depth':
        gt = arrays['depth_gt'][:, 0].copy()
        gt[gt == 255] = 0  # mtbench marks invalid depth with 0
        return torch.from_numpy(arrays['depth_pred'][:, 0]), torch.from_numpy(gt)
    raise KeyError(task)


def make(task):
    return {'semseg': lambda: SegmentationMetric('semseg', num_classes=21),
            'human_parts': lambda: SegmentationMetric('human_parts', num_classes=7),
            'saliency': SaliencyMetric, 'normals': NormalsMetric, 'depth': DepthMetric}[task]()


@pytest.mark.parametrize('task,num_classes', [('semseg', 21), ('human_parts', 7)])
def test_segmentation_matches_reference(golden, task, num_classes):
    arrays, expected = golden
    out = run(make(task), task, *inputs(arrays, task))
    ref = expected['returned'][task]
    assert out['mIoU'] == pytest.approx(100 * ref['mIoU'], rel=REL)
    assert out['IoU_per_class'] == pytest.approx([100 * v for v in ref['jaccards_all_categs']],
                                                 rel=REL, abs=1e-12)
    diag = expected['diagnostics'][task]
    tp, fn = np.array(diag['tp']), np.array(diag['fn'])
    assert out['aAcc'] == pytest.approx(100 * tp.sum() / (tp + fn).sum(), rel=REL)


def test_human_parts_variant_no_people_as_zero(golden):
    arrays, expected = golden
    pred, gt = inputs(arrays, 'human_parts')
    gt = gt.clone()
    gt[torch.from_numpy(~arrays['human_parts_has_people'])] = 0
    out = run(make('human_parts'), 'human_parts', pred, gt)
    ref = expected['variants']['human_parts_no_people_fed_as_all_zero']['human_parts']
    assert out['mIoU'] == pytest.approx(100 * ref['mIoU'], rel=REL)


def test_saliency_matches_reference(golden):
    arrays, expected = golden
    out = run(make('saliency'), 'saliency', *inputs(arrays, 'saliency'))
    ref = expected['returned']['sal']
    assert out['mIoU'] == pytest.approx(100 * ref['mIoU'], rel=REL)
    assert out['maxF'] == pytest.approx(100 * ref['maxF'], rel=REL)
    # float64 sigmoid of the logits binarises identically (probabilities are >= 2e-4 from θ)
    logits = torch.from_numpy(arrays['sal_logits'][:, 0]).double()
    out64 = run(make('saliency'), 'saliency', torch.sigmoid(logits), inputs(arrays, 'saliency')[1])
    assert out64['mIoU'] == out['mIoU'] and out64['maxF'] == out['maxF']


def test_saliency_ignores_reference_batch_of_one_quirk(golden):
    """The reference scores rows as images in a batch of one; mtbench scores whole images."""
    arrays, expected = golden
    out = run(make('saliency'), 'saliency', *inputs(arrays, 'saliency'), batch_size=1)
    quirk = expected['other_batchings']['batch_size_1']['sal']
    assert out['mIoU'] == pytest.approx(100 * expected['returned']['sal']['mIoU'], rel=REL)
    assert abs(out['mIoU'] - 100 * quirk['mIoU']) > 1.0


def test_reference_beta_maxf_compatibility(golden):
    """The reference 'Beta maxF' (double sigmoid) via the named compatibility function."""
    arrays, expected = golden
    probs = arrays['sal_pred'] / np.float32(255)
    value = reference_beta_maxf(list(probs), list(arrays['sal_gt']))
    assert value == pytest.approx(expected['returned']['sal']['Beta maxF'], rel=REL)


def test_saliency_fbeta_against_numpy(golden):
    """mtbench's maxFbeta (single sigmoid, pooled counts, β² = 0.3) vs plain numpy."""
    arrays, _ = golden
    out = run(make('saliency'), 'saliency', *inputs(arrays, 'saliency'))
    p = (arrays['sal_pred'] / np.float32(255)).astype(np.float64).ravel()
    g = arrays['sal_gt'].ravel() == 1
    best = 0.0
    for k in range(1, 20):
        pos = p >= k / 20
        tp, pp, ap = np.sum(pos & g), np.sum(pos), np.sum(g)
        prec, rec = (tp / pp if pp else 0.0), tp / ap
        if prec + rec > 0:
            best = max(best, 1.3 * prec * rec / (0.3 * prec + rec))
    assert out['maxFbeta'] == pytest.approx(100 * best, rel=1e-12)


def test_normals_matches_reference(golden):
    arrays, expected = golden
    pred, gt = inputs(arrays, 'normals')
    out = run(make('normals'), 'normals', pred, gt)
    ref, diag = expected['returned']['normals'], expected['diagnostics']['normals']
    # mtbench's normals/mean is the reference's 'mean' == 'rmse' (the papers' "rmse" column)
    assert out['mean'] == pytest.approx(ref['mean'], rel=REL)
    assert out['mean'] == pytest.approx(ref['rmse'], rel=REL)
    assert out['mean'] == pytest.approx(ref['mean_v2'], rel=REL)
    for t in ('11.25', '22.5', '30'):
        assert out[f'within_{t}'] == pytest.approx(diag[f'v1_pct_below_{t}'], rel=REL)
    # the raw, unnormalised network output gives the same numbers (norm-independent angle)
    out_raw = run(make('normals'), 'normals', torch.from_numpy(arrays['normals_out']), gt)
    assert out_raw['mean'] == pytest.approx(ref['mean'], rel=REL)


def test_normals_rmse_and_median_against_numpy(golden):
    """The honest RMSE and the histogram median vs an independent float64 computation."""
    arrays, _ = golden
    pred, gt = inputs(arrays, 'normals')
    out = run(make('normals'), 'normals', pred, gt)
    u = pred.double().permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    g = gt.double().permute(0, 2, 3, 1).reshape(-1, 3).numpy()
    valid = np.abs(g).sum(1) > 0
    u = u[valid] / np.linalg.norm(u[valid], axis=1, keepdims=True)
    ang = np.degrees(np.arccos(np.clip((u * g[valid]).sum(1), -1, 1)))
    assert out['rmse'] == pytest.approx(math.sqrt(np.mean(ang ** 2)), rel=REL)
    assert abs(out['median'] - np.median(ang)) <= 0.05  # one histogram bin (0.05°)


@pytest.mark.parametrize('variant', [None, 'depth_nonpositive_predictions'])
def test_depth_matches_reference(golden, variant):
    arrays, expected = golden
    pred, gt = inputs(arrays, 'depth')
    ref = expected['returned']['depth']
    if variant:
        pred = torch.from_numpy(arrays['depth_pred_nonpos_variant'][:, 0])
        ref = expected['variants'][variant]['depth']
    out = run(make('depth'), 'depth', pred, gt)
    assert out['rmse'] == pytest.approx(ref['rmse'], rel=REL)
    assert out['log_rmse'] == pytest.approx(ref['log_rmse'], rel=REL)


def test_depth_invalid_zero_is_masked(golden):
    """Deliberate difference: the reference counts a 0 left in the GT (log_rmse = inf)."""
    arrays, expected = golden
    out = run(make('depth'), 'depth', *inputs(arrays, 'depth'))
    assert math.isinf(float(expected['variants']['depth_invalid_fed_as_0']['depth']['log_rmse']))
    assert out['log_rmse'] == pytest.approx(expected['returned']['depth']['log_rmse'], rel=REL)


@pytest.mark.parametrize('task', ['semseg', 'human_parts', 'saliency', 'normals', 'depth'])
def test_batch_size_independence(golden, task):
    arrays, _ = golden
    preds, gts = inputs(arrays, task)
    outs = [run(make(task), task, preds, gts, batch_size=b) for b in BATCH_SIZES]
    for out in outs[1:]:
        assert out.keys() == outs[0].keys()
        for key, value in out.items():
            assert value == pytest.approx(outs[0][key], rel=1e-12), key


def test_delta_m_matches_reference(golden):
    arrays, expected = golden
    results = {}
    for task in ('semseg', 'human_parts', 'saliency', 'normals'):
        out = run(make(task), task, *inputs(arrays, task))
        results.update({f'{task}/{k}': v for k, v in out.items()})
    ref = expected['delta_m']
    value = delta_m(results, 'pascal-mt_swin-t_published',
                    ['semseg', 'human_parts', 'saliency', 'normals'])
    assert value == pytest.approx(ref['value_percent'], rel=REL)
    # the same from the reference's own returned values (fractions -> percent)
    ret = expected['returned']
    nested = {'semseg': {'mIoU': 100 * ret['semseg']['mIoU']},
              'human_parts': {'mIoU': 100 * ret['human_parts']['mIoU']},
              'saliency': {'mIoU': 100 * ret['sal']['mIoU']},
              'normals': {'mean': ret['normals']['mean']}}
    st = ref['single_task_reference']
    table = {'semseg': {'mIoU': 100 * st['semseg']['mIoU']},
             'human_parts': {'mIoU': 100 * st['human_parts']['mIoU']},
             'saliency': {'mIoU': 100 * st['sal']['mIoU']},
             'normals': {'mean': st['normals']['mean']}}
    assert delta_m(nested, table) == pytest.approx(100 * ref['value_fraction'], rel=1e-9)
