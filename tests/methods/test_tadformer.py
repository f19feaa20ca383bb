"""TADFormer: parameter counts, filters, geometries, converter round trips."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mtbench_fixtures import TINY_BACKBONE, tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.tadformer import (DynamicTaskFilter, StaticTaskFilter,
                                       convert_tadformer_checkpoint, tadformer_num_trainable,
                                       to_reference_tadformer_checkpoint)
from mtbench.registry import MODELS, build_or_explain

PASCAL = ('semseg', 'human_parts', 'saliency', 'normals')
NYUD = ('semseg', 'depth', 'normals', 'edge')


def _swin_t(dataset, tasks, **method):
    cfg = dict(type='MultiTaskModel', tasks=list(tasks), dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='TADFormer', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


@pytest.mark.parametrize('dataset,tasks,filt,rank,expected', [
    ('pascal-mt', PASCAL, 'dtf', 16, 3_557_502),
    ('pascal-mt', PASCAL, 'dtf', 32, 4_776_126),
    ('pascal-mt', PASCAL, 'dtf', 64, 7_379_262),
    ('pascal-mt', PASCAL, 'static', 16, 3_532_350),
    ('pascal-mt', PASCAL, 'static', 32, 4_670_526),
    ('pascal-mt', PASCAL, 'static', 64, 6_946_878),
    ('nyud-mt', NYUD, 'static', 64, 6_960_931),
    ('nyud-mt', NYUD, 'dtf', 64, 7_393_315),
])
def test_swin_t_448_counts_match_reference_code(dataset, tasks, filt, rank, expected):
    model = _swin_t(dataset, tasks, rank=rank, filter=filt)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    filters = 12 * 10 * rank if filt == 'static' else 0  # 4 stages x 3 sites, per task
    assert counts['per_task']['semseg'] - filters == sum(
        p.numel() for p in model.decoders['semseg'].parameters())


def test_closed_form_backbone_part():
    # Swin-T, 4 tasks: 51,258 pretrained + 70,656 r LoRA + 12 (9 r^2 + 27 r) DTF + 396,292 prompt.
    for r in (16, 32, 64):
        assert tadformer_num_trainable(96, [2, 2, 6, 2], [3, 6, 12, 24], [7] * 4, 4, r) \
            == 51_258 + 70_656 * r + 12 * (9 * r * r + 27 * r) + 396_292


def test_dynamic_filter_matches_per_sample_definition():
    torch.manual_seed(0)
    filt = DynamicTaskFilter(5)
    u = torch.randn(2, 3, 5, 4, 6)  # [T, S, r, h, w]
    out = filt(u)
    for t in range(2):
        for s in range(3):
            x = u[t, s:s + 1]
            w = filt.conv(x.mean(dim=(2, 3), keepdim=True)).view(5, 9)
            w = (w - w.mean(1, keepdim=True)) / (w.std(1, keepdim=True) + 1e-10)
            w = w.reshape(45) * filt.std + filt.mean
            ref = F.conv2d(x, w.view(5, 1, 3, 3), padding=1, groups=5)
            torch.testing.assert_close(out[t, s], ref[0], rtol=1e-5, atol=1e-6)


def test_static_filter_matches_per_task_convs():
    torch.manual_seed(0)
    filt = StaticTaskFilter(4, ['a', 'b', 'c'])
    u = torch.randn(3, 2, 4, 5, 5)
    out = filt(u)
    for t, name in enumerate('abc'):
        torch.testing.assert_close(out[t], filt[name](u[t]), rtol=1e-5, atol=1e-6)
    assert sum(p.numel() for p in filt.parameters()) == 3 * 10 * 4


def _shifted_model(filt='dtf', tasks=('semseg', 'human_parts', 'normals')):
    """Width 16, window 4, nominal 256x256: stage grids 64/32/16/8, so stage 3 is shifted."""
    torch.manual_seed(0)
    backbone = dict(type='SwinTransformer', img_size=256, drop_path_rate=0.0,
                    arch=dict(embed_dims=16, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                              window_size=4))
    return build_or_explain(MODELS, dict(
        type='MultiTaskModel', tasks=list(tasks), dataset='pascal-mt', backbone=backbone,
        decoder=dict(type='HRNetFusionHead'),
        method=dict(type='TADFormer', rank=6, dropout=0.0, filter=filt)))


@pytest.mark.parametrize('filt', ['dtf', 'static'])
def test_shifted_last_stage_three_tasks_rank_6(filt):
    model = _shifted_model(filt)
    bb = model.backbone
    assert bb.window_sizes == (4, 4, 4, 4) and bb.shift_sizes[3] == 2  # 448-like stage 3
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    x = torch.randn(2, 3, 256, 256)
    model.eval()
    with torch.no_grad():
        feats = model.backbone(x, model.tasks)
        single = model.backbone(x[1:], model.tasks)
    for task in model.tasks:
        assert [tuple(f.shape[1:]) for f in feats[task]] == [(32, 32, 32), (64, 16, 16),
                                                              (128, 8, 8), (128, 8, 8)]
        for a, b in zip(feats[task], single[task]):  # no leakage across the batch
            torch.testing.assert_close(a[1:], b, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(feats['semseg'][3], feats['normals'][3])

    model.train()
    losses = model(x[:1], {'gt': {'semseg': torch.randint(0, 21, (1, 256, 256)),
                                  'human_parts': torch.randint(0, 7, (1, 256, 256)),
                                  'normals': F.normalize(torch.randn(1, 3, 256, 256), dim=1)}},
                   mode='loss')
    sum(losses.values()).backward()
    no_grad = {n for n, p in model.named_parameters() if p.requires_grad and p.grad is None}
    assert no_grad == {f'backbone.layers.{s}.blocks.0.attn.proj.tad_prompt_norm.{leaf}'
                       for s in range(4) for leaf in ('weight', 'bias')}
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


@pytest.mark.parametrize('filt', ['dtf', 'static'])
def test_converter_round_trip_and_task_order(filt):
    model = _shifted_model(filt)
    state = model.state_dict()
    ref = to_reference_tadformer_checkpoint(state)
    assert 'backbone.task_prompts' in ref and 'downsampler.semseg.downsample_3.weight' in ref
    assert 'backbone.layers.3.blocks.1.attn.proj.prompt_layernorm.bias' in ref
    assert 'backbone.layers.2.blocks.0.mlp.fc2.linear.weight' in ref
    assert 'backbone.layers.0.downsample.task_prompts_up.weight' in ref
    site = 'backbone.layers.1.blocks.1.mlp.fc1.lora_filter'
    assert (f'{site}.chan_FilterNorm.std' in ref) == (filt == 'dtf')
    assert (f'{site}.human_parts.conv2d.weight' in ref) == (filt == 'static')
    assert not any('tad_' in k for k in ref)
    back = convert_tadformer_checkpoint(ref)
    assert set(back) == set(state)
    assert all(torch.equal(back[k], v) for k, v in state.items())
    # Another reference task order: the prompt rows follow their tasks.
    order = ['normals', 'semseg', 'human_parts']
    reordered = to_reference_tadformer_checkpoint(state, ref_tasks=order)
    torch.testing.assert_close(reordered['backbone.task_prompts'],
                               state['backbone.tad_prompts'][[2, 0, 1]], rtol=0, atol=0)
    back = convert_tadformer_checkpoint(reordered, ref_tasks=order, tasks=model.tasks)
    assert torch.equal(back['backbone.tad_prompts'], state['backbone.tad_prompts'])


@pytest.mark.parametrize('size', [(64, 64), (32, 32), (72, 56)])
def test_nano_geometries_including_grids_smaller_than_the_window(size):
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(method=dict(type='TADFormer', rank=4)))
    bb = model.backbone
    assert bb.window_sizes == (4, 4, 4, 2) and bb.shift_sizes == (2, 2, 0, 0)
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, *size))
    assert all(o.shape[-2:] == size and torch.isfinite(o).all() for o in out.values())


@pytest.mark.parametrize('dropout', [0.0, 0.05])
def test_activation_checkpointing_gives_the_same_gradients(dropout):
    """Checkpointing every stage or only the first recomputes the same forward (the dropout
    positions too: the recomputation replays the random state)."""
    grads = []
    for with_cp in (False, True, [True, False, False, False]):
        torch.manual_seed(0)
        backbone = dict(TINY_BACKBONE, with_cp=with_cp)
        model = build_or_explain(MODELS, tiny_model_cfg(
            method=dict(type='TADFormer', rank=4, dropout=dropout),
            backbone=copy.deepcopy(backbone)))
        assert [layer.with_cp for layer in model.backbone.layers] == (
            with_cp if isinstance(with_cp, list) else [with_cp] * 4)
        model.train()
        out = model(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
        sum(o.square().mean() for o in out.values()).backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    for other in grads[1:]:
        assert set(other) == set(grads[0])
        for name, g in grads[0].items():
            torch.testing.assert_close(other[name], g, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize('method,match', [
    (dict(type='TADFormer', rank=0), 'rank'),
    (dict(type='TADFormer', rank=100), 'rank'),
    (dict(type='TADFormer', filter='naive'), 'filter'),
    (dict(type='TADFormer', dropout=1.5), 'dropout'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        build_or_explain(MODELS, tiny_model_cfg(method=method))


def test_plain_swin_weights_load_into_the_adapted_backbone():
    from mtbench.models.backbones import load_swin_pretrained
    torch.manual_seed(0)
    plain = build_or_explain(MODELS, tiny_model_cfg())
    model = build_or_explain(MODELS, tiny_model_cfg(method=dict(type='TADFormer', rank=4)))
    report = load_swin_pretrained(model.backbone, plain.backbone.state_dict())
    assert report['missing_keys'] and all('tad_' in k for k in report['missing_keys'])
    assert not report['unexpected_keys']
    weight = 'layers.1.blocks.1.mlp.fc1'
    assert torch.equal(model.backbone.get_submodule(weight).linear.weight,
                       plain.backbone.get_submodule(weight).weight)


@pytest.mark.parametrize('filt', ['dtf', 'static'])
def test_chunked_task_hidden_layers_match_the_layer_by_layer_path(filt, monkeypatch):
    """The task MLP with row-chunked hidden layers (gelu_lowrank) gives the outputs and every
    gradient of the layer-by-layer TA-modules, dropout masks included."""
    import mtbench.methods.gelu_lowrank as gelu_lowrank
    from mtbench.methods.tadformer.block import TADFormerBlock
    monkeypatch.setattr(gelu_lowrank, 'CHUNK_ELEMENTS', 3000)
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(
        ('semseg', 'saliency', 'normals'), method=dict(type='TADFormer', rank=4, dropout=0.3,
                                                     filter=filt))).double().train()
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'tad_' in name:
                p.copy_(0.3 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64, generator=g)
    results = []
    for chunked in (False, True):
        monkeypatch.setattr(TADFormerBlock, '_hidden_in_chunks', lambda self, c=chunked: c)
        model.zero_grad(set_to_none=True)
        torch.manual_seed(7)
        outs = model.forward_tasks(x)
        sum((o * torch.linspace(-1, 1, o.numel(), dtype=o.dtype).view_as(o)).sum()
            for o in outs.values()).backward()
        results.append(({t: o.detach() for t, o in outs.items()},
                        {n: p.grad.clone() for n, p in model.named_parameters()
                         if p.grad is not None}))
    (out_ref, grads_ref), (out, grads) = results
    for t in out_ref:
        torch.testing.assert_close(out[t], out_ref[t])
    assert grads.keys() == grads_ref.keys()
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], msg=name)


def test_gated_skip_is_lerp_with_one_saved_tensor():
    """gated_skip computes torch.lerp and its gradients bit for bit (gate below and above 0.5,
    where lerp switches formula), and keeps one full-size tensor for backward instead of two."""
    from mtbench.engine.tensor_memory import cpu_step_peak_bytes
    from mtbench.methods.tadformer.backbone import gated_skip
    g = torch.Generator().manual_seed(0)
    tasks, skip = torch.randn(2, 3, 50, 8, generator=g), torch.randn(2, 3, 50, 8, generator=g)
    weights = torch.randn(2, 3, 50, 8, generator=g)
    for logit in (-0.7, 0.0, 0.9):
        results = []
        for fn in (torch.lerp, gated_skip):
            leaves = [tasks.clone().requires_grad_(), skip.clone().requires_grad_(),
                      torch.tensor([logit], requires_grad=True)]
            out = fn(leaves[0], leaves[1], torch.sigmoid(leaves[2]))
            results.append((out.detach(), torch.autograd.grad((out * weights).sum(), leaves)))
        (out_ref, grads_ref), (out, grads) = results
        assert torch.equal(out, out_ref)
        for grad, grad_ref in zip(grads, grads_ref):
            assert torch.equal(grad, grad_ref)
    with torch.no_grad():  # without autograd: plain lerp, nothing kept
        assert torch.equal(gated_skip(tasks, skip, torch.tensor([0.3])),
                           torch.lerp(tasks, skip, torch.tensor([0.3])))
    # lerp keeps both 4 MiB inputs until its backward, gated_skip only their difference: the
    # step's peak (in the backward pass here, beside the gradients) is one such tensor lower.
    big = [torch.randn(1 << 20, requires_grad=True) for _ in range(2)]  # 4 MiB each
    gate = torch.zeros(1, requires_grad=True)
    peaks = []
    for fn in (torch.lerp, gated_skip):
        def step(fn=fn):
            for leaf in (*big, gate):
                leaf.grad = None
            fn(big[0] * 1, big[1] * 1, torch.sigmoid(gate)).sum().backward()
        peaks.append(cpu_step_peak_bytes(step))
    assert peaks[0] - peaks[1] >= 0.95 * (1 << 20) * 4
