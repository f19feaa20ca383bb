"""FAAR: DoRA equations, PDRS (rank prefixes, importance, coverage, shrinking), TS-PD, counts."""
import copy
import weakref

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.faar import (DoRAAdapter, DoRALinear, PDRSHook, coverage_keep,
                                  prefix_length)
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')


def _build(method=None, decoder=None, tasks=TASKS, seed=0):
    torch.manual_seed(seed)
    cfg = tiny_model_cfg(tasks, method=copy.deepcopy(method or dict(type='FAAR', rank=4)))
    if decoder is not None:
        cfg['decoder'] = copy.deepcopy(decoder)
    return build_or_explain(MODELS, cfg)


def _dora_reference(weight, bias, a, b, m, scale, x):
    """``m (W + s B A) / ||W + s B A||_row x + bias`` in float64, written out."""
    w = weight.double() + scale * (b.double() @ a.double())
    norms = torch.sqrt((w ** 2).sum(dim=1, keepdim=True))
    return x.double() @ (m.double()[:, None] * w / norms).t() + bias.double()


def _randomise(layer, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for adapter in layer.adapters().values():
            adapter.B.copy_(torch.randn(adapter.B.shape, generator=g) * 0.3)
            adapter.magnitude.mul_(1 + 0.2 * torch.randn(adapter.magnitude.shape, generator=g))


# ------------------------------------------------------------------------------------ DoRA
def test_dora_linear_matches_the_equation_and_is_identity_at_init():
    torch.manual_seed(0)
    base = nn.Linear(12, 7)
    layer = DoRALinear(base, rank=3, scale=4.0).eval()
    x = torch.randn(5, 12)
    torch.testing.assert_close(layer(x), base(x))  # B = 0: W' = ||W|| W / ||W|| = W
    _randomise(layer)
    ad = layer.dora_shared
    ref = _dora_reference(base.weight, base.bias, ad.A, ad.B, ad.magnitude, 4.0, x)
    torch.testing.assert_close(layer(x).double(), ref, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('task_input,base_input', [('stacked', 'task'), ('stacked', 'shared'),
                                                  ('shared', 'task')])
def test_dora_streams_match_the_equation(task_input, base_input):
    torch.manual_seed(1)
    base = nn.Linear(10, 6)
    layer = DoRALinear(base, rank=2, scale=2.0, task_ranks={'a': 3, 'b': 1},
                       task_scales={'a': 1.5, 'b': 3.0}, task_input=task_input,
                       task_base_input=base_input).eval()
    _randomise(layer, 3)
    n = 4
    x = torch.randn(3 * n if task_input == 'stacked' else n, 10)
    out = layer(x).view(3, n, 6)
    inputs = x.view(3, n, 10) if task_input == 'stacked' else x.expand(3, n, 10)
    for k, (adapter, s) in enumerate([(layer.dora_shared, 2.0), (layer.dora_tasks['a'], 1.5),
                                      (layer.dora_tasks['b'], 3.0)]):
        w = base.weight.double() + s * (adapter.B.double() @ adapter.A.double())
        g = adapter.magnitude.double() / w.norm(dim=1)
        base_in = inputs[0] if (k and base_input == 'shared') else inputs[k]
        ref = g * (base_in.double() @ base.weight.double().t()
                   + s * inputs[k].double() @ (adapter.B.double() @ adapter.A.double()).t())
        torch.testing.assert_close(out[k].double(), ref + base.bias.double(), rtol=1e-5,
                                   atol=1e-6)
    layer.merge()
    torch.testing.assert_close(layer(x).view(3, n, 6), out, rtol=1e-5, atol=1e-6)
    layer.unmerge()
    assert torch.equal(layer(x).view(3, n, 6), out)


@pytest.mark.parametrize('detach', [False, True])
def test_dora_gradients_with_and_without_the_detached_norm(detach):
    torch.manual_seed(2)
    base = nn.Linear(8, 5).requires_grad_(False)
    layer = DoRALinear(base, rank=2, scale=4.0, detach_norm=detach).eval()
    _randomise(layer)
    ad = layer.dora_shared
    x = torch.randn(6, 8)
    layer(x).pow(2).sum().backward()
    a, b, m = (t.detach().double().requires_grad_() for t in (ad.A, ad.B, ad.magnitude))
    w = base.weight.double() + 4.0 * (b @ a)
    norm = w.norm(dim=1, keepdim=True)
    norm = norm.detach() if detach else norm
    out = x.double() @ (m[:, None] * w / norm).t() + base.bias.double()
    out.pow(2).sum().backward()
    for got, want in ((ad.A.grad, a.grad), (ad.B.grad, b.grad), (ad.magnitude.grad, m.grad)):
        torch.testing.assert_close(got.double(), want, rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------------------------ PDRS
def test_prefix_length_is_uniform_deterministic_and_keyed():
    draws = [prefix_length(0, 7, step, 8) for step in range(4000)]
    assert set(draws) == set(range(1, 9))
    counts = torch.bincount(torch.tensor(draws))[1:].double()
    assert (counts / 4000 - 1 / 8).abs().max() < 0.03
    assert draws == [prefix_length(0, 7, step, 8) for step in range(4000)]
    assert draws != [prefix_length(0, 8, step, 8) for step in range(4000)]
    assert draws != [prefix_length(1, 7, step, 8) for step in range(4000)]


def test_rank_masking_uses_the_drawn_prefix_and_importance_follows_the_formula():
    torch.manual_seed(3)
    base = nn.Linear(9, 6).requires_grad_(False)
    layer = DoRALinear(base, rank=5, scale=4.0, keys=[11], seed=5)
    _randomise(layer)
    ad = layer.dora_shared
    ad.rank_masking = ad.scoring = True
    ad.ema_beta = 0.75
    with torch.no_grad():
        ad.importance.uniform_(0.1, 1.0)
    before = ad.importance.clone()
    x = torch.randn(4, 9)
    used = prefix_length(5, 11, 0, 5)
    out = layer(x)
    assert ad.steps == 1
    ref = _dora_reference(base.weight, base.bias, ad.A[:used], ad.B[:, :used], ad.magnitude,
                          4.0, x)
    torch.testing.assert_close(out.double(), ref, rtol=1e-5, atol=1e-6)
    out.pow(2).sum().backward()
    # s_i = |<A_i, dL/dA_i>| / 2 and |<B_i, dL/dB_i>| / 2 over the used components; the others
    # decay ('zero' policy).
    a = ad.A[:used].detach().clone().requires_grad_()
    b = ad.B[:, :used].detach().clone().requires_grad_()
    w = base.weight + 4.0 * (b @ a)
    g = (ad.magnitude / w.norm(dim=1)).detach()
    (g * (x @ base.weight.t() + 4.0 * (x @ a.t()) @ b.t()) + base.bias).pow(2).sum().backward()
    s_a = (a * a.grad).sum(1).abs() / 2
    s_b = (b * b.grad).sum(0).abs() / 2
    expect = before * 0.75
    expect[0, :used] += 0.25 * s_a
    expect[1, :used] += 0.25 * s_b
    torch.testing.assert_close(ad.importance, expect, rtol=1e-5, atol=1e-7)
    layer.eval()
    torch.testing.assert_close(layer(x).double(), _dora_reference(
        base.weight, base.bias, ad.A, ad.B, ad.magnitude, 4.0, x), rtol=1e-5, atol=1e-6)
    assert ad.steps == 1  # no prefixes drawn in eval


def test_skip_policy_leaves_masked_components_alone():
    torch.manual_seed(4)
    base = nn.Linear(6, 4).requires_grad_(False)
    layer = DoRALinear(base, rank=6, scale=1.0, keys=[0], seed=0)
    ad = layer.dora_shared
    ad.rank_masking = ad.scoring = True
    ad.masked_scores = 'skip'
    step = next(s for s in range(100) if prefix_length(0, 0, s, 6) < 6)
    ad.steps = step
    used = prefix_length(0, 0, step, 6)
    with torch.no_grad():
        ad.importance.fill_(1.0)
    layer(torch.randn(3, 6)).sum().backward()
    assert torch.equal(ad.importance[:, used:], torch.ones(2, 6 - used))


@pytest.mark.parametrize('scores,rho,min_rank,expect', [
    ([0.5, 0.3, 0.15, 0.05], 0.95, 1, [0, 1, 2]),
    ([0.5, 0.3, 0.15, 0.05], 0.8, 1, [0, 1]),
    ([0.05, 0.5, 0.15, 0.3], 0.8, 1, [1, 3]),
    ([0.05, 0.5, 0.15, 0.3], 0.5, 1, [1]),
    ([0.05, 0.5, 0.15, 0.3], 0.5, 3, [1, 2, 3]),
    ([0.25, 0.25, 0.25, 0.25], 0.95, 1, [0, 1, 2, 3]),
    ([0.0, 0.0, 0.0], 0.95, 2, [0, 1]),
    ([1.0, 2.0], 1.0, 1, [0, 1]),
])
def test_coverage_selection(scores, rho, min_rank, expect):
    assert coverage_keep(torch.tensor(scores), rho, min_rank).tolist() == expect


def _shrink_by_hand(model, seed=0):
    """Give every adapter a random importance and shrink (coverage 0.8 keeps a few)."""
    g = torch.Generator().manual_seed(seed)
    for buf in model.method.importance_buffers(model):
        buf.copy_(torch.rand(buf.shape, generator=g) ** 4)
    return model.method.shrink(model)


def _batch(tasks, b=2, size=64, seed=1):
    g = torch.Generator().manual_seed(seed)
    gt = {'semseg': torch.randint(0, 21, (b, size, size), generator=g),
          'saliency': torch.randint(0, 2, (b, size, size), generator=g),
          'normals': F.normalize(torch.randn(b, 3, size, size, generator=g), dim=1)}
    return {'inputs': torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8),
            'data_samples': {'img_id': [str(i) for i in range(b)],
                             'gt': {t: gt[t] for t in tasks}}}


def test_shrinking_keeps_counts_exact_and_state_dicts_round_trip(tmp_path):
    method = dict(type='FAAR', rank=6, task_rank=5, coverage=0.8, dropout=0.0)
    model = _build(method)
    start = model.method.num_trainable(model)
    for layer in model.method._layers(model).values():
        _randomise(layer)  # as after training: the adapters are not the identity
    changes = _shrink_by_hand(model)
    assert changes and model.method.is_shrunk(model)
    ranks = model.method.current_ranks(model)
    assert min(ranks.values()) >= 1 and max(ranks.values()) <= 6
    counts = count_parameters(model)
    by_flag = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counts['trainable'] == by_flag == model.method.num_trainable(model) < start
    assert model.method.num_trainable_at_init(model) == start
    # the effective count by hand: r (d_in + d_out) + d_out per adapter, from the ranks
    bb = model.backbone
    adapters = 0
    for key, r in ranks.items():
        name = key.split(':')[0]
        dim = bb.stage_channels[int(name.split('.')[1])]
        d_in, d_out = {'qkv': (dim, 3 * dim), 'proj': (dim, dim), 'fc1': (dim, 4 * dim),
                       'fc2': (4 * dim, dim)}[name.rsplit('.', 1)[1]]
        adapters += r * (d_in + d_out) + d_out
    assert counts['backbone_added'] == adapters
    # full state dict and trainable state dict load into freshly built (unshrunk) models
    data = model.data_preprocessor(_batch(TASKS), True)
    model.eval()
    with torch.no_grad():
        expected = model(**data, mode='tensor')
    torch.save(model.state_dict(), tmp_path / 'full.pth')
    fresh = _build(method, seed=1)
    fresh.load_state_dict(torch.load(tmp_path / 'full.pth', weights_only=True))
    assert fresh.method.current_ranks(fresh) == ranks
    trainable = _build(method, seed=0)  # the same pretrained weights, fresh adapters
    trainable.method.load_trainable_state_dict(trainable, model.method.trainable_state_dict(model))
    for other in (fresh, trainable):
        other.eval()
        with torch.no_grad():
            got = other(**data, mode='tensor')
        for t in TASKS:
            assert torch.equal(got[t], expected[t])
        assert count_parameters(other)['trainable'] == counts['trainable']


def test_shrinking_slices_the_optimizer_state_and_training_continues():
    model = _build(dict(type='FAAR', rank=4, task_rank=4, coverage=0.7))
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-3)
    data = model.data_preprocessor(_batch(TASKS), True)
    model.train()
    for _ in range(2):  # B = 0 at the first step: every importance score is 0 there
        sum(model(**data, mode='loss').values()).backward()
        opt.step()
        opt.zero_grad()
    assert any(float(b.abs().sum()) > 0 for b in model.method.importance_buffers(model))
    before = {id(p): {k: v.clone() for k, v in opt.state[p].items()} for p in params}
    changes = model.method.shrink(model)
    assert changes

    class Runner:
        optim_wrapper = type('W', (), {'optimizer': opt})()
        distributed = False
        model = None
        iter = 0
        logger = type('L', (), {'info': staticmethod(lambda msg: None)})()
        message_hub = type('H', (), {'update_info': staticmethod(lambda *a: None)})()
    runner = Runner()
    runner.model = model
    # what PDRSHook.shrink does after method.shrink, on the recorded changes
    hook = PDRSHook()
    model.method.shrink = lambda m: changes  # replay the same changes through the hook
    hook.shrink(runner)
    for param, dim, old_shape, keep in changes:
        for name in ('exp_avg', 'exp_avg_sq'):
            assert opt.state[param][name].shape == param.shape
            assert torch.equal(opt.state[param][name],
                               before[id(param)][name].index_select(dim, keep))
    sum(model(**data, mode='loss').values()).backward()
    opt.step()  # shapes agree


# ------------------------------------------------------------------------------------ counts
def _swin_t_faar(decoder=None, **method):
    cfg = dict(type='MultiTaskModel', tasks=['semseg', 'human_parts', 'saliency', 'normals'],
               dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=decoder or dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='FAAR', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


def test_swin_t_pascal_count_by_hand():
    model = _swin_t_faar(rank=64, task_rank=64)
    # Swin-T: C = 96, 192, 384, 768, depths 2, 2, 6, 2, heads 3, 6, 12, 24, window 7.
    # Shared adapter per block of width C: qkv 64 (C + 3C) + 3C, proj 64 (2C) + C,
    # fc1 64 (C + 4C) + 4C, fc2 64 (4C + C) + C = 1024 C + 9 C.
    depth_c = 2 * 96 + 2 * 192 + 6 * 384 + 2 * 768  # 4,416
    shared = 1033 * depth_c
    # Task adapter (4 tasks) in the last block of each stage: proj + fc1 + fc2 = 768 C + 6 C.
    task = 4 * 774 * (96 + 192 + 384 + 768)
    patch_embed = 3 * 96 * 16 + 96 + 2 * 96
    norms = 4 * depth_c + 8 * (96 + 192 + 384)
    relpos = 13 * 13 * (2 * 3 + 2 * 6 + 6 * 12 + 2 * 24)
    heads = 183_168 * 4 + 294_840 * 4 + 1_081 * (21 + 7 + 1 + 3)  # reference HRNet heads
    assert heads == 1_946_624
    total = shared + task + patch_embed + norms + relpos + heads
    assert total == 11_017_850
    assert model.method.num_trainable(model) == total == count_parameters(model)['trainable']
    assert model.method.num_trainable_at_init(model) == total


def test_swin_t_pascal_count_with_ts_pd_by_hand():
    model = _swin_t_faar(dict(type='TaskSpectralPyramidalDecoder', img_size=448,
                              reduce_channels=[18, 36, 72, 144]), rank=64)
    # TS-PD per task: filters 56*29 + 28*15 + 14*8 + 14*8, scale/shift 2 * (192+384+768+768),
    # XT-Cons 2 scalars per level.
    per_task = (56 * 29 + 28 * 15 + 14 * 8 + 14 * 8) + 2 * (192 + 384 + 768 + 768) + 2 * 4
    assert per_task == 6_500
    assert count_parameters(model)['trainable'] == 11_017_850 + 4 * per_task
    assert model.method.num_trainable(model) == 11_043_850


def test_task_parameters_are_counted_per_task():
    model = _build(dict(type='FAAR', rank=2, task_rank=3))
    counts = count_parameters(model)
    for task in TASKS:
        added = sum(p.numel() for n, p in model.backbone.named_parameters()
                    if f'.dora_tasks.{task}.' in n)
        decoder = sum(p.numel() for p in model.decoders[task].parameters())
        assert added > 0 and counts['per_task'][task] == added + decoder


# ------------------------------------------------------------------------------------ TS-PD
def _decoder_model(**kwargs):
    return _build(dict(type='FAAR', rank=2, dropout=0.0),
                  dict(type='TaskSpectralPyramidalDecoder', img_size=64, **kwargs))


def test_ts_pd_is_the_hrnet_heads_at_init():
    spectral = _decoder_model()
    plain = _build(dict(type='FAAR', rank=2, dropout=0.0))
    for task in TASKS:
        spectral.decoders.heads[task].load_state_dict(plain.decoders[task].state_dict())
    spectral.eval()
    plain.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = spectral(x), plain(x)
    for task in TASKS:
        torch.testing.assert_close(a[task], b[task], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('complex_filters,channel_filters', [(False, False), (True, True)])
def test_ts_pd_matches_a_direct_computation(complex_filters, channel_filters):
    dec = _decoder_model(complex_filters=complex_filters, channel_filters=channel_filters,
                         low_freq_radius=0.6).decoders
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in dec.spectral.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    feats = {t: [torch.randn(2, c, h, w, generator=g) for c, (h, w) in
                 zip(dec.in_channels, dec.grids)] for t in TASKS}
    got = dec.enhance(feats)
    for level, (h, w) in enumerate(dec.grids):
        fy = torch.tensor([min(i, h - i) / h for i in range(h)], dtype=torch.float64)
        fx = torch.tensor([j / w for j in range(w // 2 + 1)], dtype=torch.float64)
        low = (torch.sqrt((2 * fy[:, None]) ** 2 + (2 * fx[None]) ** 2) <= 0.6).double()
        spectra = {}
        for t in TASKS:
            delta = dec.spectral[t].filters[level].detach().double()
            filt = 1 + (torch.complex(delta[..., 0], delta[..., 1]) if complex_filters
                        else delta)
            spectra[t] = torch.fft.rfft2(feats[t][level].double(), norm='ortho') * filt
        for t in TASKS:
            others = [spectra[u] for u in TASKS if u != t]
            avg = sum(others) / len(others)
            a_low, a_high = dec.spectral[t].alphas[level].detach().double()
            spec = spectra[t] + a_low * low * (avg - spectra[t]) + a_high * (1 - low) * (
                avg - spectra[t])
            ref = torch.fft.irfft2(spec, s=(h, w), norm='ortho')
            mod = dec.spectral[t]
            ref = ref * mod.scales[level].detach().double()[:, None, None] + \
                mod.shifts[level].detach().double()[:, None, None]
            torch.testing.assert_close(got[t][level].double(), ref, rtol=1e-4, atol=1e-5)


def test_ts_pd_accounting_and_single_task():
    model = _decoder_model(complex_filters=True)
    dec = model.decoders
    assert dec.num_params_formula() == sum(p.numel() for p in dec.parameters())
    grid = sum(h * (w // 2 + 1) for h, w in dec.grids)  # nano at 64: 8, 4, 2, 2
    assert grid == 8 * 5 + 4 * 3 + 2 * 2 + 2 * 2
    spectral = grid * 2 + 2 * sum(dec.in_channels) + 2 * 4
    assert sum(p.numel() for p in dec.spectral['semseg'].parameters()) == spectral
    assert dec.task_of('spectral.normals.filters.0') == 'normals'
    assert dec.task_of('heads.saliency.fuse.0.weight') == 'saliency'
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    single = _build(dict(type='FAAR', rank=2), dict(type='TaskSpectralPyramidalDecoder',
                                                    img_size=64), tasks=('semseg',))
    assert not single.decoders.cross_task
    single(torch.randn(1, 3, 64, 64))
    with pytest.raises(ValueError, match='img_size'):
        model(torch.randn(1, 3, 96, 96))


# ------------------------------------------------------------------------------------ errors
@pytest.mark.parametrize('method,match', [
    (dict(type='FAAR', rank=0), 'rank'),
    (dict(type='FAAR', rank=2, task_rank=-1), 'task_rank'),
    (dict(type='FAAR', rank=64), 'rank=64 exceeds'),
    (dict(type='FAAR', rank=2, coverage=0.0), 'coverage'),
    (dict(type='FAAR', rank=2, task_coverage=1.5), 'task_coverage'),
    (dict(type='FAAR', rank=2, ema_beta=1.0), 'ema_beta'),
    (dict(type='FAAR', rank=2, masked_scores='none'), 'masked_scores'),
    (dict(type='FAAR', rank=2, sites=('qkvv',)), 'sites'),
    (dict(type='FAAR', rank=2, task_sites=('qkv',)), 'task_sites'),
    (dict(type='FAAR', rank=2, sites=(), task_sites=()), 'at least one adapter'),
    (dict(type='FAAR', rank=2, task_base_input='x'), 'task_base_input'),
    (dict(type='FAAR', rank=2, dropout=1.0), 'dropout'),
    (dict(type='FAAR', rank=2, scale=0), 'scale'),
    (dict(type='FAAR', rank=2, min_rank=0), 'min_rank'),
    (dict(type='FAAR', rank=2, trainable=('head',)), 'trainable'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method)


def test_bad_hook_decoder_and_checkpointing_settings():
    with pytest.raises(ValueError, match='interval'):
        PDRSHook(interval=0)
    with pytest.raises(ValueError, match='end'):
        PDRSHook(end=0)
    with pytest.raises(ValueError, match='low_freq_radius'):
        _decoder_model(low_freq_radius=0.0)
    cfg = tiny_model_cfg(TASKS, method=dict(type='FAAR', rank=2))
    cfg['backbone']['with_cp'] = True
    with pytest.raises(ValueError, match='with_cp'):
        build_or_explain(MODELS, cfg)
    with pytest.raises(ValueError, match='cannot load a state with rank'):
        DoRAAdapter(torch.zeros(4, 4), 2, 1.0)._resize(3)


def test_unused_adapters_shrink_to_min_rank():
    model = _build(dict(type='FAAR', rank=4))
    model.method.shrink(model)  # no importance at all: every adapter keeps min_rank
    assert set(model.method.current_ranks(model).values()) == {1}
    assert count_parameters(model)['trainable'] == model.method.num_trainable(model)


def test_pdrs_hook_rewraps_a_distributed_model(tmp_path):
    """DDP sizes its gradient buckets when wrapping: after a shrink the hook wraps the model
    anew (the old wrapper would fail on the next backward pass)."""
    import torch.distributed as dist
    from mmengine.optim import OptimWrapper
    from mmengine.registry import MODEL_WRAPPERS

    from mtbench.engine.cpu_ddp import CPUDistributedDataParallel
    dist.init_process_group('gloo', init_method=f'file://{tmp_path}/store', rank=0,
                            world_size=1)
    try:
        model = _build(dict(type='FAAR', rank=4, coverage=0.7))
        wrapper_cfg = dict(type='CPUDistributedDataParallel', find_unused_parameters=True)
        optim = OptimWrapper(torch.optim.AdamW(
            [p for p in model.parameters() if p.requires_grad], lr=1e-3))

        class Runner:
            distributed = True
            optim_wrapper = optim
            iter = 0
            cfg = dict(model_wrapper_cfg=wrapper_cfg)
            logger = type('L', (), {'info': staticmethod(lambda msg: None)})()
            message_hub = type('H', (), {'update_info': staticmethod(lambda *a: None)})()

            @staticmethod
            def wrap_model(cfg, module):
                return MODEL_WRAPPERS.build(cfg, default_args=dict(module=module))
        runner = Runner()  # the attributes of mmengine's Runner that the hook uses
        runner.model = CPUDistributedDataParallel(module=model, find_unused_parameters=True)
        first = weakref.ref(runner.model)
        data = _batch(TASKS)
        for _ in range(2):
            runner.model.train_step(copy.deepcopy(data), optim)
        PDRSHook().shrink(runner)
        assert model.method.is_shrunk(model)
        assert first() is None and runner.model.module is model  # old wrapper freed
        runner.model.train_step(copy.deepcopy(data), optim)  # the new buckets fit
    finally:
        dist.destroy_process_group()
