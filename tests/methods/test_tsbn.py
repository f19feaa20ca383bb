"""TSBN / TSσBN: Swin-T counts by hand, stream equations against plain Swins, isolation, errors."""
import copy
import math
import re

import pytest
import torch
import torch.nn as nn
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.tsbn import TaskLayerNorm
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
NYUD = ['semseg', 'depth', 'normals', 'edge']

# Swin-T (embed 96, depths 2-2-6-2): summed widths of its LayerNorms.
SWIN_T_PATCH_NORM = 96
SWIN_T_BLOCK_NORMS = 2 * (2 * 96) + 2 * (2 * 192) + 6 * (2 * 384) + 2 * (2 * 768)   # 8,832
SWIN_T_MERGE_NORMS = 4 * 96 + 4 * 192 + 4 * 384                                    # 2,688
SWIN_T_NORMS = SWIN_T_PATCH_NORM + SWIN_T_BLOCK_NORMS + SWIN_T_MERGE_NORMS           # 11,616
SWIN_T_BACKBONE = 27_517_818
PASCAL_DECODERS = 1_946_624


def _swin_t(tasks, dataset, **method):
    cfg = dict(type='MultiTaskModel', tasks=tasks, dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='TSBN', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


@pytest.mark.parametrize('method,added_per_task,original', [
    (dict(), 2 * SWIN_T_NORMS, 0),
    (dict(sigma=True), SWIN_T_NORMS, 0),
    (dict(sigma=True, gate_base='normalized'), SWIN_T_NORMS, 0),
    (dict(sites=('norm1', 'norm2'), start_stage=2), 2 * (6 * 2 * 384 + 2 * 2 * 768), 0),
    (dict(train_backbone=True), 2 * SWIN_T_NORMS, SWIN_T_BACKBONE - 2 * SWIN_T_NORMS),
    (dict(sigma=True, train_backbone=True), SWIN_T_NORMS, SWIN_T_BACKBONE),
], ids=['tsbn', 'tssigmabn', 'tssigmabn-normalized', 'tsbn-late', 'tsbn-train-bb',
        'tssigmabn-train-bb'])
def test_swin_t_pascal_counts_by_hand(method, added_per_task, original):
    model = _swin_t(PASCAL, 'pascal-mt', **method)
    counts = count_parameters(model)
    expected = 4 * added_per_task + original + PASCAL_DECODERS
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert counts['decoders'] == PASCAL_DECODERS
    assert counts['backbone_added'] == 4 * added_per_task
    assert counts['backbone_original'] == original
    added = {t: counts['per_task'][t] - sum(p.numel() for p in model.decoders[t].parameters())
             for t in PASCAL}
    assert added == {t: added_per_task for t in PASCAL}


def test_swin_t_published_configurations():
    assert _swin_t(PASCAL, 'pascal-mt').method.num_trainable(
        _swin_t(PASCAL, 'pascal-mt')) == 2_039_552
    model = _swin_t(PASCAL, 'pascal-mt', sigma=True)
    assert model.method.num_trainable(model) == 1_993_088
    nyud = _swin_t(NYUD, 'nyud-mt', sigma=True)
    assert count_parameters(nyud)['backbone_added'] == 4 * SWIN_T_NORMS


def _model(method, seed=0, dtype=torch.float64):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(TASKS, method=method)).to(dtype)


def _randomise(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if 'tsbn_' in name:
                p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))


_ALL_NORMS = r'(patch_embed\.norm|layers\.\d+\.blocks\.\d+\.norm[12]|layers\.\d+\.downsample\.norm)'


@pytest.mark.parametrize('method,pattern', [
    (dict(type='TSBN'), _ALL_NORMS),
    (dict(type='TSBN', sigma=True), _ALL_NORMS),
    (dict(type='TSBN', sigma=True, gate_base='normalized', gate_scale=1.5), _ALL_NORMS),
    (dict(type='TSBN', sites=('norm1', 'norm2'), start_stage=2),
     r'layers\.[23]\.blocks\.\d+\.norm[12]'),
    (dict(type='TSBN', sigma=True, sites=('downsample',), start_stage=1, gate_scale=3.0),
     r'layers\.[12]\.downsample\.norm'),
    (dict(type='TSBN', sites=('patch_embed', 'norm2')), r'(patch_embed\.norm|.*\.norm2)'),
], ids=['tsbn', 'tssigmabn', 'normalized', 'late-blocks', 'merge-split', 'embed-norm2'])
def test_each_stream_is_a_plain_swin_with_its_task_affine(method, pattern):
    """Task t's features == a plain Swin whose selected norms use t's affine (float64)."""
    model = _model(method)
    _randomise(model)
    plain = _model(dict(type='FullFineTuning')).backbone
    scale = method.get('gate_scale', 2.0 if method.get('gate_base') != 'normalized' else 1.0)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    model.eval()
    plain.eval()
    with torch.no_grad():
        out = model.backbone(x, list(TASKS))
        selected = [n for n, m in plain.named_modules()
                    if isinstance(m, nn.LayerNorm) and re.fullmatch(pattern, n)]
        assert selected and len(selected) == len(model.method.norm_names)
        for task in TASKS:
            ref = copy.deepcopy(plain)
            for name in selected:
                norm = ref.get_submodule(name)
                ours = model.backbone.get_submodule(name)
                if not method.get('sigma'):
                    norm.weight.copy_(ours.tsbn_weight[task])
                    norm.bias.copy_(ours.tsbn_bias[task])
                else:
                    gate = scale / (1.0 + torch.exp(-ours.tsbn_gate[task]))
                    if method.get('gate_base') == 'normalized':
                        norm.weight.copy_(gate)
                        norm.bias.zero_()
                    else:
                        norm.weight.mul_(gate)
                        norm.bias.mul_(gate)
            expected = ref(x, [task])[task]
            for got, want in zip(out[task], expected):
                torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


def test_task_layer_norm_equations_float64():
    torch.manual_seed(0)
    c, n, tokens = 6, 3, 5
    tasks = ('a', 'b')
    for mode in ('affine', 'gate_pretrained', 'gate_normalized'):
        norm = nn.LayerNorm(c, eps=1e-5).double()
        with torch.no_grad():
            norm.weight.normal_()
            norm.bias.normal_()
        w0, b0 = norm.weight.detach().clone(), norm.bias.detach().clone()
        TaskLayerNorm.convert(norm, tasks, mode, gate_scale=1.7, gate_init=0.3)
        for p in norm.parameters():
            with torch.no_grad():
                if p is not norm.weight and p is not norm.bias:
                    p.normal_()
        x = torch.randn(len(tasks) * n, tokens, c, dtype=torch.float64)
        out = norm(x)
        for i, t in enumerate(tasks):
            xs = x[i * n:(i + 1) * n]
            mean = xs.mean(-1, keepdim=True)
            var = ((xs - mean) ** 2).mean(-1, keepdim=True)
            x_hat = (xs - mean) / torch.sqrt(var + 1e-5)
            if mode == 'affine':
                want = norm.tsbn_weight[t] * x_hat + norm.tsbn_bias[t]
            else:
                gate = 1.7 / (1 + math.e ** (-norm.tsbn_gate[t]))
                want = gate * (w0 * x_hat + b0) if mode == 'gate_pretrained' else gate * x_hat
            torch.testing.assert_close(out[i * n:(i + 1) * n], want, rtol=1e-12, atol=1e-12)


def test_broadcasting_norm_splits_one_stream():
    norm = TaskLayerNorm.convert(nn.LayerNorm(4), ('a', 'b', 'c'), broadcast=True)
    with torch.no_grad():
        norm.tsbn_bias['b'].fill_(1.0)
    x = torch.randn(2, 7, 4)
    out = norm(x)
    assert out.shape == (6, 7, 4)
    torch.testing.assert_close(out[2:4] - 1.0, out[:2])
    with pytest.raises(ValueError, match='stacked'):
        TaskLayerNorm.convert(nn.LayerNorm(4), ('a', 'b'))(torch.randn(3, 4))


@pytest.mark.parametrize('method', [dict(type='TSBN'), dict(type='TSBN', sigma=True),
                                    dict(type='TSBN', sites=('downsample',), start_stage=1)])
def test_a_task_loss_reaches_only_that_tasks_norms(method):
    model = _model(method, dtype=torch.float32)
    _randomise(model)
    feats = model.backbone(torch.randn(2, 3, 64, 64), list(TASKS))
    sum(f.square().mean() for f in feats['saliency']).backward()
    touched = {model.method.task_of(n) for n, p in model.backbone.named_parameters()
               if p.grad is not None and p.grad.abs().sum() > 0}
    assert touched == {'saliency'}


def test_identity_flags_and_normalized_gate_start():
    assert _model(dict(type='TSBN', sigma=True)).method.identity_at_init
    assert not _model(dict(type='TSBN', sigma=True, gate_init=0.0)).method.identity_at_init
    model = _model(dict(type='TSBN', sigma=True, gate_base='normalized'))
    assert not model.method.identity_at_init and model.method.method_id == 'tssigmabn'
    gate = model.backbone.layers[0].blocks[0].norm1.gate('semseg')
    torch.testing.assert_close(gate, torch.full_like(gate, 0.5))   # c = 1, g = 0
    assert _model(dict(type='TSBN')).method.method_id == 'tsbn'


def test_backbone_needs_task_names_and_known_tasks():
    model = _model(dict(type='TSBN'), dtype=torch.float32)
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match='task names'):
        model.backbone(x)
    with pytest.raises(KeyError, match='human_parts'):
        model.backbone(x, ['human_parts'])
    assert set(model.backbone(x, 'normals')) == {'normals'}


def test_unused_pretrained_affines_stay_frozen_with_train_backbone():
    model = _model(dict(type='TSBN', train_backbone=True), dtype=torch.float32)
    frozen = {n for n, p in model.backbone.named_parameters() if not p.requires_grad}
    norms = {f'{m}.{leaf}' for m in model.method.norm_names for leaf in ('weight', 'bias')}
    assert frozen == norms
    gated = _model(dict(type='TSBN', sigma=True, train_backbone=True), dtype=torch.float32)
    assert all(p.requires_grad for p in gated.backbone.parameters())


def test_config_gives_the_norms_their_learning_rate_multiplier():
    from mmengine.optim import build_optim_wrapper

    from mtbench.engine.runner_utils import load_config
    cfg = load_config('configs/synthetic/tssigmabn-lr10_swin-nano_synthetic-pascal-64.py', [])
    model = build_or_explain(MODELS, tiny_model_cfg(TASKS, method=dict(cfg.model.method)))
    wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    groups = wrapper.optimizer.param_groups
    names = {id(p): n for n, p in model.named_parameters()}
    for group in groups:
        for p in group['params']:
            if 'tsbn_' in names[id(p)]:
                assert group['lr'] == pytest.approx(10 * 1e-3) and group['weight_decay'] == 0


@pytest.mark.parametrize('method,match', [
    (dict(type='TSBN', sigma=1), 'sigma'),
    (dict(type='TSBN', sites=('norm3',)), 'sites'),
    (dict(type='TSBN', sites=()), 'sites'),
    (dict(type='TSBN', start_stage=-1), 'start_stage'),
    (dict(type='TSBN', start_stage=4), 'start_stage=4'),
    (dict(type='TSBN', sites=('downsample',), start_stage=3), 'select no LayerNorm'),
    (dict(type='TSBN', train_backbone='yes'), 'train_backbone'),
    (dict(type='TSBN', gate_scale=2.0), 'only apply to TSσBN'),
    (dict(type='TSBN', sigma=True, gate_base='input'), 'gate_base'),
    (dict(type='TSBN', sigma=True, gate_scale=0), 'gate_scale'),
    (dict(type='TSBN', sigma=True, gate_scale=1.0), 'gate_scale=1.0 <= 1'),
    (dict(type='TSBN', sigma=True, gate_init=float('nan')), 'gate_init'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _model(method, dtype=torch.float32)
