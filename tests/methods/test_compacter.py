"""Compacter / Compacter++: PHM algebra, adapter equation, rule sharing, counts, bad settings."""
import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.compacter import CompacterLinear
from mtbench.methods.phm import PHMLinear, PHMRules, kronecker_sum
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
DECODERS_PASCAL_448 = 1_946_624  # MTLoRA's main.py prints 'Decoder params 1,946,624'


def _build(method, tasks=TASKS, seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=method))


def _naive_phm_weight(rules, s, t):
    """sum_i kron(A_i, s_i t_i^T), one Kronecker product at a time."""
    return sum(torch.kron(rules[i], s[i] @ t[i].T) for i in range(rules.shape[0]))


def test_kronecker_sum_equals_torch_kron():
    g = torch.Generator().manual_seed(0)
    rules = torch.randn(3, 3, 3, generator=g, dtype=torch.float64)
    blocks = torch.randn(3, 4, 5, generator=g, dtype=torch.float64)
    expected = sum(torch.kron(rules[i], blocks[i]) for i in range(3))
    torch.testing.assert_close(kronecker_sum(rules, blocks), expected, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match='rules must have shape'):
        kronecker_sum(rules[:, :2], blocks)


@pytest.mark.parametrize('rank', [1, 2, None])
def test_phm_linear_matches_sum_of_kronecker_products(rank):
    torch.manual_seed(0)
    layer = PHMLinear(8, 12, n=4, rank=rank).double()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    x = torch.randn(5, 8, dtype=torch.float64)
    rules = layer.phm_rules.rules[0]
    if rank is None:
        weight = sum(torch.kron(rules[i], layer.phm_blocks[i]) for i in range(4))
    else:
        weight = _naive_phm_weight(rules, layer.phm_s, layer.phm_t)
    assert weight.shape == (12, 8)
    torch.testing.assert_close(layer(x), x @ weight.T + layer.bias, rtol=0, atol=1e-10)
    assert torch.linalg.matrix_rank(layer.blocks()[0]).item() == (rank or 2)


def test_phm_linear_initialisation_follows_the_official_code():
    torch.manual_seed(0)
    layer = PHMLinear(64, 16, n=4, rank=1)
    assert layer.phm_s.shape == (4, 4, 1) and layer.phm_t.shape == (4, 16, 1)
    bound_t = 2 ** 0.5 * (6 / (16 + 1)) ** 0.5  # Xavier-uniform, gain sqrt(2), on [16, 1]
    assert layer.phm_t.abs().max() <= bound_t and layer.phm_t.abs().max() > 0.5 * bound_t
    assert torch.count_nonzero(layer.bias) == 0
    assert 0 < layer.phm_rules.rules.std() < 5e-4  # N(0, 1e-4^2)
    zero = PHMLinear(16, 64, n=4, rank=1, zero_init=True)
    assert torch.count_nonzero(zero.weight()) == 0 and torch.count_nonzero(zero.phm_t) > 0


@pytest.mark.parametrize('bad,match', [
    (dict(in_features=6, out_features=8, n=4), 'must divide both widths'),
    (dict(in_features=8, out_features=8, n=0), 'positive integer'),
    (dict(in_features=8, out_features=8, n=4, rank=0), 'rank must be a positive integer'),
    (dict(in_features=8, out_features=8, n=2, rules=PHMRules(4)), 'shared PHM rules have n=4'),
])
def test_phm_linear_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        PHMLinear(**bad)


def test_adapter_equation_and_placement():
    model = _build(dict(type='Compacter', n=4, rank=2))
    with torch.no_grad():
        model.backbone.compacter_rules.rules.normal_()
        for name, p in model.backbone.named_parameters():
            if 'compacter.' in name:
                p.normal_()
    site = model.backbone.layers[1].blocks[1].mlp.fc2
    assert isinstance(site, CompacterLinear)
    assert isinstance(model.backbone.layers[1].blocks[1].attn.proj, CompacterLinear)
    x = torch.randn(2, 7, site.in_features)
    rules = model.backbone.compacter_rules.rules[0].double()
    d, u = site.compacter.down, site.compacter.up
    w_down = _naive_phm_weight(rules, d.phm_s.double(), d.phm_t.double())
    w_up = _naive_phm_weight(rules, u.phm_s.double(), u.phm_t.double())
    h = torch.nn.functional.linear(x.double(), site.base_layer.weight.double(),
                                   site.base_layer.bias.double())
    z = torch.nn.functional.gelu(h @ w_down.T + d.bias.double())
    expected = h + z @ w_up.T + u.bias.double()
    assert w_down.shape == (16, 64) and w_up.shape == (64, 16)  # nano stage 1: width 64
    with torch.no_grad():
        torch.testing.assert_close(site(x).double(), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize('sharing,groups', [('all', 1), ('stage', 4), ('layer', 2 * 8 * 2)])
def test_rule_sharing_groups_and_gradients(sharing, groups):
    model = _build(dict(type='Compacter', n=2, rank=1, rule_sharing=sharing))
    rules = model.backbone.compacter_rules
    assert rules.rules.shape == (groups, 2, 2, 2)
    layers = {n: m for n, m in model.backbone.named_modules() if isinstance(m, PHMLinear)}
    assert len(layers) == 2 * 8 * 2  # nano: 8 blocks, 2 sites, down + up
    assert all(m._rules is rules for m in layers.values())
    used = sorted({m.rule_group for m in layers.values()})
    assert used == list(range(groups))
    for name, m in layers.items():
        if sharing == 'stage':
            assert m.rule_group == int(name.split('.')[1])
    # the rules are one parameter, registered once, and every group receives a gradient
    assert sum(1 for n, _ in model.named_parameters() if 'compacter_rules' in n) == 1
    model.train()
    out = model.forward_tasks(torch.randn(2, 3, 64, 64))
    sum(o.square().mean() for o in out.values()).backward()
    grad = rules.rules.grad.flatten(1).abs().sum(1)
    assert (grad > 0).all()


def test_trainable_set_norms_switch_and_frozen_base():
    model = _build(dict(type='Compacter'))
    trainable = {n for n, p in model.backbone.named_parameters() if p.requires_grad}
    assert 'layers.2.blocks.1.norm2.weight' in trainable
    assert 'layers.0.downsample.norm.bias' in trainable and 'patch_embed.norm.weight' in trainable
    assert not any(n.endswith('base_layer.weight') or 'qkv' in n or 'relative_position' in n
                   or 'reduction' in n for n in trainable)
    frozen_norms = _build(dict(type='Compacter', train_norms=False))
    added = {n for n, p in frozen_norms.backbone.named_parameters() if p.requires_grad}
    assert added and all('compacter' in n for n in added)


def test_identity_only_with_zero_init_up():
    x = torch.randn(2, 3, 64, 64)
    plain = _build(dict(type='FullFineTuning'), ('semseg',)).eval()
    with torch.no_grad():
        ref = plain.backbone(x, ['semseg'])['semseg']
        for zero, tol in [(True, 0.0), (False, 1e-5)]:
            model = _build(dict(type='Compacter', zero_init_up=zero), ('semseg',)).eval()
            out = model.backbone(x, ['semseg'])['semseg']
            rel = max(float((a - b).abs().max() / b.abs().max()) for a, b in zip(out, ref))
            assert rel <= tol
            assert (rel == 0) == zero  # the paper's init is near, not at, the identity


def _swin_t(method, tasks=PASCAL, dataset='pascal-mt'):
    cfg = dict(type='MultiTaskModel', tasks=tasks, dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=method)
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


# Swin-T: widths 96/192/384/768, depths 2/2/6/2. One rank-1 adapter on width d with
# m = d/4: down r(d+m) + m, up r(m+d) + d -> 360 / 720 / 1440 / 2880 for the four widths.
ADAPTERS_PER_SITE_SET = 2 * 360 + 2 * 720 + 6 * 1440 + 2 * 2880  # = 16,560
LAYER_NORMS = 2 * 96 + 4 * (2 * 96 + 2 * 192 + 6 * 384 + 2 * 768) + 8 * (96 + 192 + 384)


@pytest.mark.parametrize('method,expected', [
    (dict(type='Compacter'), 2 * 16_560 + 4 ** 3 + 23_232 + DECODERS_PASCAL_448),
    (dict(type='Compacter', positions=('mlp',)), 16_560 + 64 + 23_232 + DECODERS_PASCAL_448),
    (dict(type='Compacter', train_norms=False), 2 * 16_560 + 64 + DECODERS_PASCAL_448),
    # full blocks (PHM-Adapter-like), one rule set per projection: 2 d m / n + m + d per adapter
    (dict(type='Compacter', rank=None, rule_sharing='layer', train_norms=False),
     sum(k * (2 * d * (d // 4) // 4 + d // 4 + d) for d, k in
         [(96, 4), (192, 4), (384, 12), (768, 4)]) + 2 * 24 * 64 + DECODERS_PASCAL_448),
], ids=['compacter', 'compacter-pp', 'frozen-norms', 'phm-full-blocks'])
def test_swin_t_pascal_448_counts(method, expected):
    assert ADAPTERS_PER_SITE_SET == 16_560 and LAYER_NORMS == 23_232
    model = _swin_t(method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert counts['decoders'] == DECODERS_PASCAL_448
    assert sum(counts['per_task'].values()) == DECODERS_PASCAL_448  # adapters are shared
    assert counts['shared'] == expected - DECODERS_PASCAL_448


def test_published_configs_count():
    assert 2 * 16_560 + 64 + 23_232 + DECODERS_PASCAL_448 == 2_003_040
    assert 16_560 + 64 + 23_232 + DECODERS_PASCAL_448 == 1_986_480


@pytest.mark.parametrize('method,match', [
    (dict(type='Compacter', n=0), 'Compacter n must be a positive integer'),
    (dict(type='Compacter', n=3), r'n=3 with reduction=4 .*\(32, 8\)'),
    (dict(type='Compacter', n=4, reduction=16), r'\(32, 2\)'),
    (dict(type='Compacter', n=4, reduction=64), r'\(32, 0\)'),
    (dict(type='Compacter', rank=0), 'Compacter rank'),
    (dict(type='Compacter', rank=1.5), 'Compacter rank'),
    (dict(type='Compacter', reduction=0), 'Compacter reduction'),
    (dict(type='Compacter', positions=('ffn',)), 'Compacter positions'),
    (dict(type='Compacter', positions=()), 'Compacter positions'),
    (dict(type='Compacter', positions=('mlp', 'mlp')), 'Compacter positions'),
    (dict(type='Compacter', rule_sharing='global'), "rule_sharing .* 'global'"),
    (dict(type='Compacter', rule_init_std=0.0), 'rule_init_std'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method)
