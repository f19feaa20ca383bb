"""Hand-made cases for the per-task metrics."""
import math

import numpy as np
import pytest
import torch

from mtbench.evaluation import (DepthMetric, NormalsMetric, SaliencyMetric, SegmentationMetric,
                                segmentation_counts)


def evaluate(metric, task, preds, gts):
    metric.results = []
    metric.process(None, [{'img_id': str(i), 'pred': {task: p}, 'gt': {task: g}}
                          for i, (p, g) in enumerate(zip(preds, gts))])
    return metric.compute_metrics(metric.results)


def test_segmentation_counts_ignore_and_absent_class():
    gt = torch.tensor([[[0, 1, 255], [1, 1, 0]]])
    pred = torch.tensor([[[0, 2, 2], [1, 0, 0]]])
    counts = segmentation_counts(pred, gt, 4)[0]
    # class 0: tp 2 (two correct), gt 2, pred 3; class 1: tp 1, gt 3, pred 1; the 255 is dropped
    assert counts.tolist() == [[2, 1, 0, 0], [2, 3, 0, 0], [3, 1, 1, 0]]
    out = evaluate(SegmentationMetric('semseg', num_classes=4), 'semseg', pred, gt)
    iou = [2 / 3, 1 / 3, 0.0, 0.0]  # class 3 is absent everywhere and counts as 0
    assert out['IoU_per_class'] == pytest.approx([100 * v for v in iou])
    assert out['mIoU'] == pytest.approx(100 * sum(iou) / 4)
    assert out['aAcc'] == pytest.approx(100 * 3 / 5)


def test_segmentation_all_ignored_image_and_bad_prediction():
    metric = SegmentationMetric('human_parts', num_classes=7)
    gt = torch.full((2, 4, 4), 255)
    gt[1] = 0
    out = evaluate(metric, 'human_parts', torch.ones(2, 4, 4, dtype=torch.long), gt)
    assert out['IoU_per_class'][0] == 0.0 and out['aAcc'] == 0.0
    with pytest.raises(ValueError, match='0..6'):
        evaluate(metric, 'human_parts', torch.full((1, 2, 2), 7), torch.zeros(1, 2, 2))


def test_metric_reads_only_its_task_and_names_missing_task():
    metric = SegmentationMetric('semseg', num_classes=3)
    sample = {'img_id': 'a', 'pred': {'semseg': torch.zeros(2, 2, dtype=torch.long),
                                      'normals': torch.zeros(3, 2, 2)},
              'gt': {'semseg': torch.zeros(2, 2, dtype=torch.long)}}
    metric.process(None, [sample])
    assert len(metric.results) == 1
    with pytest.raises(KeyError, match='human_parts'):
        SegmentationMetric('human_parts', num_classes=7).process(None, [sample])


def test_mixed_shapes_in_one_batch():
    metric = SegmentationMetric('semseg', num_classes=2)
    samples = [{'pred': {'semseg': torch.zeros(2, 3, dtype=torch.long)},
                'gt': {'semseg': torch.zeros(2, 3, dtype=torch.long)}},
               {'pred': {'semseg': torch.ones(4, 1, dtype=torch.long)},
                'gt': {'semseg': torch.ones(4, 1, dtype=torch.long)}}]
    metric.process(None, samples)
    assert metric.compute_metrics(metric.results)['mIoU'] == pytest.approx(100.0)


def test_saliency_empty_images_strict_thresholds_and_ignore():
    gt = torch.zeros(1, 2, 2, dtype=torch.long)
    gt[0, 0, 0] = 255
    out = evaluate(SaliencyMetric(), 'saliency', torch.full((1, 2, 2), 0.5), gt)
    # p = 0.5 is positive for θ < 0.5 only (strict), so θ >= 0.5 gives two empty sets: IoU 1
    assert out['mIoU'] == pytest.approx(100.0)
    assert out['maxF'] == 0.0 and out['maxFbeta'] == 0.0
    gt = torch.tensor([[[1, 1], [0, 255]]])
    prob = torch.tensor([[[0.95, 0.3], [0.1, 0.99]]])  # the 255 pixel must not count
    out = evaluate(SaliencyMetric(), 'saliency', prob, gt)
    assert out['mIoU'] == pytest.approx(100.0)  # θ in [0.3, 0.9): prediction == {0.95, 0.3}
    assert out['maxFbeta'] == pytest.approx(100.0)
    with pytest.raises(ValueError, match='primary'):
        SaliencyMetric(primary='Beta maxF')


def test_normals_known_angles_and_invalid_pixels():
    gt = torch.zeros(3, 1, 4)
    gt[2] = 1.0  # +z everywhere ...
    gt[:, 0, 3] = 0.0  # ... except an invalid pixel
    pred = torch.zeros(3, 1, 4)
    pred[2, 0, 0] = 1.0  # 0°
    pred[0, 0, 1] = 2.0  # 90° (length does not matter)
    pred[2, 0, 2] = -1.0  # 180°
    pred[1, 0, 3] = 1.0  # invalid pixel: ignored
    for metric in (NormalsMetric(), NormalsMetric(median_bin_deg=0.07)):
        out = evaluate(metric, 'normals', pred[None], gt[None])
        assert out['mean'] == pytest.approx(90.0)
        assert out['rmse'] == pytest.approx(math.sqrt((90 ** 2 + 180 ** 2) / 3))
        assert abs(out['median'] - 90.0) <= metric.bin_deg
        assert out['within_11.25'] == pytest.approx(100 / 3)
        assert out['within_30'] == pytest.approx(100 / 3)


def test_normals_median_bound_on_random_angles():
    torch.manual_seed(0)
    pred = torch.nn.functional.normalize(torch.randn(3, 3, 20, 30), dim=1)
    gt = torch.nn.functional.normalize(pred + 0.5 * torch.randn(3, 3, 20, 30), dim=1)
    out = evaluate(NormalsMetric(), 'normals', pred, gt)
    cos = (pred.double() * gt.double()).sum(1).clamp(-1, 1)
    exact = np.median(np.degrees(np.arccos(cos.numpy())).ravel())
    assert abs(out['median'] - exact) <= 0.05


def test_depth_masks_zero_and_clamps_prediction():
    gt = torch.tensor([[[2.0, 0.0, 4.0]]])
    pred = torch.tensor([[[1.0, 5.0, -1.0]]])
    out = evaluate(DepthMetric(), 'depth', pred, gt)
    assert out['rmse'] == pytest.approx(math.sqrt((1.0 + (4.0 - 1e-9) ** 2) / 2))
    assert out['log_rmse'] == pytest.approx(
        math.sqrt((math.log(2.0) ** 2 + (math.log(4.0) - math.log(1e-9)) ** 2) / 2))
    assert out['abs_rel'] == pytest.approx((0.5 + (4 - 1e-9) / 4) / 2)
    assert out['delta1'] == 0.0


def test_processing_thread_setting_is_restored():
    previous = torch.get_num_threads()
    metric = SegmentationMetric('semseg', num_classes=2, num_threads=1)
    seen = []
    original = metric.image_result
    metric.image_result = lambda p, g: seen.append(torch.get_num_threads()) or original(p, g)
    metric.process(None, [{'pred': {'semseg': torch.zeros(2, 2, dtype=torch.long)},
                           'gt': {'semseg': torch.zeros(2, 2, dtype=torch.long)}}])
    assert seen == [1] and torch.get_num_threads() == previous
