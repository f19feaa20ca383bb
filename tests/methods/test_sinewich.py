"""Free Sinewich: equations vs float64 re-derivations, counts by hand, switches, decoder group."""
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.sinewich import ClockNet, SineAWBLinear
from mtbench.models.decoders import SinewichDecoderGroup
from mtbench.models.decoders.sinewich_group import frequency_modulate, gaussian_low_pass
from mtbench.registry import MODELS, build_or_explain

PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
TASKS = ('semseg', 'saliency', 'normals')
GROUP = dict(type='SinewichDecoderGroup')


# ----------------------------------------------------------------------------- references
def _gauss2d(size, sigma):
    """The 2-D Gaussian written out (not separable), float64, normalised to sum 1."""
    c = size // 2
    k = torch.tensor([[math.exp(-((i - c) ** 2 + (j - c) ** 2) / (2 * sigma ** 2))
                       for j in range(size)] for i in range(size)], dtype=torch.float64)
    return k / k.sum()


def _blur(mat, size=7, sigma=1.0):
    """Direct 2-D 'same' convolution with zero padding, float64."""
    k = _gauss2d(size, sigma)
    h, w = mat.shape
    padded = F.pad(mat.double(), (size // 2,) * 4)
    out = torch.zeros(h, w, dtype=torch.float64)
    for i in range(size):
        for j in range(size):
            out += k[i, j] * padded[i:i + h, j:j + w]
    return out


def _delta(base, freq, gain, sine=True, low_pass=True, size=7, sigma=1.0):
    phase = freq * base.double()
    m = torch.sin(phase) if sine else phase
    return gain * (_blur(m, size, sigma) if low_pass else m)


class _State(nn.Module):
    """A stand-in task state with fixed frequencies."""

    def __init__(self, freqs):
        super().__init__()
        self.freqs = torch.tensor(freqs)

    def frequencies(self):
        return self.freqs


def _layer(tasks=('a', 'b'), d_in=12, d_out=10, rank=3, seed=0, **kw):
    torch.manual_seed(seed)
    layer = SineAWBLinear(nn.Linear(d_in, d_out), rank, scale=2.0, tasks=tasks, gain=0.3, **kw)
    with torch.no_grad():
        for name, p in layer.named_parameters():
            if name.startswith('sine_'):
                p.copy_(torch.randn_like(p) * 0.5)
    layer.set_task_state(_State([3.0, 7.5][:len(tasks)]))
    return layer


# ----------------------------------------------------------------------------- the layer
@pytest.mark.parametrize('kw', [dict(), dict(sine=False), dict(low_pass=False),
                                dict(mid_kernel=False), dict(low_pass_kernel=3,
                                                             low_pass_sigma=0.7)],
                         ids=['default', 'no-sine', 'no-low-pass', 'no-mid-kernel', 'k3'])
def test_sine_awb_stacked_streams_match_float64_equations(kw):
    layer = _layer(**kw).eval()
    x = torch.randn(3 * 5, 12)  # shared rows, then task a, then task b
    out = layer(x).double()
    w0, b0 = layer.base_layer.weight.double(), layer.base_layer.bias.double()
    a, b = layer.sine_A.double(), layer.sine_B.double()
    mid = layer.sine_W.double() if layer.mid_kernel else torch.eye(3, dtype=torch.float64)
    xs, xa, xb = x.double().split(5)
    torch.testing.assert_close(out[:5], xs @ w0.T + b0 + 2.0 * xs @ (b @ a).T, rtol=1e-5,
                               atol=1e-5)
    base = b @ mid @ a
    size, sigma = kw.get('low_pass_kernel', 7), kw.get('low_pass_sigma', 1.0)
    for rows, xt, freq in ((out[5:10], xa, 3.0), (out[10:], xb, 7.5)):
        d = _delta(base, freq, 0.3, kw.get('sine', True), kw.get('low_pass', True), size, sigma)
        torch.testing.assert_close(rows, xt @ (w0 + d).T + b0, rtol=1e-5, atol=1e-5)


def test_sine_awb_shared_input_and_independent_bases():
    layer = _layer(task_input='shared', shared_base=False).eval()
    x = torch.randn(2, 4, 12)
    out = layer(x).double()
    assert out.shape == (3 * 2, 4, 10)
    w0, b0 = layer.base_layer.weight.double(), layer.base_layer.bias.double()
    for i, (task, freq) in enumerate((('a', 3.0), ('b', 7.5))):
        base = (layer.sine_task_B[task].double() @ layer.sine_task_W[task].double()
                @ layer.sine_task_A[task].double())
        expected = x.double() @ (w0 + _delta(base, freq, 0.3)).T + b0
        torch.testing.assert_close(out[2 * (i + 1):2 * (i + 2)], expected, rtol=1e-5,
                                   atol=1e-5)
    assert not hasattr(layer, 'sine_W')


def test_sine_awb_merge_folds_shared_lora_and_caches_task_weights():
    layer = _layer().eval()
    x = torch.randn(3 * 4, 12)
    before = layer(x)
    w0 = layer.base_layer.weight.detach().clone()
    layer.merge()
    torch.testing.assert_close(layer.base_layer.weight, w0 + 2.0 * layer.sine_B @ layer.sine_A)
    torch.testing.assert_close(layer(x), before, rtol=1e-5, atol=1e-6)
    layer.unmerge()
    torch.testing.assert_close(layer.base_layer.weight, w0, rtol=0, atol=1e-6)
    torch.testing.assert_close(layer(x), before, rtol=1e-5, atol=1e-6)


def test_identity_at_init_and_zero_update_without_task_state_error():
    layer = SineAWBLinear(nn.Linear(8, 6), 2, tasks=('a',))
    with pytest.raises(RuntimeError, match='no task state'):
        layer(torch.randn(4, 8))
    layer.set_task_state(_State([5.0]))
    x = torch.randn(2 * 3, 8)
    torch.testing.assert_close(layer(x), layer.base_layer(x))  # B = 0, K = I: M = 0


def test_gaussian_low_pass_is_the_2d_gaussian():
    m = torch.randn(2, 9, 11, dtype=torch.float64)
    got = gaussian_low_pass(m, 7, 1.0)
    for i in range(2):
        torch.testing.assert_close(got[i], _blur(m[i]))
    flat = gaussian_low_pass(torch.ones(1, 15, 15, dtype=torch.float64), 7, 1.0)
    torch.testing.assert_close(flat[0, 3:-3, 3:-3], torch.ones(9, 9, dtype=torch.float64))


def test_modulation_runs_in_float32_under_autocast():
    base = torch.randn(1, 9, 11).bfloat16()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        out = frequency_modulate(base, torch.tensor([50.0, 80.0]), 0.1)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out[1].double(), _delta(base[0].float(), 80.0, 0.1), rtol=1e-5,
                               atol=1e-6)


def test_clock_net_equation_and_bounds():
    torch.manual_seed(0)
    clock = ClockNet(6, freq_init=50.0)
    tokens = torch.randn(3, 6)
    w = clock.weight.detach().double()
    expected = 50.0 * (torch.tanh(torch.relu(tokens.double()) @ w.T).squeeze(-1) + 1.0)
    torch.testing.assert_close(clock(tokens).double(), expected)
    with torch.no_grad():
        clock.weight.fill_(1e3)
    assert ((clock(tokens) >= 0) & (clock(tokens) <= 100.0)).all()


# ----------------------------------------------------------------------------- the method
def _swin_t(tasks=PASCAL, dataset='pascal-mt', decoder=GROUP, **method):
    cfg = dict(type='MultiTaskModel', tasks=list(tasks), dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(decoder, reduce_channels=[18, 36, 72, 144]),
               method=dict(type='FreeSinewich', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


# Swin-T: widths C = 96/192/384/768, depths 2/2/6/2, MLP 4C; 4 PASCAL tasks, C_0 = 96.
LORA_PER_RANK = 16 * (96 * 2 + 192 * 2 + 384 * 6 + 768 * 2)        # r (8C + 2H) per block
TASK_SITES_PER_RANK = (2 + 5 + 5) * (96 + 192 + 384 + 768)           # proj 2C, fc1/fc2 5C
TOKENS_AND_CLOCK = 4 * 96 + 96 + 2
GROUP_PASCAL = (4 * (192 * 18 + 384 * 36 + 768 * 72 + 768 * 144)    # per-task reductions
                + 1080 * 270                                          # the shared kernel
                + 4 * (1 + 1080 + 2 * 1080)                           # freq, bias, BatchNorm
                + 1080 * (21 + 7 + 1 + 3) + (21 + 7 + 1 + 3))         # classifiers
HRNET_PASCAL = 1_946_624


@pytest.mark.parametrize('method,decoder,expected', [
    (dict(rank=64), GROUP, 64 * LORA_PER_RANK + 12 * 64 ** 2 + TOKENS_AND_CLOCK + GROUP_PASCAL),
    (dict(rank=32), GROUP, 32 * LORA_PER_RANK + 12 * 32 ** 2 + TOKENS_AND_CLOCK + GROUP_PASCAL),
    (dict(rank=64), dict(type='HRNetFusionHead'),
     64 * LORA_PER_RANK + 12 * 64 ** 2 + TOKENS_AND_CLOCK + HRNET_PASCAL),
    (dict(rank=64, shared_base=False), GROUP,
     64 * LORA_PER_RANK + 4 * (64 * TASK_SITES_PER_RANK + 12 * 64 ** 2) + TOKENS_AND_CLOCK
     + GROUP_PASCAL),
    (dict(rank=64, clock_net=False), GROUP,
     64 * LORA_PER_RANK + 12 * 64 ** 2 + 4 * 96 + 4 + GROUP_PASCAL),
], ids=['r64', 'r32', 'r64-hrnet-heads', 'r64-independent-base', 'r64-wo-lcn'])
def test_swin_t_pascal_counts_by_hand(method, decoder, expected):
    model = _swin_t(decoder=decoder, **method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert GROUP_PASCAL == 1_071_828
    if decoder is GROUP and method == dict(rank=64):
        assert expected == 5_643_446


def test_swin_t_per_task_accounting():
    model = _swin_t(rank=8, shared_base=False)
    counts = count_parameters(model)
    decoder = {t: sum(p.numel() for n, p in model.decoders.named_parameters()
                      if model.decoders.task_of(n) == t) for t in PASCAL}
    own = 96 + 8 * TASK_SITES_PER_RANK + 12 * 8 ** 2  # token + own A_t, B_t, K_t
    assert {t: counts['per_task'][t] - decoder[t] for t in PASCAL} == {t: own for t in PASCAL}
    assert counts['shared'] - model.decoders.kernel.numel() == (
        8 * LORA_PER_RANK + 96 + 2)  # shared LoRA and the Clock Net


def _tiny(method, tasks=TASKS, decoder=None, seed=0):
    torch.manual_seed(seed)
    cfg = tiny_model_cfg(tasks, method=dict(type='FreeSinewich', **method))
    if decoder is not None:
        cfg['decoder'] = decoder
    return build_or_explain(MODELS, cfg)


def test_identity_at_init_without_token_prompts_only():
    torch.manual_seed(0)
    plain = build_or_explain(MODELS, tiny_model_cfg(TASKS))
    x = torch.randn(1, 3, 32, 32)
    plain.eval()
    with torch.no_grad():
        ref = plain.backbone(x, list(TASKS))
    for prompts in (False, True):
        model = _tiny(dict(rank=4, token_prompts=prompts)).eval()
        assert model.method.identity_at_init is not prompts
        with torch.no_grad():
            out = model.backbone(x, list(TASKS))
        diff = max((a - b).abs().max().item() for t in TASKS for a, b in zip(out[t], ref[t]))
        assert diff > 1e-3 if prompts else diff < 1e-5


def _randomise_bases(model, pattern, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if pattern in name:
                p.copy_(0.01 * torch.randn(p.shape, generator=g))


def test_shared_base_moves_every_task_differently_independent_base_one_task():
    x = torch.randn(1, 3, 32, 32)
    shared = _tiny(dict(rank=4, token_prompts=False)).eval()
    with torch.no_grad():
        ref = shared.backbone(x, list(TASKS))
        _randomise_bases(shared, 'layers.3.blocks.1.mlp.fc2.sine_B')
        out = shared.backbone(x, list(TASKS))
    moved = {t: (out[t][3] - ref[t][3]).abs().max().item() for t in TASKS}
    assert all(v > 0 for v in moved.values())
    assert len({round(v, 9) for v in moved.values()}) == len(TASKS)  # different frequencies

    indep = _tiny(dict(rank=4, token_prompts=False, shared_base=False)).eval()
    with torch.no_grad():
        ref = indep.backbone(x, list(TASKS))
        _randomise_bases(indep, 'layers.3.blocks.1.mlp.fc2.sine_task_B.saliency')
        out = indep.backbone(x, list(TASKS))
    moved = {t: (out[t][3] - ref[t][3]).abs().max().item() for t in TASKS}
    assert moved['saliency'] > 0 and moved['semseg'] == moved['normals'] == 0.0
    assert indep.method.task_of('layers.3.blocks.1.mlp.fc2.sine_task_B.saliency') == 'saliency'
    assert indep.method.task_of('sine_state.task_tokens.normals') == 'normals'
    assert indep.method.task_of('layers.3.blocks.1.mlp.fc2.sine_B') is None


def test_clock_net_and_tokens_learn_through_the_task_streams():
    model = _tiny(dict(rank=4))
    _randomise_bases(model, 'sine_B')
    x = torch.randn(1, 3, 32, 32)
    feats = model.backbone(x, list(TASKS))
    sum(f.square().mean() for t in TASKS for f in feats[t]).backward()
    state = model.backbone.sine_state
    for p in (state.clock.weight, state.clock.scale, state.clock.shift,
              state.task_tokens['semseg']):
        assert p.grad is not None and p.grad.abs().sum() > 0


def test_wo_lcn_uses_one_learnable_frequency_per_task():
    model = _tiny(dict(rank=2, clock_net=False, token_prompts=False, freq_init=7.0))
    state = model.backbone.sine_state
    assert not hasattr(state, 'clock') and not hasattr(state, 'task_tokens')
    torch.testing.assert_close(state.frequencies(), torch.full((3,), 7.0))


def test_task_sites_and_token_prompt_blocks():
    model = _tiny(dict(rank=2, task_sites=('fc1',)))
    last = model.backbone.layers[1].blocks[-1]
    assert type(last).__name__ == 'SinewichBlock'
    assert last.mlp.fc1.tasks == TASKS and last.mlp.fc2.tasks == () and last.attn.proj.tasks == ()
    assert type(model.backbone.layers[0].blocks[0]).__name__ == 'SinewichPromptBlock'
    assert type(model.backbone.layers[1].blocks[0]).__name__ == 'SwinBlock'


# ----------------------------------------------------------------------------- decoder group
def test_decoder_group_matches_float64_equations_and_counts():
    torch.manual_seed(0)
    group = SinewichDecoderGroup(['semseg', 'normals'], [8, 16, 32, 32],
                                 dict(semseg=5, normals=3), reduce_channels=[2, 2, 4, 4],
                                 hidden_ratio=2, freq_init=4.0).eval()
    with torch.no_grad():
        for name, p in group.named_parameters():
            if 'norm' not in name:
                p.copy_(torch.randn_like(p) * 0.3)
        group.freq['normals'].fill_(9.0)
    feats = [torch.randn(2, c, s, s) for c, s in zip([8, 16, 32, 32], [6, 3, 2, 2])]
    out = group({'semseg': feats, 'normals': feats})
    for task in ('semseg', 'normals'):
        maps = []
        for conv, f in zip(group.reduce[task], feats):
            y = F.conv2d(f.double(), conv.weight.double())
            maps.append(F.interpolate(y, size=(6, 6), mode='bilinear', align_corners=False))
        x = torch.cat(maps, 1)
        kernel = _delta(group.kernel, group.freq[task].item(), 0.25)  # gain 1 / freq_init
        h = torch.einsum('oc,bchw->bohw', kernel, x) + group.bias[task].double()[:, None, None]
        bn = group.norm[task]
        h = (h - bn.running_mean.double()[:, None, None]) / torch.sqrt(
            bn.running_var.double()[:, None, None] + bn.eps)
        h = h * bn.weight.double()[:, None, None] + bn.bias.double()[:, None, None]
        cls = group.classifier[task]
        expected = F.conv2d(torch.relu(h), cls.weight.double(), cls.bias.double())
        torch.testing.assert_close(out[task].double(), expected, rtol=1e-4, atol=1e-5)
    n = sum(p.numel() for p in group.parameters())
    hand = (2 * (8 * 2 + 16 * 2 + 32 * 4 + 32 * 4) + 24 * 12
            + 2 * (1 + 24 + 48) + 24 * 8 + 8)
    assert group.num_params_formula() == n == hand
    assert {group.task_of(n_) for n_, _ in group.named_parameters()} == {None, 'semseg',
                                                                         'normals'}
    assert group.task_of('kernel') is None


def test_decoder_group_trains_with_the_method_and_merges():
    model = _tiny(dict(rank=4), decoder=dict(type='SinewichDecoderGroup'))
    assert model.decoder_group
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    g = torch.Generator().manual_seed(0)
    gt = {'semseg': torch.randint(0, 21, (2, 32, 32), generator=g),
          'saliency': torch.randint(0, 2, (2, 32, 32), generator=g),
          'normals': F.normalize(torch.randn(2, 3, 32, 32, generator=g), dim=1)}
    data = model.data_preprocessor({'inputs': torch.randint(0, 256, (2, 3, 32, 32),
                                                            generator=g, dtype=torch.uint8),
                                    'data_samples': {'img_id': ['a', 'b'], 'gt': gt}}, True)
    loss = sum(model(**data, mode='loss').values())
    loss.backward()
    assert torch.isfinite(loss)
    assert model.decoders.kernel.grad.abs().sum() > 0
    assert all(model.decoders.freq[t].grad is not None for t in TASKS)
    model.eval()
    with torch.no_grad():
        before = model(**data, mode='tensor')
        model.method.merge(model)
        merged = model(**data, mode='tensor')
        model.method.unmerge(model)
    for t in TASKS:
        torch.testing.assert_close(merged[t], before[t], rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------------------- bad settings
@pytest.mark.parametrize('method,match', [
    (dict(rank=0), 'rank'),
    (dict(rank=10_000), 'rank'),
    (dict(rank=2.5), 'rank'),
    (dict(scale=0), 'scale'),
    (dict(dropout=1.0), 'dropout'),
    (dict(task_sites=('qkv',)), 'task_sites'),
    (dict(task_sites=()), 'task_sites'),
    (dict(low_pass_kernel=4), 'low_pass_kernel'),
    (dict(low_pass_sigma=0.0), 'low_pass_sigma'),
    (dict(freq_init=-1.0), 'freq_init'),
    (dict(gain=0.0), 'gain'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _tiny(dict(dict(rank=2), **method))


@pytest.mark.parametrize('kwargs,match', [
    (dict(hidden_ratio=0), 'hidden_ratio'),
    (dict(low_pass_kernel=2), 'low_pass_kernel'),
    (dict(freq_init=0.0), 'freq_init'),
    (dict(gain=-1.0), 'gain'),
    (dict(reduce_channels=[2, 2]), 'reduce_channels'),
])
def test_decoder_group_bad_settings_are_clear_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SinewichDecoderGroup(['semseg'], [8, 16, 32, 32], dict(semseg=5), **kwargs)
