"""Δm, the reference tables, the published recomputation and MultiTaskEvaluator."""
import csv
from pathlib import Path

import pytest
import torch

import mtbench.evaluation.evaluator as evaluator_module
from mtbench.evaluation import (DELTA_M_KEY, MultiTaskEvaluator, available_references,
                                build_task_metrics, delta_m, load_reference)
from mtbench.registry import EVALUATOR, METRICS, build_or_explain

SHARED = Path(__file__).resolve().parents[2] / '..' / 'shared'
PUBLISHED = SHARED / 'reference' / 'published_results.csv'
PASCAL = 'pascal-mt_swin-t_published'
FOUR = ['semseg', 'human_parts', 'saliency', 'normals']
# published_results.md §8 lists this FAAR ablation row at +0.022 without flagging it in the CSV:
# it is just outside both 0.02 and the two-decimal rounding bound (0.018).
KNOWN_MINOR = {('FAAR', 'ablation: + PDRS w/ LoRA'): 0.022}


def test_bundled_references():
    assert {PASCAL, 'nyud-mt_swin-t_published'} <= set(available_references())
    pascal = load_reference(PASCAL)
    assert pascal['dataset'] == 'pascal-mt'
    assert pascal['metrics'] == {'semseg': {'mIoU': 67.21}, 'human_parts': {'mIoU': 61.93},
                                 'saliency': {'mIoU': 62.35}, 'normals': {'mean': 17.97}}
    nyud = load_reference('nyud-mt_swin-t_published')
    assert nyud['metrics'] == {'semseg': {'mIoU': 42.65}, 'depth': {'rmse': 0.60},
                               'normals': {'mean': 22.83}}
    assert 'FAAR' in nyud['source']
    with pytest.raises(FileNotFoundError, match=PASCAL):
        load_reference('no-such-table')


def test_delta_m_formula_directions_and_refusals():
    ref = {'semseg': {'mIoU': 50.0}, 'normals': {'mean': 20.0}}
    assert delta_m({'semseg/mIoU': 55.0, 'normals/mean': 18.0}, ref) == pytest.approx(10.0)
    assert delta_m({'semseg': {'mIoU': 45.0}}, ref, ['semseg']) == pytest.approx(-10.0)
    with pytest.raises(ValueError, match="'saliency'"):
        delta_m({'semseg/mIoU': 55.0, 'saliency/mIoU': 60.0}, ref)
    with pytest.raises(ValueError, match="'depth'"):
        delta_m({'depth/rmse': 0.5}, PASCAL, ['depth'])
    with pytest.raises(ValueError, match='normals/mean'):
        delta_m({'semseg/mIoU': 55.0}, ref, ['semseg', 'normals'])
    # a non-default primary takes its direction from the key
    ref2 = {'saliency': {'maxF': 80.0}, 'normals': {'median': 10.0}}
    value = delta_m({'saliency/maxF': 88.0, 'normals/median': 11.0}, ref2,
                    primary={'saliency': 'maxF', 'normals': 'median'})
    assert value == pytest.approx(100 * (0.1 - 0.1) / 2)


@pytest.mark.skipif(not PUBLISHED.is_file(), reason=f'{PUBLISHED} not found')
def test_delta_m_recomputes_published_pascal_rows():
    rows = [r for r in csv.DictReader(PUBLISHED.open())
            if r['dataset'] == 'PASCAL-Context' and r['backbone'].startswith('Swin-T')
            and all(r[c] for c in ('semseg_miou', 'human_parts_miou', 'saliency_miou',
                                   'normals_mean_err', 'delta_m_pct'))]
    assert len(rows) >= 30
    flagged = 0
    for r in rows:
        results = {'semseg/mIoU': float(r['semseg_miou']),
                   'human_parts/mIoU': float(r['human_parts_miou']),
                   'saliency/mIoU': float(r['saliency_miou']),
                   'normals/mean': float(r['normals_mean_err'])}
        diff = delta_m(results, PASCAL, FOUR) - float(r['delta_m_pct'])
        label = (r['paper'], r['method'], r['variant'])
        if 'DISCREPANCY' in r['notes'] or 'recomputes to' in r['notes']:
            flagged += 1
            assert abs(diff) > 0.05, f'flagged row recomputes fine: {label}'
        elif (r['paper'], r['variant']) in KNOWN_MINOR:
            assert diff == pytest.approx(KNOWN_MINOR[(r['paper'], r['variant'])], abs=1e-3)
        else:
            assert abs(diff) <= 0.02, f'{label}: Δm off by {diff:+.3f}'
    assert flagged == 5  # MTL full FT (three copies) and two FAAR ablations


def sample(i, size=(6, 8)):
    g = torch.Generator().manual_seed(i)
    h, w = size
    normals = torch.nn.functional.normalize(torch.randn(3, h, w, generator=g), dim=0)
    return {'img_id': str(i),
            'pred': {'semseg': torch.randint(0, 21, size, generator=g),
                     'human_parts': torch.randint(0, 7, size, generator=g),
                     'saliency': torch.rand(size, generator=g),
                     'normals': normals},
            'gt': {'semseg': torch.randint(0, 21, size, generator=g),
                   'human_parts': torch.randint(0, 7, size, generator=g),
                   'saliency': torch.randint(0, 2, size, generator=g),
                   'normals': torch.nn.functional.normalize(normals + 0.3, dim=0)}}


def test_evaluator_adds_delta_m():
    cfg = dict(type='MultiTaskEvaluator', metrics=None, tasks=FOUR, dataset='pascal-mt',
               delta_m_reference=PASCAL)
    evaluator = build_or_explain(EVALUATOR, cfg)
    assert evaluator.tasks == FOUR
    evaluator.process([sample(i) for i in range(3)])
    evaluator.process([sample(i) for i in range(3, 5)])
    out = evaluator.evaluate(5)
    for key in ('semseg/mIoU', 'human_parts/mIoU', 'saliency/mIoU', 'saliency/maxF',
                'normals/mean', 'normals/median', DELTA_M_KEY):
        assert key in out
    assert out[DELTA_M_KEY] == pytest.approx(delta_m(out, PASCAL, FOUR))


def test_evaluator_without_full_reference_logs_why(monkeypatch):
    messages = []
    monkeypatch.setattr(evaluator_module, 'print_log', lambda msg, **kw: messages.append(msg))
    metrics = build_task_metrics(['semseg', 'edge'], 'pascal-mt')
    assert metrics[1] == dict(type='EdgeMetric', task='edge', max_dist=0.0075)
    evaluator = MultiTaskEvaluator(metrics=[metrics[0]], delta_m_reference=PASCAL)
    evaluator.metrics.append(METRICS.build(dict(type='DepthMetric')))
    evaluator.process([{'img_id': '0', 'pred': {'semseg': torch.zeros(2, 2, dtype=torch.long),
                                                'depth': torch.ones(2, 2)},
                        'gt': {'semseg': torch.zeros(2, 2, dtype=torch.long),
                               'depth': torch.ones(2, 2)}}])
    out = evaluator.evaluate(1)
    assert DELTA_M_KEY not in out and 'semseg/mIoU' in out
    assert any('no depth/rmse' in m for m in messages)
    assert DELTA_M_KEY not in MultiTaskEvaluator(metrics=[metrics[0]]).evaluate(0)


def test_build_task_metrics_nyud_and_errors():
    cfgs = build_task_metrics(['semseg', 'depth', 'normals', 'edge'], 'nyud-mt')
    assert cfgs[0]['num_classes'] == 40 and cfgs[3]['max_dist'] == 0.011
    with pytest.raises(ValueError, match='human_parts'):
        build_task_metrics(['human_parts'], 'nyud-mt')
    with pytest.raises(ValueError, match="'nyud-mt'"):
        MultiTaskEvaluator(metrics=None, tasks=['semseg'], dataset='pascal-mt',
                           delta_m_reference='nyud-mt_swin-t_published')
