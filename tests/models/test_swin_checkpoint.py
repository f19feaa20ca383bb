"""Tests of Swin checkpoint conversion (timm / official / MTLoRA layouts) and loading."""
import re
from pathlib import Path

import pytest
import torch
from torch import nn

from mtbench.models.backbones import (
    SwinTransformer,
    convert_swin_checkpoint,
    convert_swin_state_dict,
    detect_swin_layout,
    load_swin_pretrained,
    resize_relative_position_bias_table,
)

ARCH = {'embed_dims': 8, 'depths': (2, 2, 2, 2), 'num_heads': (1, 1, 2, 2), 'window_size': 4}
GOLDEN_ARCH = {'embed_dims': 24, 'depths': (2, 2, 2, 2), 'num_heads': (1, 2, 4, 8),
               'window_size': 7}


def _golden_dir():
    here = Path(__file__).resolve()
    for root in (here.parents[2], here.parents[3]):
        path = root / 'shared' / 'golden' / 'models'
        if path.is_dir():
            return path
    return None


@pytest.fixture(scope='module')
def state():
    torch.manual_seed(0)
    return SwinTransformer(ARCH, img_size=64).state_dict()


def _buffers(sd):
    extra = {}
    for k, v in sd.items():
        if k.endswith('relative_position_bias_table'):
            stem = k[:-len('relative_position_bias_table')]
            n = int(((v.shape[0] ** 0.5) + 1) // 2) ** 2
            extra[stem + 'relative_position_index'] = torch.zeros(n, n, dtype=torch.long)
    return extra


def to_official(sd):
    out = dict(sd, **_buffers(sd))
    out['layers.0.blocks.1.attn_mask'] = torch.zeros(16, 16, 16)
    out.update({'norm.weight': torch.ones(64), 'norm.bias': torch.zeros(64),
                'head.weight': torch.zeros(10, 64), 'head.bias': torch.zeros(10)})
    return {'model': out}


def to_timm(sd, features_only=False):
    out = {}
    for k, v in {**sd, **_buffers(sd)}.items():
        k = re.sub(r'^layers\.(\d+)\.downsample',
                   lambda m: f'layers.{int(m.group(1)) + 1}.downsample', k)
        if features_only:
            k = re.sub(r'^layers\.', 'layers_', k)
        out[k] = v
    if not features_only:
        out.update({'norm.weight': torch.ones(64), 'norm.bias': torch.zeros(64),
                    'head.fc.weight': torch.zeros(10, 64), 'head.fc.bias': torch.zeros(10)})
    return out


def to_mtlora(sd):
    out = {}
    for k, v in {**sd, **_buffers(sd)}.items():
        k = re.sub(r'\.(qkv|proj|fc1|fc2)\.(weight|bias)$', r'.\1.linear.\2', k)
        out['backbone.' + k] = v
    out['backbone.layers.0.blocks.1.attn.proj.lora_shared_A'] = torch.zeros(4, 8)
    out['backbone.layers.0.blocks.1.mlp.fc1.lora_tasks_B.semseg'] = torch.zeros(32, 4)
    out['backbone.task_prompts'] = torch.zeros(4, 8)
    out['downsampler.semseg.downsample_0.weight'] = torch.zeros(6, 16, 1, 1)
    out['decoders.decoders.semseg.last_layer.0.bias'] = torch.zeros(360)
    return {'model': out, 'epoch': 3}


@pytest.mark.parametrize('maker,layout,n_dropped', [
    (to_official, 'official', 13), (to_timm, 'timm', 12),
    (lambda sd: to_timm(sd, features_only=True), 'timm', 8), (to_mtlora, 'mtlora', 8)])
def test_conversion_round_trip(state, maker, layout, n_dropped):
    conv = convert_swin_checkpoint(maker(state))
    assert conv.layout == layout
    assert conv.state_dict.keys() == state.keys()
    for k, v in state.items():
        assert torch.equal(conv.state_dict[k], v), k
    assert len(conv.dropped) == n_dropped
    assert convert_swin_checkpoint(maker(state), src=layout).state_dict.keys() == state.keys()


def test_mtlora_method_and_non_backbone_keys(state):
    conv = convert_swin_checkpoint(to_mtlora(state))
    assert sorted(conv.method_state) == [
        'layers.0.blocks.1.attn.proj.lora_shared_A',
        'layers.0.blocks.1.mlp.fc1.lora_tasks_B.semseg', 'task_prompts']
    assert sorted(conv.non_backbone) == ['decoders.decoders.semseg.last_layer.0.bias',
                                         'downsampler.semseg.downsample_0.weight']
    assert convert_swin_state_dict(to_mtlora(state)).keys() == state.keys()


def test_detection_and_bad_inputs(state):
    assert detect_swin_layout(state) == 'official'  # mtbench's own layout converts to itself
    assert detect_swin_layout(to_timm(state)) == 'timm'
    with pytest.raises(ValueError, match='Not a Swin'):
        convert_swin_checkpoint({'conv1.weight': torch.zeros(3), 'fc.bias': torch.zeros(2)})
    with pytest.raises(ValueError, match='timm stage 0'):
        convert_swin_checkpoint(to_official(state), src='timm')
    with pytest.raises(ValueError, match='src must be'):
        convert_swin_checkpoint(state, src='mmseg')
    with pytest.raises(TypeError):
        convert_swin_checkpoint([1, 2])


def test_load_file_and_report(tmp_path, state):
    ckpt = to_official(state)
    del ckpt['model']['layers.1.blocks.0.norm1.bias']
    ckpt['model']['layers.1.blocks.0.extra'] = torch.zeros(2)
    path = tmp_path / 'swin.pth'
    torch.save(ckpt, path)
    model = SwinTransformer(ARCH, img_size=64)
    report = load_swin_pretrained(model, str(path))
    assert report['layout'] == 'official'
    assert report['missing_keys'] == ['layers.1.blocks.0.norm1.bias']
    assert report['unexpected_keys'] == ['layers.1.blocks.0.extra']
    assert 'head.weight' in report['dropped_keys']
    torch.testing.assert_close(model.layers[2].blocks[1].mlp.fc2.weight,
                               state['layers.2.blocks.1.mlp.fc2.weight'])
    with pytest.raises(RuntimeError):
        load_swin_pretrained(SwinTransformer(ARCH, img_size=64), str(path), strict=True)


def test_init_weights_loads_pretrained(tmp_path, state):
    path = tmp_path / 'timm_layout.pth'
    torch.save(to_timm(state), path)
    model = SwinTransformer(ARCH, img_size=64, pretrained=str(path))
    model.init_weights()
    for k, v in model.state_dict().items():
        assert torch.equal(v, state[k]), k


def test_errors_missing_file_and_wrong_arch(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.pth'):
        load_swin_pretrained(SwinTransformer(ARCH), str(tmp_path / 'nope.pth'))
    with torch.device('meta'):
        base_sd = SwinTransformer('swin-b').state_dict()
        tiny = SwinTransformer('swin-t')
    with pytest.raises(ValueError, match=r"arch 'tiny'.*patch_embed\.proj\.weight: checkpoint "
                                         r'\(128, 3, 4, 4\) vs model \(96, 3, 4, 4\)'):
        load_swin_pretrained(tiny, {'model': base_sd})


def test_relative_position_tables_are_resized(state):
    big = SwinTransformer({**ARCH, 'window_size': 7}, img_size=224)  # tables 13x13
    report = load_swin_pretrained(big, state)  # state: window 4 (7x7), stage 3 window 2 (3x3)
    assert len(report['resized_keys']) == 8
    assert big.layers[0].blocks[0].attn.relative_position_bias_table.shape == (169, 1)
    const = torch.full((49, 3), 0.5)
    torch.testing.assert_close(resize_relative_position_bias_table(const, 7),
                               torch.full((169, 3), 0.5))
    assert resize_relative_position_bias_table(const, 4) is const


class _Wrapped(nn.Module):
    def __init__(self, linear):
        super().__init__()
        self.linear = linear

    def forward(self, x):
        return self.linear(x)


def test_load_into_wrapped_linears(state):
    model = SwinTransformer(ARCH, img_size=64)
    attn = model.layers[1].blocks[0].attn
    attn.qkv = _Wrapped(attn.qkv)
    report = load_swin_pretrained(model, state, strict=True)
    assert not report['missing_keys']
    assert torch.equal(attn.qkv.linear.weight, state['layers.1.blocks.0.attn.qkv.weight'])


def test_timm_tag_goes_through_timm(monkeypatch):
    import timm
    from timm.models.swin_transformer import SwinTransformer as TimmSwin
    calls = []

    def fake_create_model(name, pretrained=False, **kwargs):
        calls.append((name, pretrained))
        return TimmSwin(img_size=64, embed_dim=8, depths=(2, 2, 2, 2), num_heads=(1, 1, 2, 2),
                        window_size=4, num_classes=3)

    monkeypatch.setattr(timm, 'create_model', fake_create_model)
    model = SwinTransformer(ARCH, img_size=64)
    report = load_swin_pretrained(model, 'timm:swin_tiny_patch4_window7_224.ms_in1k', strict=True)
    assert calls == [('swin_tiny_patch4_window7_224.ms_in1k', True)]
    assert report['layout'] == 'timm'
    assert set(report['dropped_keys']) >= {'head.fc.weight', 'norm.weight'}


@pytest.mark.skipif(_golden_dir() is None, reason='shared golden fixtures not available')
def test_golden_swin_features_match_official_code():
    golden = _golden_dir()
    fixture = torch.load(golden / 'swin_mtl_full.pt', weights_only=True)
    x = torch.load(golden / 'inputs.pt', weights_only=True)['input'].float()
    model = SwinTransformer(GOLDEN_ARCH, img_size=224, drop_path_rate=0.0).eval()
    report = load_swin_pretrained(model, {'model': fixture['state_dict']}, strict=True)
    assert report['layout'] == 'mtlora' and len(report['non_backbone_keys']) == 52
    with torch.no_grad():
        feats = model(x, tasks=fixture['tasks'])
    task = fixture['tasks'][0]
    for ours, ref in zip(feats[task], fixture['features'][task]):
        ours = ours.flatten(2).transpose(1, 2)  # official features are B x L x C
        torch.testing.assert_close(ours, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())


@pytest.mark.skipif(_golden_dir() is None, reason='shared golden fixtures not available')
@pytest.mark.parametrize('name,n_method', [('mtlora_r8_t4.pt', 160), ('tadformer_dtf_r8.pt', 136)])
def test_golden_peft_checkpoints_convert(name, n_method):
    fixture = torch.load(_golden_dir() / name, weights_only=True)
    conv = convert_swin_checkpoint({'model': fixture['state_dict']})
    assert conv.layout == 'mtlora' and len(conv.method_state) == n_method
    assert all('lora_' in k or 'prompt' in k for k in conv.method_state)
    model = SwinTransformer(GOLDEN_ARCH, img_size=224)
    model.load_state_dict(conv.state_dict, strict=True)
