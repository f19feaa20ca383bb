"""Bottleneck adapters: dense (Houlsby) and low-rank weights, equations, counts, bad settings."""
import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.adapter import Adapter, AdaptedLinear, LowRankLinear
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
DECODERS_PASCAL_448 = 1_946_624


def _build(method, tasks=TASKS, seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=method))


def test_low_rank_linear_equation_and_rank():
    torch.manual_seed(0)
    layer = LowRankLinear(12, 5, rank=2).double()
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(4, 12, dtype=torch.float64)
    u, v = layer.weight_out, layer.weight_in
    assert u.shape == (5, 2) and v.shape == (2, 12)
    torch.testing.assert_close(layer(x), x @ (u @ v).T + layer.bias, rtol=0, atol=1e-12)
    assert torch.linalg.matrix_rank(layer.weight).item() == 2
    bound = 2 ** 0.5 * (6 / (2 + 12)) ** 0.5  # Xavier-uniform, gain sqrt(2), on [2, 12]
    assert 0.5 * bound < v.abs().max() <= bound
    assert torch.count_nonzero(LowRankLinear(12, 5, 1, zero_init=True).weight_out) == 0


def test_low_rank_adapter_equation_identity_and_first_gradients():
    torch.manual_seed(0)
    adapter = Adapter(16, 4, weight_rank=1)
    x = torch.randn(3, 16)
    torch.testing.assert_close(adapter(x), x, rtol=0, atol=0)  # zero output factor of up
    adapter(x).square().sum().backward()
    assert adapter.up.weight_out.grad.abs().sum() > 0
    assert adapter.up.weight_in.grad.abs().sum() == 0  # like LoRA's A behind a zero B
    with torch.no_grad():
        for p in adapter.parameters():
            p.normal_()
    d, u = adapter.down, adapter.up
    h = torch.nn.functional.gelu(x @ (d.weight_out @ d.weight_in).T + d.bias)
    torch.testing.assert_close(adapter(x), x + h @ (u.weight_out @ u.weight_in).T + u.bias,
                               rtol=1e-5, atol=1e-5)


def test_dense_adapter_keeps_its_layout():
    adapter = Adapter(16, 4)
    assert [n for n, _ in adapter.named_parameters()] == [
        'down.weight', 'down.bias', 'up.weight', 'up.bias']
    assert torch.count_nonzero(adapter.up.weight) == 0
    model = _build(dict(type='BottleneckAdapter', weight_rank=2))
    site = model.backbone.layers[3].blocks[0].attn.proj
    assert isinstance(site, AdaptedLinear) and isinstance(site.adapter.down, LowRankLinear)
    assert site.adapter.down.in_features == 256 and site.adapter.down.out_features == 64


def _swin_t(method):
    cfg = dict(type='MultiTaskModel', tasks=PASCAL, dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=method)
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


# Swin-T sites per width: 2 blocks of 96, 2 of 192, 6 of 384, 2 of 768 (each with an attention
# and an MLP site). Dense adapter on d, m = d/r: 2 d m + m + d; low-rank: 2 k (d + m) + m + d.
def _dense(d, red):
    return 2 * d * (d // red) + d // red + d


def _low_rank(d, red, k):
    return 2 * k * (d + d // red) + d // red + d


BLOCKS = [(96, 2), (192, 2), (384, 6), (768, 2)]


@pytest.mark.parametrize('method,expected', [
    (dict(type='BottleneckAdapter'), 2_167_584 + DECODERS_PASCAL_448),
    (dict(type='BottleneckAdapter', reduction=1), 8_643_840 + DECODERS_PASCAL_448),
    (dict(type='BottleneckAdapter', weight_rank=1), 2 * 16_560 + DECODERS_PASCAL_448),
    (dict(type='BottleneckAdapter', weight_rank=4, reduction=8, positions=('mlp',)),
     sum(n * _low_rank(d, 8, 4) for d, n in BLOCKS) + DECODERS_PASCAL_448),
    (dict(type='BottleneckAdapter', weight_rank=1, train_norms=True),
     2 * 16_560 + 23_232 + DECODERS_PASCAL_448),
], ids=['houlsby-red4', 'houlsby-red1', 'low-rank-r1', 'low-rank-r4-mlp', 'low-rank-r1-norms'])
def test_swin_t_pascal_448_counts(method, expected):
    assert sum(2 * n * _dense(d, 4) for d, n in BLOCKS) == 2_167_584
    assert sum(2 * n * _dense(d, 1) for d, n in BLOCKS) == 8_643_840
    assert sum(n * _low_rank(d, 4, 1) for d, n in BLOCKS) == 16_560
    model = _swin_t(method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    norms = 2 * 96 + 4 * (2 * 96 + 2 * 192 + 6 * 384 + 2 * 768) + 8 * (96 + 192 + 384)
    assert counts['backbone_original'] == (norms if method.get('train_norms') else 0) \
        == (23_232 if method.get('train_norms') else 0)


def test_no_adapter_setting_gives_the_11_24m_table_row():
    """The 'Adapter' row (11.24M with decoders) is above every reduction's count."""
    largest = max(sum(2 * n * _dense(d, red) for d, n in BLOCKS) for red in (1, 2, 4, 8, 16, 32))
    assert largest + DECODERS_PASCAL_448 == 10_590_464 < 11_235_000


@pytest.mark.parametrize('method,match', [
    (dict(type='BottleneckAdapter', weight_rank=0), 'weight_rank must be None or a positive'),
    (dict(type='BottleneckAdapter', weight_rank=1.0), 'weight_rank must be None or a positive'),
    (dict(type='BottleneckAdapter', weight_rank=9), r'weight_rank must be an integer in \[1, 8\]'),
    (dict(type='BottleneckAdapter', reduction=64), 'leaves no bottleneck'),
    (dict(type='BottleneckAdapter', positions=('attn', 'attn')), 'positions'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method)
