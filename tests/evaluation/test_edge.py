"""The approximate edge matcher, EdgeMetric and the SEISM export on tiny hand-made cases."""
import numpy as np
import pytest
import torch
from PIL import Image

import mtbench.evaluation.edge as edge_module
from mtbench.evaluation import EdgeMetric, export_edge_predictions
from mtbench.evaluation.edge_matching import approx_edge_counts, thin_stack

TH = np.array([0.25, 0.5, 0.75])


def line_gt(h=40, w=40, row=20):
    gt = torch.zeros(h, w, dtype=torch.long)
    gt[row, 5:35] = 1
    return gt


def test_thinning_reduces_a_bar_to_a_line():
    bar = torch.zeros(1, 12, 30, dtype=torch.bool)
    bar[0, 4:8, 3:27] = True
    thin = thin_stack(bar)[0]
    assert thin.sum() < bar.sum() / 3
    assert int(thin.any(1).sum()) <= 2  # at most two rows left, one line
    assert thin[:, 6:24].any(0).all()  # still spans the bar


def test_perfect_and_shifted_predictions_match():
    gt = line_gt()
    prob = gt.float() * 0.9
    counts = approx_edge_counts(prob, gt, TH, max_dist=0.03)  # radius 1.7 px
    assert counts[:, :3].tolist() == [[30] * 3, [30] * 3, [30] * 3, [30] * 3]
    shifted = torch.roll(prob, 1, dims=0)  # one pixel off: inside the tolerance
    assert approx_edge_counts(shifted, gt, TH, max_dist=0.03)[0].tolist() == [30] * 3
    far = torch.roll(prob, 5, dims=0)  # five pixels off: outside
    c = approx_edge_counts(far, gt, TH, max_dist=0.03, nms=False)
    assert c[0].tolist() == [0, 0, 0] and c[3].tolist() == [30, 30, 30]


def test_one_to_one_matching_counts_a_double_line_once():
    gt = line_gt()
    prob = torch.zeros(40, 40)
    prob[19, 5:35] = 0.9
    prob[21, 5:35] = 0.9  # two parallel lines, each within the radius of the same GT line
    greedy = approx_edge_counts(prob, gt, TH, max_dist=0.03, nms=False, thin=False)
    anym = approx_edge_counts(prob, gt, TH, max_dist=0.03, nms=False, thin=False, match='any')
    assert greedy[2, 0] == 30 and greedy[3, 0] == 60  # precision 1/2
    assert anym[2, 0] == 60  # the 'any' matcher over-counts


def test_ignored_pixels_and_empty_ground_truth():
    gt = line_gt()
    gt[:, 30:] = 255
    prob = torch.zeros(40, 40)
    prob[20, 5:40] = 0.9
    c = approx_edge_counts(prob, gt, TH, max_dist=0.03)
    assert c[1, 0] == 25 and c[3, 0] == 25 and c[0, 0] == 25
    c = approx_edge_counts(prob, torch.zeros(40, 40, dtype=torch.long), TH, max_dist=0.03)
    assert c[1].tolist() == [0, 0, 0] and c[3, 0] > 0


def test_edge_metric_ods_ois():
    gt = line_gt()
    prob = gt.float() * 0.6
    prob[5, 5:35] = 0.3  # a false line above the ODS threshold only at low θ
    metric = EdgeMetric(max_dist=0.03, num_thresholds=9)
    metric.process(None, [{'pred': {'edge': prob}, 'gt': {'edge': gt}}])
    out = metric.compute_metrics(metric.results)
    assert metric.primary == 'odsF_approx'
    assert out['odsF_approx'] == pytest.approx(100.0)
    assert out['oisF_approx'] == pytest.approx(100.0)
    assert 0.3 < out['ods_threshold_approx'] <= 0.6


def test_missing_backend_is_reported_not_zero(monkeypatch):
    monkeypatch.setattr(edge_module, '_load_pyedgeeval', lambda: None)
    metric = EdgeMetric(backend='pyedgeeval')
    assert not metric.available and metric.primary == 'odsF_pyedgeeval'
    metric.process(None, [{'pred': {'edge': torch.rand(8, 8)},
                           'gt': {'edge': torch.zeros(8, 8, dtype=torch.long)}}])
    out = metric.compute_metrics(metric.results)
    assert set(out) == {'unavailable'} and 'pip install pyEdgeEval' in out['unavailable']
    with pytest.raises(ValueError, match='backend'):
        EdgeMetric(backend='seism')


def test_export_edge_predictions(tmp_path):
    preds = torch.tensor([[[0.0, 0.5], [1.0, 0.25]]])
    paths = export_edge_predictions(preds, ['2008_000001'], tmp_path)
    assert paths == [tmp_path / 'edge' / '2008_000001.png']
    img = np.array(Image.open(paths[0]))
    assert img.dtype == np.uint8 and img.tolist() == [[0, 128], [255, 64]]
    paths = export_edge_predictions([preds[0]], ['b'], tmp_path, ori_shapes=[(4, 6)])
    assert np.array(Image.open(paths[0])).shape == (4, 6)
