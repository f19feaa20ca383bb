"""Tests of mtbench's Swin Transformer backbone (geometry, equivalence, extension points)."""
import pytest
import torch
from timm.models.swin_transformer import SwinTransformer as TimmSwin
from timm.models.swin_transformer import SwinTransformerBlock as TimmBlock

from mtbench.models.backbones import (
    SwinBlock,
    SwinTransformer,
    WindowAttention,
    compute_shift_mask,
    convert_swin_state_dict,
    shifted_window_attention,
    window_partition,
    window_reverse,
)
from mtbench.models.backbones.swin_ops import MASK_VALUE
from mtbench.registry import MODELS

HEADS = (1, 2, 4, 8)


def _randomise(module, seed=0):
    """Make LayerNorms, biases and bias tables non-trivial so that mix-ups show."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if 'relative_position_bias_table' in name:
                p.copy_(noise)
            elif 'norm' in name and name.endswith('weight'):
                p.copy_(1 + 0.1 * noise)
            elif name.endswith('bias'):
                p.copy_(0.05 * noise)
    return module


def _custom(embed, depths, window=7, img_size=224, **kw):
    arch = {'embed_dims': embed, 'depths': depths, 'num_heads': HEADS, 'window_size': window}
    return SwinTransformer(arch, img_size=img_size, drop_path_rate=0.0, **kw).eval()


@pytest.mark.parametrize('img,embed,depths,shifts', [
    (224, 24, (2, 2, 2, 2), (3, 3, 3, 0)),   # stage 3 is one 7x7 window: no shift
    (448, 16, (1, 1, 2, 2), (3, 3, 3, 3)),   # the papers' geometry: shifted last stage
])
def test_matches_timm(img, embed, depths, shifts):
    torch.manual_seed(0)
    ref = TimmSwin(img_size=img, embed_dim=embed, depths=depths, num_heads=HEADS, window_size=7,
                   num_classes=5, drop_path_rate=0.0).eval()
    _randomise(ref)
    model = _custom(embed, depths, img_size=img)
    assert model.shift_sizes == shifts
    model.load_state_dict(convert_swin_state_dict(ref.state_dict()), strict=True)
    x = torch.randn(1, 3, img, img)
    with torch.no_grad():
        ours_pre = model.forward_stage_tokens(x)
        ours_post = model(x)
        y, ref_pre = ref.patch_embed(x), []
        for layer in ref.layers:  # timm merges at the start of the next stage
            y = layer(y)
            ref_pre.append(y)
        ref_post = [ref.layers[i + 1].downsample(ref_pre[i]) for i in range(3)] + [ref_pre[3]]
    for ours, theirs in zip(ours_pre, ref_pre):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    for ours, theirs in zip(ours_post, ref_post):
        torch.testing.assert_close(ours, theirs.permute(0, 3, 1, 2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('arch,count', [
    ('tiny', 27_517_818), ('swin-t', 27_517_818), ('small', 48_835_722),
    ('base', 86_741_176), ('nano', 2_278_366)])
def test_parameter_counts(arch, count):
    with torch.device('meta'):
        model = SwinTransformer(arch)
    assert sum(p.numel() for p in model.parameters()) == count


def test_tiny_layout_and_geometry():
    with torch.device('meta'):
        model = SwinTransformer('tiny')
    keys = set(model.state_dict())
    assert 'layers.0.downsample.reduction.weight' in keys
    assert 'layers.2.downsample.norm.weight' in keys
    assert not any(k.startswith(('layers.3.downsample', 'norm.', 'head', 'absolute'))
                   for k in keys)
    assert 'layers.2.blocks.5.attn.relative_position_bias_table' in keys
    assert not any('relative_position_index' in k or 'attn_mask' in k for k in keys)
    assert not any('relative_position_index' in n for n, _ in model.named_parameters())
    assert model.out_channels == (192, 384, 768, 768)
    assert model.out_strides == (8, 16, 32, 32)
    assert model.window_sizes == (7, 7, 7, 7) and model.shift_sizes == (3, 3, 3, 0)
    assert SwinTransformer('nano', img_size=64).window_sizes == (4, 4, 4, 2)
    rates = [b.drop_path.p for layer in model.layers for b in layer.blocks]
    assert rates[0] == 0.0 and abs(rates[-1] - 0.2) < 1e-12 and len(rates) == 12


def test_registry_and_arch_errors():
    model = MODELS.build({'type': 'SwinTransformer', 'arch': 'nano'})
    assert isinstance(model, SwinTransformer) and model.embed_dims == 32
    with pytest.raises(ValueError, match='Unknown Swin arch'):
        SwinTransformer('huge')
    with pytest.raises(ValueError, match='lacks'):
        SwinTransformer({'embed_dims': 8})


@pytest.mark.parametrize('size', [(64, 80), (61, 83)])
def test_odd_sizes_nano(size):
    model = SwinTransformer('nano').eval()
    with torch.no_grad():
        feats = model(torch.randn(2, 3, *size), tasks=['semseg', 'depth'])
    h, w = -(-size[0] // 4), -(-size[1] // 4)
    for i, f in enumerate(feats['semseg']):
        h, w = (-(-h // 2), -(-w // 2)) if i < 3 else (h, w)
        assert f.shape == (2, model.out_channels[i], h, w)
        assert torch.isfinite(f).all()
        assert f is feats['depth'][i]


@pytest.mark.parametrize('size', [(448, 576), (480, 640)])
def test_paper_sizes_small_dims(size):
    model = _custom(8, (1, 1, 2, 2), img_size=448)
    with torch.no_grad():
        feats = model(torch.randn(1, 3, *size))
    h, w = size[0] // 4, size[1] // 4
    expected = [(16, h // 2, w // 2), (32, h // 4, w // 4), (64, h // 8, w // 8),
                (64, h // 8, w // 8)]
    assert [tuple(f.shape[1:]) for f in feats] == expected


def test_shift_mask_matches_timm_on_padded_grid():
    blk = TimmBlock(dim=8, input_resolution=(20, 30), num_heads=1, window_size=7, shift_size=3,
                    dynamic_mask=True)
    ref = blk.get_attn_mask(torch.zeros(1, 21, 35, 8))
    ours = compute_shift_mask(21, 35, 7, 3)
    assert ours.shape == (15, 49, 49)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)
    assert compute_shift_mask(21, 35, 7, 3) is ours  # cached by shape
    assert compute_shift_mask(21, 35, 7, 0) is None


def test_window_partition_roundtrip():
    x = torch.randn(2, 8, 12, 3)
    win = window_partition(x, 4)
    assert win.shape == (12, 16, 3)
    torch.testing.assert_close(win[1].view(4, 4, 3), x[0, :4, 4:8])
    torch.testing.assert_close(window_reverse(win, 4, 8, 12), x)


def _naive_attention(attn, x, mask, prompts):
    """Explicit per-window attention: concat prompts to keys/values, bias+mask on tokens only."""
    bw, n, c = x.shape
    heads, d = attn.num_heads, c // attn.num_heads
    out = []
    for i in range(bw):
        tok = x[i]
        kv_in = tok if prompts is None else torch.cat([tok, prompts[i]])
        w, b = attn.qkv.weight, attn.qkv.bias
        q = (tok @ w[:c].T + b[:c]).view(n, heads, d).transpose(0, 1)
        k = (kv_in @ w[c:2 * c].T + b[c:2 * c]).view(-1, heads, d).transpose(0, 1)
        v = (kv_in @ w[2 * c:].T + b[2 * c:]).view(-1, heads, d).transpose(0, 1)
        logits = (q * d ** -0.5) @ k.transpose(1, 2)
        extra = attn.relative_position_bias()
        if mask is not None:
            extra = extra + mask[i % mask.shape[0]]
        logits[:, :, :n] += extra
        o = logits.softmax(-1) @ v
        out.append(attn.proj(o.transpose(0, 1).reshape(n, c)))
    return torch.stack(out)


@pytest.mark.parametrize('use_mask', [False, True])
@pytest.mark.parametrize('num_prompts', [0, 3])
def test_window_attention_prompts_match_naive(use_mask, num_prompts):
    torch.manual_seed(0)
    attn = _randomise(WindowAttention(16, 2, 4), seed=1)
    mask = compute_shift_mask(8, 12, 4, 2) if use_mask else None
    x = torch.randn(2 * 6, 16, 16)
    prompts = torch.randn(12, num_prompts, 16) if num_prompts else None
    with torch.no_grad():
        ours = attn(x, mask=mask, prompts=prompts)
        ref = _naive_attention(attn, x, mask, prompts)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)
    if mask is not None:
        assert (mask == MASK_VALUE).any()
    # fused CUDA kernels fall back to the slow math path for a mask without unit last stride
    assert attn.relative_position_bias().is_contiguous()


def test_shifted_window_attention_with_prompts():
    torch.manual_seed(0)
    attn = _randomise(WindowAttention(8, 2, 7), seed=2)
    x = torch.randn(2, 14 * 14, 8)
    prompts = torch.randn(2, 2, 8)  # different prompts per image
    with torch.no_grad():
        ours = shifted_window_attention(attn, x, (14, 14), 7, 3, prompts=prompts)
        grid = torch.roll(x.view(2, 14, 14, 8), (-3, -3), (1, 2))
        win = window_partition(grid, 7)
        per_win = prompts.repeat_interleave(4, dim=0)
        out = _naive_attention(attn, win, compute_shift_mask(14, 14, 7, 3), per_win)
        ref = torch.roll(window_reverse(out, 7, 14, 14), (3, 3), (1, 2)).reshape(2, -1, 8)
    torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5)


class _TaskBlock(SwinBlock):
    """A block that emits two task streams derived from its shared output."""

    def forward(self, x, hw):
        x = super().forward(x, hw)
        return x, {'a': 2 * x, 'b': x + 1}


def _swap_in_task_block(model, stage):
    old = model.layers[stage].blocks[-1]
    new = _TaskBlock(old.dim, old.attn.num_heads, old.window_size, old.shift_size)
    new.load_state_dict(old.state_dict())
    model.layers[stage].blocks[-1] = new


def test_task_streams_are_merged_by_the_same_downsample():
    torch.manual_seed(0)
    model = _randomise(SwinTransformer('nano', drop_path_rate=0.0).eval())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        base = model.forward_stages(x)
        _swap_in_task_block(model, 0)
        _swap_in_task_block(model, 3)
        feats = model(x, tasks=['a', 'b'])
        shared = model(x)
        ds = model.layers[0].downsample
        exp_a0 = ds(2 * base[0].pre_merge, base[0].pre_hw)[0]
        exp_b0 = ds(base[0].pre_merge + 1, base[0].pre_hw)[0]
    to_map = SwinTransformer._to_map
    torch.testing.assert_close(feats['a'][0], to_map(exp_a0, base[0].hw))
    torch.testing.assert_close(feats['b'][0], to_map(exp_b0, base[0].hw))
    for i in (1, 2):  # stages without task streams share one tensor
        assert feats['a'][i] is feats['b'][i]
        torch.testing.assert_close(feats['a'][i], to_map(base[i].x, base[i].hw))
    torch.testing.assert_close(feats['a'][3], 2 * shared[3])  # last stage: no merging
    torch.testing.assert_close(shared[0], to_map(base[0].x, base[0].hw))
    with pytest.raises(KeyError, match='not for'):
        model(x, tasks=['c'])


def test_backward_reaches_every_parameter_and_checkpointing_matches():
    torch.manual_seed(0)
    model = SwinTransformer('nano', drop_path_rate=0.0).train()
    x = torch.randn(1, 3, 48, 48)
    sum(f.square().mean() for f in model(x)).backward()
    dead = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not dead
    grads = {n: p.grad.clone() for n, p in model.named_parameters()}
    ckpt = SwinTransformer('nano', drop_path_rate=0.0, with_cp=True).train()
    ckpt.load_state_dict(model.state_dict())
    sum(f.square().mean() for f in ckpt(x)).backward()
    for n, p in ckpt.named_parameters():
        torch.testing.assert_close(p.grad, grads[n], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('with_cp', [[True, False], (True,) * 5, 'yes', [1, 0, 0, 0]])
def test_bad_per_stage_checkpointing_is_a_clear_error(with_cp):
    with pytest.raises(ValueError, match='with_cp must be a bool or 4 bools'):
        SwinTransformer('nano', with_cp=with_cp)
