"""MTLoRA: parameter counts of the paper, layer semantics, converter round trip, other geometry."""
import copy

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.mtlora import (MTLoRALinear, convert_mtlora_checkpoint, mtlora_key_map,
                                    to_mtlora_reference)
from mtbench.registry import MODELS, build_or_explain

PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
NYUD = ['semseg', 'depth', 'normals', 'edge']


def _swin_t(tasks, dataset, **method):
    cfg = dict(type='MultiTaskModel', tasks=tasks, dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='MTLoRA', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


@pytest.mark.parametrize('tasks,dataset,method,expected', [
    (PASCAL, 'pascal-mt', dict(rank=16), 4_953_146),
    (PASCAL, 'pascal-mt', dict(rank=32), 6_083_642),
    (PASCAL, 'pascal-mt', dict(rank=64), 8_344_634),
    (PASCAL, 'pascal-mt', dict(rank=16, downsampler_lora=True), 3_469_370),
    (PASCAL, 'pascal-mt', dict(rank=64, downsampler_lora=True), 7_054_394),
    (PASCAL, 'pascal-mt', dict(rank=16, shared_mode='lora_only'), 4_676_666),
    (NYUD, 'nyud-mt', dict(rank=16), 4_967_199),
    (NYUD, 'nyud-mt', dict(rank=64), 8_358_687),
], ids=['r16', 'r32', 'r64', 'plus-r16', 'plus-r64', 'lora-only-r16', 'nyud-r16', 'nyud-r64'])
def test_reference_parameter_counts_swin_t_448(tasks, dataset, method, expected):
    model = _swin_t(tasks, dataset, **method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == expected
    assert counts['decoders'] == (1_946_624 if dataset == 'pascal-mt' else counts['decoders'])
    task_lora = 0 if method.get('shared_mode') == 'lora_only' else 12 * 1440 * 4
    per_task_added = {t: counts['per_task'][t] - sum(
        p.numel() for n, p in model.decoders[t].named_parameters()) for t in tasks}
    assert per_task_added == {t: task_lora for t in tasks}


def _randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'lora_' in name:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))


def _other_geometry(method=None, seed=0):
    torch.manual_seed(seed)
    arch = dict(embed_dims=16, depths=[1, 2, 3, 1], num_heads=[1, 2, 2, 4], window_size=4)
    cfg = tiny_model_cfg(('semseg', 'saliency', 'normals'),
                         method=method or dict(type='MTLoRA', rank=6, task_rank=2, dropout=0.0),
                         backbone=dict(type='SwinTransformer', arch=arch, img_size=64,
                                       drop_path_rate=0.0))
    model = build_or_explain(MODELS, cfg)
    _randomise(model, seed)
    return model


def test_other_geometry_counts_gradients_and_converter_round_trip():
    model = _other_geometry()
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    assert counts['backbone_added'] == sum(p.numel() for n, p in model.named_parameters()
                                           if 'lora_' in n)
    # 1 + 2 + 3 + 1 blocks: every block has shared LoRA, the last of each stage task LoRA.
    assert sum(1 for n, _ in model.named_parameters() if n.endswith('lora_shared_A')) == 7 * 4
    assert sum(1 for n, _ in model.named_parameters()
               if n.endswith('lora_tasks_A.saliency')) == 4 * 3

    state = model.state_dict()
    reference = to_mtlora_reference(state)
    assert 'backbone.layers.2.blocks.2.mlp.fc1.lora_tasks_A.sal' in reference
    assert 'backbone.layers.2.blocks.2.mlp.fc1.linear.weight' in reference
    assert 'downsampler.sal.downsample_3.weight' in reference
    assert 'decoders.decoders.normals.last_layer.1.running_var' in reference
    back = convert_mtlora_checkpoint({'model': reference})
    assert back.keys() == state.keys()
    assert all(torch.equal(back[k], state[k]) for k in state)

    fresh = _other_geometry(seed=1)
    fresh.load_state_dict(back, strict=True)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    fresh.eval()
    with torch.no_grad():
        a, b = model.forward_tasks(x), fresh.forward_tasks(x)
    for t in a:
        torch.testing.assert_close(a[t], b[t], rtol=0, atol=0)
    feats = model.backbone(x, ['semseg', 'normals'])
    assert not torch.equal(feats['semseg'][2], feats['normals'][2])  # per-task stage features

    model.train()
    sum(o.square().mean() for o in model.forward_tasks(x).values()).backward()
    dead = {'backbone.layers.3.blocks.0.mlp.fc2.lora_shared_A',
            'backbone.layers.3.blocks.0.mlp.fc2.lora_shared_B'}
    for name, p in model.named_parameters():
        if not p.requires_grad or name in dead:
            assert p.grad is None, name
        else:
            assert p.grad is not None, name


def test_converter_rejects_foreign_method_tensors():
    state = {'backbone.patch_embed.proj.weight': torch.zeros(1),
             'backbone.layers.0.blocks.1.attn.proj.lora_filter.conv.weight': torch.zeros(1)}
    with pytest.raises(KeyError, match='not an MTLoRA tensor'):
        convert_mtlora_checkpoint(state)
    keys = mtlora_key_map({'backbone.layers.0.blocks.1.attn_mask': 0,
                           'backbone.layers.0.downsample.reduction.weight': 0})
    assert keys == {'backbone.layers.0.blocks.1.attn_mask': None,
                    'backbone.layers.0.downsample.reduction.weight':
                        'backbone.layers.0.downsample.reduction.weight'}


def _naive(layer, x_shared, x_tasks, mode):
    """Per-task loop of the reference equations."""
    base = torch.nn.functional.linear(x_shared, layer.linear.weight, layer.linear.bias)
    shared = base + layer.scale * x_shared @ layer.lora_shared_A.T @ layer.lora_shared_B.T
    out = []
    for t, x_t in zip(layer.tasks, x_tasks):
        delta = layer.task_scales[t] * x_t @ layer.lora_tasks_A[t].T @ layer.lora_tasks_B[t].T
        out.append((shared if mode == 'matrixv2' else base) + delta)
    return shared, torch.stack(out)


@pytest.mark.parametrize('mode', ['matrix', 'matrixv2'])
@pytest.mark.parametrize('task_input', ['shared', 'stacked'])
def test_layer_matches_per_task_equations(mode, task_input):
    torch.manual_seed(0)
    ranks = {'semseg': 3, 'saliency': 1, 'normals': 2}  # unequal ranks: zero-padded batching
    layer = MTLoRALinear(torch.nn.Linear(8, 12), 5, 4.0, 0.0, ranks,
                         {'semseg': 1.0, 'saliency': 2.0, 'normals': 4.0}, mode, task_input)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    x = torch.randn(2, 3, 8)
    if task_input == 'shared':
        inputs, x_tasks = x, [x] * 3
    else:
        x_tasks = torch.randn(3, 2, 3, 8)
        inputs = torch.cat([x, x_tasks.flatten(0, 1)])
    shared, tasks = layer.forward_streams(inputs)
    ref_shared, ref_tasks = _naive(layer, x, x_tasks, mode)
    torch.testing.assert_close(shared, ref_shared)
    torch.testing.assert_close(tasks, ref_tasks)
    torch.testing.assert_close(layer(inputs), torch.cat([ref_shared, ref_tasks.flatten(0, 1)]))


def test_dropout_only_on_the_shared_input():
    torch.manual_seed(0)
    layer = MTLoRALinear(torch.nn.Linear(8, 8), 4, 4.0, 0.5, {'semseg': 2}, None, 'matrix',
                         'stacked').train()
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn_like(p))
    x = torch.randn(2 * 16, 8)
    (s1, t1), (s2, t2) = layer.forward_streams(x), layer.forward_streams(x)
    assert not torch.equal(s1, s2)
    assert torch.equal(t1, t2)


@pytest.mark.parametrize('method,match', [
    (dict(type='MTLoRA', rank=0), 'rank'),
    (dict(type='MTLoRA', task_rank=1.5), 'task_rank'),
    (dict(type='MTLoRA', shared_mode='addition'), 'shared_mode'),
    (dict(type='MTLoRA', task_rank={'semseg': 2}), 'task_rank must name exactly'),
    (dict(type='MTLoRA', rank=[2, 2]), 'stages'),
    (dict(type='MTLoRA', dropout=1.0), 'dropout'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        build_or_explain(MODELS, tiny_model_cfg(('semseg', 'normals'),
                                                method=copy.deepcopy(method)))


def test_activation_checkpointing_gives_the_same_gradients():
    grads = []
    for with_cp in (False, True):
        torch.manual_seed(0)
        cfg = tiny_model_cfg(('semseg', 'normals'),
                             method=dict(type='MTLoRA', rank=2, task_rank=1, dropout=0.0),
                             backbone=dict(type='SwinTransformer', arch='nano', img_size=64,
                                           drop_path_rate=0.0, with_cp=with_cp))
        model = build_or_explain(MODELS, cfg)
        _randomise(model)
        model.train()
        x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
        sum(o.square().mean() for o in model.forward_tasks(x).values()).backward()
        grads.append({n: p.grad for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    for name, g in grads[0].items():
        torch.testing.assert_close(grads[1][name], g, rtol=1e-5, atol=1e-7)


def _grads_with(model, fused, x, seed):
    from mtbench.methods.mtlora.blocks import MTLoRABlock
    for m in model.modules():
        if isinstance(m, MTLoRABlock):
            m._fused_task_mlp = (lambda: fused) if not fused else type(m)._fused_task_mlp.__get__(m)
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    outs = model.forward_tasks(x)
    sum((o * torch.linspace(-1, 1, o.numel()).view_as(o)).sum() for o in outs.values()).backward()
    return ({t: o.detach() for t, o in outs.items()},
            {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})


@pytest.mark.parametrize('method', [
    dict(type='MTLoRA', rank=6, task_rank={'semseg': 3, 'saliency': 1, 'normals': 2},
         task_scale={'semseg': 1.0, 'saliency': 2.0}, dropout=0.3),
    dict(type='MTLoRA', rank=4, task_rank=2, shared_mode='matrixv2', dropout=0.0),
    dict(type='MTLoRA', rank=4, task_rank=2, dropout=0.2, intermediate_specialization=True),
], ids=['matrix-unequal-ranks-dropout', 'matrixv2', 'intermediate'])
def test_fused_task_mlp_matches_the_stacked_layers(method, monkeypatch):
    """The task-stream MLP with row-chunked hidden layers (gelu_lowrank) gives the outputs and
    every gradient of the per-layer stacked computation, with the same dropout masks."""
    import mtbench.methods.gelu_lowrank as gelu_lowrank
    monkeypatch.setattr(gelu_lowrank, 'CHUNK_ELEMENTS', 5000)  # many chunks, a ragged last one
    model = _other_geometry(copy.deepcopy(method), seed=1).double().train()
    model.backbone.layers[0].blocks[0].drop_path.p = 0.3  # per-stream stochastic depth too
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    out_ref, grads_ref = _grads_with(model, False, x, seed=5)
    out, grads = _grads_with(model, True, x, seed=5)
    for t in out_ref:
        torch.testing.assert_close(out[t], out_ref[t])
    assert grads.keys() == grads_ref.keys()
    for name in grads_ref:
        torch.testing.assert_close(grads[name], grads_ref[name], msg=name)


@pytest.mark.parametrize('method', [
    dict(type='MTLoRA', rank=6, task_rank=2, dropout=0.0),
    dict(type='MTLoRA', rank=[2, 3, 2, 4], task_rank=1, downsampler_lora=True, dropout=0.0),
    dict(type='MTLoRA', rank=3, shared_mode='lora_only', dropout=0.0)])
def test_merge_folds_the_shared_lora_of_shared_only_layers(method):
    model = _other_geometry(method).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x, mode='tensor')
    layers = [m for m in model.backbone.modules() if isinstance(m, MTLoRALinear)]
    weights = {id(m): m.linear.weight.clone() for m in layers}
    model.method.merge(model)
    merged = [m for m in layers if m.merged]
    # Every layer without task LoRA merged (its weight moved); task layers did not.
    assert merged == [m for m in layers if not m.tasks] and merged
    assert all(not torch.equal(m.linear.weight, weights[id(m)]) for m in merged)
    assert all(torch.equal(m.linear.weight, weights[id(m)]) for m in layers if m.tasks)
    with torch.no_grad():
        for m in merged:  # a merged layer no longer reads its shared LoRA
            m.lora_shared_B.mul_(1e6)
        after = model(x, mode='tensor')
        for m in merged:
            m.lora_shared_B.div_(1e6)
    for t in before:  # rounding of W + s B A only (a layer still reading B would be off by ~1e5)
        torch.testing.assert_close(after[t], before[t], rtol=1e-3, atol=2e-4)
    model.method.unmerge(model)
    assert not any(m.merged for m in layers)
    for m in layers:
        torch.testing.assert_close(m.linear.weight, weights[id(m)], rtol=0, atol=1e-6)
