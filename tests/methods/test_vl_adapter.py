"""VL-Adapter: hand-computed Swin-T counts, adapter equations in float64, task streams, errors."""
import copy
import re

import pytest
import torch
import torch.nn.functional as F
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.adapter import AdaptedLinear
from mtbench.methods.vl_adapter import TaskAdaptedLinear
from mtbench.registry import MODELS, build_or_explain

PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
TASKS = ('semseg', 'saliency', 'normals')
DECODERS_SWIN_T_PASCAL = 1_946_624


def _swin_t_pascal_448(**method):
    cfg = dict(type='MultiTaskModel', tasks=PASCAL, dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='VLAdapter', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


def _nano(seed=0, **method):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(TASKS, method=dict(type='VLAdapter',
                                                                      **method)))


def _randomise_adapters(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'adapter' in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g))


# Swin-T: (width C, depth) per stage; bottleneck m = C / 4; LayerNorms.
STAGES = [(96, 2), (192, 2), (384, 6), (768, 2)]
LAYER_NORMS = (4 * (96 * 2 + 192 * 2 + 384 * 6 + 768 * 2)  # norm1 + norm2 of every block
               + 8 * (96 + 192 + 384)                       # the three PatchMerging norms (4C)
               + 2 * 96)                                    # patch-embedding norm


def _down(c, m):
    return c * m + m


def _up(c, m):
    return m * c + c


@pytest.mark.parametrize('method,adapters', [
    (dict(), sum(2 * d * (_down(c, c // 4) + _up(c, c // 4)) for c, d in STAGES)),
    (dict(sharing='per_task'), sum(2 * d * 4 * (_down(c, c // 4) + _up(c, c // 4))
                                   for c, d in STAGES)),
    (dict(sharing='half_shared'), sum(2 * d * (_down(c, c // 4) + 4 * _up(c, c // 4))
                                      for c, d in STAGES)),
    (dict(sharing='half_shared', shared_half='up', positions=('mlp',)),
     sum(d * (4 * _down(c, c // 4) + _up(c, c // 4)) for c, d in STAGES)),
], ids=['shared', 'per-task', 'half-down', 'half-up-mlp'])
def test_swin_t_pascal_448_counts_by_hand(method, adapters):
    model = _swin_t_pascal_448(**method)
    counts = count_parameters(model)
    expected = adapters + LAYER_NORMS + DECODERS_SWIN_T_PASCAL
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert counts['backbone_added'] == adapters
    assert counts['backbone_original'] == LAYER_NORMS == 23_232


def test_swin_t_published_configuration_numbers():
    shared = _swin_t_pascal_448()
    assert count_parameters(shared)['trainable'] == 2_167_584 + 23_232 + 1_946_624 == 4_137_440
    per_task = _swin_t_pascal_448(sharing='per_task')
    counts = count_parameters(per_task)
    assert counts['trainable'] == 4 * 2_167_584 + 23_232 + 1_946_624 == 10_640_192
    adapters_of = {t: counts['per_task'][t] - sum(
        p.numel() for p in per_task.decoders[t].parameters()) for t in PASCAL}
    assert adapters_of == {t: 2_167_584 for t in PASCAL}
    no_norms = _swin_t_pascal_448(train_norms=False)
    assert no_norms.method.num_trainable(no_norms) == 2_167_584 + 1_946_624


def _adapter64(x, down, up):
    w_d, b_d = down.weight.double(), down.bias.double()
    w_u, b_u = up.weight.double(), up.bias.double()
    return F.gelu(x @ w_d.T + b_d) @ w_u.T + b_u


def test_shared_site_equation_float64():
    torch.manual_seed(0)
    base = torch.nn.Linear(12, 10)
    site = AdaptedLinear(base, 3)
    _randomise_adapters(site)
    x = torch.randn(4, 5, 12)
    z = x.double() @ base.weight.double().T + base.bias.double()
    expected = z + _adapter64(z, site.adapter.down, site.adapter.up)
    torch.testing.assert_close(site(x).double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('shared_half', [None, 'down', 'up'])
def test_task_site_equation_float64(shared_half):
    torch.manual_seed(0)
    base = torch.nn.Linear(12, 10)
    site = TaskAdaptedLinear(base, TASKS, 3, shared_half)
    _randomise_adapters(site)
    x = torch.randn(3 * 4, 5, 12)
    z = x.double() @ base.weight.double().T + base.bias.double()
    pieces = []
    for t, z_t in zip(TASKS, z.chunk(3)):
        if shared_half is None:
            down, up = site.adapters[t].down, site.adapters[t].up
        elif shared_half == 'down':
            down, up = site.adapter_shared, site.adapters[t]
        else:
            down, up = site.adapters[t], site.adapter_shared
        pieces.append(z_t + _adapter64(z_t, down, up))
    torch.testing.assert_close(site(x).double(), torch.cat(pieces), rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='task streams'):
        site(torch.randn(4, 5, 12))


def test_per_task_stream_equals_a_shared_model_with_that_tasks_adapters():
    per_task = _nano(sharing='per_task', reduction=8).eval()
    _randomise_adapters(per_task)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        streams = per_task.backbone(x, list(TASKS))
    shared = _nano(reduction=8).eval()  # the same pretrained weights (same seed)
    for task in TASKS:
        state = {}
        for name, module in per_task.backbone.named_modules():
            if isinstance(module, TaskAdaptedLinear):
                for key, value in module.adapters[task].state_dict().items():
                    state[f'{name}.adapter.{key}'] = value
        missing = shared.backbone.load_state_dict(state, strict=False)
        assert not [k for k in missing.missing_keys if 'adapter' in k]
        with torch.no_grad():
            single = shared.backbone(x, [task])[task]
        for a, b in zip(streams[task], single):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(streams[task][-1], streams[TASKS[0] if task != TASKS[0]
                                                             else TASKS[1]][-1])


def test_trainable_set_task_accounting_and_shared_half_gradient():
    model = _nano(sharing='half_shared', reduction=8)
    names = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    norms = {n for n in names if re.search(r'(^|\.)norm\d?\.(weight|bias)$', n)}
    assert len(norms) == 2 * (2 * 8 + 3 + 1)  # norm1/norm2 of 8 blocks, 3 mergings, patch
    assert names - norms == {n for n, _ in model.backbone.named_parameters() if 'adapter' in n}
    shared = [n for n in names if 'adapter_shared' in n]
    assert shared and all(model.method.task_of(n) is None for n in shared)
    assert model.method.task_of('layers.0.blocks.0.attn.proj.adapters.saliency.weight') \
        == 'saliency'
    with torch.no_grad():  # make every task's up-projection non-zero so the shared half learns
        _randomise_adapters(model)
    feats = model.backbone(torch.randn(2, 3, 64, 64), list(TASKS))
    feats['normals'][-1].sum().backward()
    grads = {n: p.grad for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert all(grads[n] is not None for n in shared)
    own = [n for n in grads if '.adapters.normals.' in n]
    other = [n for n in grads if '.adapters.semseg.' in n]
    assert own and all(grads[n].abs().sum() > 0 for n in own)
    assert other and all(grads[n] is None or not grads[n].any() for n in other)


def test_without_norms_only_adapters_train():
    model = _nano(train_norms=False)
    names = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert names and all('.adapter.' in n for n in names)


@pytest.mark.parametrize('method,match', [
    (dict(reduction=0), 'reduction'),
    (dict(reduction=True), 'reduction'),
    (dict(reduction=2.0), 'reduction'),
    (dict(reduction=1000), 'reduction 1000 leaves no bottleneck'),
    (dict(positions=('ffn',)), 'positions'),
    (dict(positions=()), 'positions'),
    (dict(positions=('attn', 'attn')), 'positions'),
    (dict(sharing='hyper'), "sharing must be one of .* got 'hyper'"),
    (dict(sharing='half_shared', shared_half='middle'), "shared_half .* got 'middle'"),
    (dict(train_norms='yes'), 'train_norms'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _nano(**copy.deepcopy(method))
