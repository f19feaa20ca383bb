"""Hyperformer, Polyhistor and Polyhistor-Lite: counts, generated weights, task streams."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.hypernetwork import AdapterWeights, GeneratedAdapterLinear, WeightGenerator
from mtbench.registry import MODELS, build_or_explain

PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
TASKS = ('semseg', 'saliency', 'normals')
SMALL = dict(embed_dim=6, projector_hidden=8, cond_dim=5)
METHODS = {
    'hyperformer-site': dict(type='Hyperformer', reduction=8, **SMALL),
    'hyperformer-stage': dict(type='Hyperformer', reduction=8, sharing='stage', **SMALL),
    'hyperformer-all-cln': dict(type='Hyperformer', reduction=8, sharing='all',
                                conditional_norm=True, **SMALL),
    'polyhistor': dict(type='Polyhistor', reduction=4, rank=3, **SMALL),
    'polyhistor-lite': dict(type='PolyhistorLite', reduction=4, rank=3, **SMALL),
}


def _build(method, tasks=TASKS, seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=copy.deepcopy(method)))


def _bank(model):
    return getattr(model.backbone, model.method.param_prefix.rstrip('.'))


def _randomise(model, seed=0):
    """Move every added parameter away from its (partly zero) initialisation."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in _bank(model).parameters():
            p.add_(0.3 * torch.randn(p.shape, generator=g))
    return model


def _swin_t(method):
    cfg = dict(type='MultiTaskModel', tasks=PASCAL, dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=method)
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


DECODERS = 1_946_624                     # 4 PASCAL fusion heads (MTLoRA main.py's printout)
SWIN_T_NORMS = (4 * (96 * 2 + 192 * 2 + 384 * 6 + 768 * 2)   # norm1 + norm2 of 12 blocks
                + 8 * (96 + 192 + 384) + 2 * 96)            # merging norms, patch norm


def _hyperformer_site(d, m, t=64):   # (t + 1) (D + U + their biases), 2 sites per block
    return (t + 1) * (m * d + d * m + m + d)


HYPERFORMER_T = (4 * 512                                   # task embeddings
                 + 512 * 128 + 128 + 128 * 64 + 64 + 2 * 64  # projector + LayerNorm
                 + 2 * (2 * _hyperformer_site(96, 12) + 2 * _hyperformer_site(192, 24)
                        + 6 * _hyperformer_site(384, 48) + 2 * _hyperformer_site(768, 96))
                 + SWIN_T_NORMS + DECODERS)
EMBED_PROJ_64 = (4 + 12 + 2) * 64 + 3 * 64 * 128 + 128 + 128 * 64 + 64 + 2 * 64


def _decomposed_pair(d, m, r=24, t=64):   # left (m r + d r) and right (r d + r m) generators
    return (t + 1) * (m * r + d * r) + (t + 1) * (r * d + r * m)


POLYHISTOR_T = (EMBED_PROJ_64 + sum(_decomposed_pair(d, d // 2) for d in (96, 192, 384, 768))
                + DECODERS)
POLYHISTOR_LITE_T = (EMBED_PROJ_64 + _decomposed_pair(96, 48)
                     + 2 * 2 * (2 * 1 + 2 * 2 ** 2 + 6 * 4 ** 2 + 2 * 8 ** 2)  # S_D, S_U
                     + DECODERS)


@pytest.mark.parametrize('method,expected,published', [
    (dict(type='Hyperformer'), HYPERFORMER_T, 72.77e6),
    (dict(type='Polyhistor'), POLYHISTOR_T, 8.96e6),
    (dict(type='PolyhistorLite'), POLYHISTOR_LITE_T, None),
], ids=['hyperformer', 'polyhistor', 'polyhistor-lite'])
def test_swin_t_pascal_counts_match_hand_formula(method, expected, published):
    model = _swin_t(method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert counts['decoders'] == DECODERS
    # only the task embeddings are task-specific
    embed = 512 if method['type'] == 'Hyperformer' else 64
    assert {t: counts['per_task'][t] - sum(p.numel() for p in model.decoders[t].parameters())
            for t in PASCAL} == {t: embed for t in PASCAL}
    if published:
        assert abs(expected - published) / published < 0.03


def test_hyperformer_swin_t_count_is_the_published_one():
    assert HYPERFORMER_T == 72_779_472 and round(HYPERFORMER_T / 1e6, 1) == 72.8


def _reference_adapter(z, w: AdapterWeights):
    out = []
    for t in range(w.down.shape[0]):
        h = z[t] @ w.down[t].T + (0 if w.down_bias is None else w.down_bias[t])
        a = F.gelu(h) @ w.up[t].T + (0 if w.up_bias is None else w.up_bias[t])
        if w.norm_weight is not None:
            mu, var = a.mean(-1, keepdim=True), a.var(-1, unbiased=False, keepdim=True)
            a = (a - mu) / torch.sqrt(var + 1e-5) * w.norm_weight[t] + w.norm_bias[t]
        out.append(z[t] + a)
    return torch.stack(out)


@pytest.mark.parametrize('with_extras', [False, True])
def test_generated_adapter_linear_matches_per_task_equations(with_extras):
    torch.manual_seed(0)
    T, d, m = 3, 8, 4
    w = AdapterWeights(*(torch.randn(T, *s, dtype=torch.float64) for s in [(m, d), (d, m)]),
                       *((torch.randn(T, n, dtype=torch.float64) for n in (m, d, d, d))
                         if with_extras else ()))

    class Source:
        def adapter_weights(self, site):
            assert site == 5
            return w

    base = torch.nn.Linear(6, d).double()
    layer = GeneratedAdapterLinear(base, Source(), 5, T)
    x = torch.randn(T * 2, 7, 6, dtype=torch.float64)
    got = layer(x)
    z = base(x).reshape(T, 14, d)
    torch.testing.assert_close(got, _reference_adapter(z, w).reshape(T * 2, 7, d))
    assert not any('source' in n for n, _ in layer.named_modules())
    with pytest.raises(ValueError, match='task streams'):
        layer(torch.randn(4, 7, 6, dtype=torch.float64))


def test_weight_generator_is_affine_in_the_condition():
    gen = WeightGenerator(5, {'a': (3, 2), 'b': (4,)}, std=0.1, zero=('b',)).double()
    cond = torch.randn(2, 5, dtype=torch.float64)
    out = gen(cond)
    flat = cond @ gen.weight.T + gen.bias
    torch.testing.assert_close(out['a'], flat[:, :6].reshape(2, 3, 2))
    assert torch.equal(out['b'], torch.zeros(2, 4, dtype=torch.float64))
    assert WeightGenerator.param_count(5, [6, 4]) == sum(p.numel() for p in gen.parameters())
    with pytest.raises(ValueError, match='zero-initialised'):
        WeightGenerator(5, {'a': (3,)}, zero=('c',))


def _projected(bank, task, layer=None, position=None):
    """h_I of one task, computed from the raw parameters."""
    parts = [bank.conditions.task_embeddings[task]]
    if layer is not None:
        parts += [bank.conditions.layer_embeddings[layer],
                  bank.conditions.position_embeddings[position]]
    first, _, second = bank.projector.net
    hidden = torch.relu(first.weight @ torch.cat(parts) + first.bias)
    cond = second.weight @ hidden + second.bias
    norm = bank.projector.norm
    return F.layer_norm(cond, cond.shape, norm.weight, norm.bias)


@pytest.mark.parametrize('name', ['hyperformer-site', 'hyperformer-stage',
                                  'hyperformer-all-cln'])
def test_hyperformer_weights_match_an_independent_computation(name):
    model = _randomise(_build(METHODS[name]))
    bank = _bank(model)
    cfg = METHODS[name]
    for index in (0, 5, len(bank.sites) - 1):
        site = bank.sites[index]
        gen = bank.generators[{'site': index, 'stage': site.stage, 'all': 0}[
            cfg.get('sharing', 'site')]]
        full = max(bank.sites, key=lambda s: s.width).width if cfg.get('sharing') == 'all' \
            else site.width
        d, m, fm = site.width, site.width // 8, full // 8
        w = bank.adapter_weights(index)
        for t, task in enumerate(TASKS):
            per_layer = cfg.get('sharing', 'site') != 'site'
            cond = _projected(bank, task, *((site.layer, site.position) if per_layer else ()))
            flat = gen.weight @ cond + gen.bias   # [vec(D), b_D, vec(U), b_U, (gamma, beta)]
            sizes = [fm * full, fm, full * fm, full]
            down, down_bias, up, up_bias = flat[:sum(sizes)].split(sizes)
            expected = [down.view(fm, full)[:m, :d], down_bias[:m], up.view(full, fm)[:d, :m],
                        up_bias[:d]]
            for got, want in zip((w.down, w.down_bias, w.up, w.up_bias), expected):
                torch.testing.assert_close(got[t], want, rtol=1e-5, atol=1e-6)
            assert (w.norm_weight is not None) == cfg.get('conditional_norm', False)


def test_polyhistor_factors_and_lite_kronecker_scaling():
    model = _randomise(_build(METHODS['polyhistor']))
    bank = _bank(model)
    for index in (0, len(bank.sites) - 1):
        left, right = bank.factors(index)
        w = bank.adapter_weights(index)
        d = bank.sites[index].width
        assert w.down.shape == (3, d // 4, d) and w.up.shape == (3, d, d // 4)
        torch.testing.assert_close(w.down, left['down'] @ right['down'])
        assert int(torch.linalg.matrix_rank(w.up[0], rtol=1e-4)) == 3   # rank r
        assert len(bank.left) == len(bank.right) == 4                  # one pair per stage

    lite = _randomise(_build(METHODS['polyhistor-lite']))
    bank = _bank(lite)
    assert len(bank.left) == len(bank.right) == 1                      # one pair for all widths
    assert [tuple(bank.scaling_down[i].shape) for i in range(0, 16, 4)] == [
        (1, 1), (2, 2), (4, 4), (8, 8)]
    for index in (1, 9, 15):
        left, right = bank.factors(index)
        w = bank.adapter_weights(index)
        for t in range(3):
            template_down = left['down'][t] @ right['down'][t]
            template_up = left['up'][t] @ right['up'][t]
            torch.testing.assert_close(w.down[t], torch.kron(bank.scaling_down[index],
                                                             template_down))
            torch.testing.assert_close(w.up[t], torch.kron(bank.scaling_up[index], template_up))
    fresh = _bank(_build(METHODS['polyhistor-lite']))
    for kernel in fresh.scaling_down:          # orthogonal at initialisation
        torch.testing.assert_close(kernel @ kernel.T, torch.eye(len(kernel)))


class _FixedAdapter(torch.nn.Module):
    """A plain Linear followed by fixed adapter weights of one task (reference)."""

    def __init__(self, base, w: AdapterWeights, t):
        super().__init__()
        self.base, self.w = base, AdapterWeights(*(None if x is None else x[t:t + 1].detach()
                                                   for x in w))

    def forward(self, x):
        out = self.base(x)
        return _reference_adapter(out.reshape(1, -1, out.shape[-1]), self.w).reshape(out.shape)


@pytest.mark.parametrize('name', ['hyperformer-stage', 'hyperformer-all-cln', 'polyhistor-lite'])
def test_task_streams_equal_a_plain_backbone_with_that_tasks_adapters(name):
    model = _randomise(_build(METHODS[name]))
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        feats = model.backbone(x, list(TASKS))
        bank = _bank(model)
        weights = [bank.adapter_weights(i) for i in range(len(bank.sites))]
    positions = {0: ('attn', 'proj'), 1: ('mlp', 'fc2')}
    for t, task in enumerate(TASKS):
        plain = _build(dict(type='FullFineTuning'))       # same pretrained backbone (seed 0)
        plain.eval()
        for site, w in zip(bank.sites, weights):
            owner, child = positions[site.position]
            owner = getattr(plain.backbone.layers[site.stage].blocks[site.block], owner)
            setattr(owner, child, _FixedAdapter(getattr(owner, child), w, t))
        with torch.no_grad():
            ref = plain.backbone(x)
        for got, want in zip(feats[task], ref):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(feats['semseg'][3], feats['normals'][3])


@pytest.mark.parametrize('name', ['hyperformer-site', 'hyperformer-stage', 'polyhistor',
                                  'polyhistor-lite'])
def test_generated_weights_are_a_deterministic_function_of_the_trainable_state(name):
    model = _randomise(_build(METHODS[name]))
    bank = _bank(model)
    first = [bank.adapter_weights(i) for i in range(len(bank.sites))]
    again = [bank.adapter_weights(i) for i in range(len(bank.sites))]
    other = _build(METHODS[name], seed=1)                # different method initialisation
    other.method.load_trainable_state_dict(other, model.method.trainable_state_dict(model))
    theirs = [_bank(other).adapter_weights(i) for i in range(len(bank.sites))]
    for a, b, c in zip(first, again, theirs):
        for x, y, z in zip(a, b, c):
            if x is not None:
                assert torch.equal(x, y) and torch.equal(x, z)
    with torch.no_grad():   # one hypernetwork parameter changes the generated weights
        bank.projector.net[2].bias[0] += 0.5
    changed = [bank.adapter_weights(i) for i in range(len(bank.sites))]
    assert all(not torch.equal(a.down, b.down) for a, b in zip(first, changed))


@pytest.mark.parametrize('method,match', [
    (dict(type='Hyperformer', reduction=0), 'reduction'),
    (dict(type='Hyperformer', reduction=64), 'reduction 64 leaves no bottleneck'),
    (dict(type='Hyperformer', sharing='layer'), 'sharing'),
    (dict(type='Hyperformer', positions=('ffn',)), 'positions'),
    (dict(type='Hyperformer', positions=('mlp', 'mlp')), 'positions'),
    (dict(type='Hyperformer', embed_dim=0), 'embed_dim'),
    (dict(type='Hyperformer', cond_dim=2.5), 'cond_dim'),
    (dict(type='Hyperformer', init_std=0.0), 'init_std'),
    (dict(type='Polyhistor', rank=0), 'rank'),
    (dict(type='Polyhistor', reduction=4, rank=9), 'rank 9 exceeds'),
    (dict(type='Polyhistor', projector_hidden=-1), 'projector_hidden'),
    (dict(type='PolyhistorLite', reduction=3, rank=2), 'reduction 3 must divide'),
    (dict(type='PolyhistorLite', positions=()), 'positions'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method)
