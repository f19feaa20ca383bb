"""MultiTaskModel: forward modes, losses, predictions, parameter accounting."""
import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.models.param_formulas import fusion_head_params, swin_num_params
from mtbench.registry import MODELS, build_or_explain

TASKS4 = ('semseg', 'human_parts', 'saliency', 'normals')


def _batch(tasks, b=2, size=64, dataset='pascal-mt'):
    g = torch.Generator().manual_seed(0)
    gt = {}
    for t in tasks:
        if t == 'semseg':
            gt[t] = torch.randint(0, 21 if dataset == 'pascal-mt' else 40, (b, size, size),
                                  generator=g)
        elif t == 'human_parts':
            gt[t] = torch.randint(0, 7, (b, size, size), generator=g)
        elif t in ('saliency', 'edge'):
            gt[t] = torch.randint(0, 2, (b, size, size), generator=g)
        elif t == 'normals':
            gt[t] = torch.nn.functional.normalize(torch.randn(b, 3, size, size, generator=g),
                                                  dim=1)
        elif t == 'depth':
            gt[t] = torch.rand(b, size, size, generator=g) * 5
    inputs = torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8)
    return {'inputs': inputs,
            'data_samples': {'img_id': [f'im{i}' for i in range(b)], 'gt': gt}}


@pytest.mark.parametrize('tasks,dataset', [(TASKS4, 'pascal-mt'),
                                           (('semseg', 'depth', 'normals', 'edge'), 'nyud-mt')])
def test_forward_modes_and_backward(tasks, dataset):
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(tasks, dataset))
    data = model.data_preprocessor(_batch(tasks, dataset=dataset), True)
    losses = model(**data, mode='loss')
    assert sorted(losses) == sorted(f'loss_{t}' for t in tasks)
    total = sum(losses.values())
    assert torch.isfinite(total)
    total.backward()
    assert all(p.grad is not None for p in model.decoders.parameters())
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2 and preds[0]['img_id'] == 'im0'
    p = preds[0]['pred']
    for t in tasks:
        if t in ('semseg', 'human_parts'):
            assert p[t].dtype == torch.int64 and p[t].shape == (64, 64)
        elif t in ('saliency', 'edge'):
            assert p[t].shape == (64, 64) and 0 <= p[t].min() and p[t].max() <= 1
        elif t == 'normals':
            assert p[t].shape == (3, 64, 64)
            torch.testing.assert_close(p[t].norm(dim=0), torch.ones(64, 64))
        elif t == 'depth':
            assert p[t].shape == (64, 64)
    assert set(preds[0]['gt']) == set(tasks)


def test_loss_weights_default_and_override():
    model = build_or_explain(MODELS, tiny_model_cfg())
    assert model.loss_weights == {'semseg': 1.0, 'human_parts': 2.0, 'saliency': 5.0,
                                  'normals': 10.0}
    model = build_or_explain(MODELS, tiny_model_cfg(loss_weights=dict(semseg=3)))
    assert model.loss_weights['semseg'] == 3.0
    with pytest.raises(ValueError, match='depth'):
        build_or_explain(MODELS, tiny_model_cfg(loss_weights=dict(depth=1)))


def test_unknown_task_and_types_are_explained():
    with pytest.raises(ValueError, match='Unknown task'):
        build_or_explain(MODELS, tiny_model_cfg(tasks=('semseg', 'sal')))
    with pytest.raises(ValueError, match='not available on dataset'):
        build_or_explain(MODELS, tiny_model_cfg(tasks=('depth',), dataset='pascal-mt'))
    with pytest.raises(KeyError, match="Did you mean 'SwinTransformer'"):
        build_or_explain(MODELS, tiny_model_cfg(backbone=dict(type='SwinTransformr')))
    with pytest.raises(KeyError, match='FullFineTuning'):
        build_or_explain(MODELS, tiny_model_cfg(method=dict(type='FulFineTuning')))


def _swin_t_model(method, tasks=TASKS4, dataset='pascal-mt'):
    cfg = tiny_model_cfg(tasks, dataset, method=method,
                         backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
                         decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


def test_swin_t_pascal_accounting_matches_reference_figures():
    """The reference code's figures (shared/reference/reference_models.md §9.2)."""
    full = count_parameters(_swin_t_model(dict(type='FullFineTuning')))
    assert full['trainable'] == 29_464_442
    assert full['backbone_original'] == 27_517_818
    assert full['decoders'] == 1_946_624
    assert full['backbone_added'] == 0
    assert full['total'] == 29_464_442
    dec = count_parameters(_swin_t_model(dict(type='DecoderOnly')))
    assert dec['trainable'] == 1_946_624 and dec['total'] == 29_464_442
    assert dec['per_task'] == {t: fusion_head_params([192, 384, 768, 768], [18, 36, 72, 144], c)
                               for t, c in zip(TASKS4, (21, 7, 1, 3))}
    assert dec['shared'] == 0


def test_swin_t_nyud_and_single_task_accounting():
    # NYUD decoder side 1,960,677 and full FT 29,478,495 (reference_models.md §4)
    full = count_parameters(_swin_t_model(dict(type='FullFineTuning'),
                                          ('semseg', 'depth', 'normals', 'edge'), 'nyud-mt'))
    assert full['decoders'] == 1_960_677 and full['trainable'] == 29_478_495
    # single-task models: semseg 28,018,527; parts 28,003,393; sal 27,996,907; normals 27,999,069
    expected = {'semseg': 28_018_527, 'human_parts': 28_003_393, 'saliency': 27_996_907,
                'normals': 27_999_069}
    for task, n in expected.items():
        counts = count_parameters(_swin_t_model(dict(type='SingleTaskFineTuning'), (task,)))
        assert counts['trainable'] == n
    backbone = swin_num_params(96, [2, 2, 6, 2], [3, 6, 12, 24], [7] * 4)
    assert sum(expected.values()) == 4 * backbone + 1_946_624


def test_closed_form_equals_count():
    for method in (dict(type='FullFineTuning'), dict(type='DecoderOnly')):
        model = build_or_explain(MODELS, tiny_model_cfg(method=method))
        assert model.method.num_trainable(model) == count_parameters(model)['trainable']
    model = _swin_t_model(dict(type='FullFineTuning'))
    assert model.method.num_trainable(model) == 29_464_442


def test_single_task_method_rejects_multiple_tasks():
    with pytest.raises(ValueError, match='one task'):
        build_or_explain(MODELS, tiny_model_cfg(method=dict(type='SingleTaskFineTuning')))
