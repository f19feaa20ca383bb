"""VMT-Adapter / -Lite: equations against float64 re-derivations, streams, counts, errors."""
import copy

import pytest
import torch
import torch.nn.functional as F
from mtbench_fixtures import TINY_BACKBONE, tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.vmt_adapter import VMTAdapterModule
from mtbench.models.backbones import SwinBlock
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
NYUD = ['semseg', 'depth', 'normals', 'edge']
SWIN_T_BACKBONE = 27_517_818  # mtbench Swin-T without classifier head and final norm
SWIN_T_OFFICIAL = 28_288_354  # the ImageNet classifier checkpoint, head included
PASCAL_DECODERS = 1_946_624


def _build(method, tasks=TASKS, seed=0, **kwargs):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=copy.deepcopy(method),
                                                   **kwargs))


def _randomise(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if 'vmt_adapter.' in name:
                p.copy_(p + 0.2 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


def _adapter_terms(adapter, a, task):
    """Independent float64 evaluation of the generic and the task-specific adapter outputs."""
    wd, bd = adapter.down.weight.double(), adapter.down.bias.double()
    wu = wd.T if adapter.lite else adapter.up.weight.double()
    bu = (adapter.up_bias if adapter.lite else adapter.up.bias).double()
    act = torch.relu if isinstance(adapter.act, torch.nn.ReLU) else F.gelu
    z = act(a.double() @ wd.T + bd)
    generic = adapter.scale * (z @ wu.T + bu)
    if task is None:
        return generic
    gamma = adapter.task_scale[task].double()
    beta = adapter.task_shift[task].double() if adapter.task_shift is not None else 0.0
    return adapter.scale * ((z * gamma + beta) @ wu.T + bu)


def _reference_block(block, x, hw, task=None):
    """A VMT block's shared (task=None) or task output, written out from the equations."""
    h = x + SwinBlock.attention_branch(block, x, hw)
    normed = F.layer_norm(h, (h.shape[-1],), block.norm2.weight, block.norm2.bias)
    mlp = F.linear(F.gelu(F.linear(normed, block.mlp.fc1.weight, block.mlp.fc1.bias)),
                   block.mlp.fc2.weight, block.mlp.fc2.bias)
    a = normed if block.vmt_adapter_input == 'norm' else h
    return h + mlp + _adapter_terms(block.vmt_adapter, a, task)


@pytest.mark.parametrize('lite', [False, True])
@pytest.mark.parametrize('shift', [False, True])
def test_module_equations(lite, shift):
    torch.manual_seed(0)
    adapter = VMTAdapterModule(8, 3, ('a', 'b'), scale=0.7, lite=lite, task_shift=shift).double()
    with torch.no_grad():
        for p in adapter.parameters():
            p.copy_(torch.randn_like(p))
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    generic, deltas = adapter(x)
    torch.testing.assert_close(generic, _adapter_terms(adapter, x, None))
    assert deltas.shape == (2, 2, 5, 8)
    for i, t in enumerate(('a', 'b')):
        torch.testing.assert_close(generic + deltas[i], _adapter_terms(adapter, x, t))
    names = {n for n, _ in adapter.named_parameters()}
    assert ('up.weight' in names) != lite and ('up_bias' in names) == lite
    assert ('task_shift.a' in names) == shift


@pytest.mark.parametrize('method', [
    dict(type='VMTAdapter', bottleneck=4),
    dict(type='VMTAdapterLite', reduction=8, adapter_input='norm', activation='gelu'),
], ids=['vmt', 'lite-norm-gelu'])
def test_block_outputs_match_equations(method):
    model = _randomise(_build(method)).double().eval()
    block = model.backbone.layers[1].blocks[1]  # last block of stage 1: has task modules
    x = torch.randn(2, 16, block.dim, dtype=torch.float64)
    with torch.no_grad():
        shared, tasks = block(x, (4, 4))
        torch.testing.assert_close(shared, _reference_block(block, x, (4, 4)))
        for t in TASKS:
            torch.testing.assert_close(tasks[t], _reference_block(block, x, (4, 4), t))
        plain = model.backbone.layers[1].blocks[0](x, (4, 4))  # no task modules
        assert torch.is_tensor(plain)
        torch.testing.assert_close(plain, _reference_block(model.backbone.layers[1].blocks[0],
                                                           x, (4, 4)))


def _reference_backbone(bb, x, mode):
    """Per-task stage features from the equations: shared stream, plus the task deltas of the
    stage's task blocks (last block, or all), merged by the stage's PatchMerging."""
    tokens, hw = bb.patch_embed(x)
    out = {t: [] for t in TASKS}
    for layer in bb.layers:
        deltas = {t: 0.0 for t in TASKS}
        for j, block in enumerate(layer.blocks):
            shared = _reference_block(block, tokens, hw)
            if mode == 'all' or j == len(layer.blocks) - 1:
                for t in TASKS:
                    deltas[t] = deltas[t] + _reference_block(block, tokens, hw, t) - shared
            tokens = shared
        streams = {t: tokens + deltas[t] for t in TASKS}
        merged_hw = hw
        if layer.downsample is not None:
            streams = {t: layer.downsample(s, hw)[0] for t, s in streams.items()}
            tokens, merged_hw = layer.downsample(tokens, hw)
        for t in TASKS:
            out[t].append(streams[t].transpose(1, 2).reshape(x.shape[0], -1, *merged_hw))
        hw = merged_hw
    return out


@pytest.mark.parametrize('mode', ['last', 'all'])
def test_backbone_task_features_match_reference(mode):
    model = _randomise(_build(dict(type='VMTAdapter', bottleneck=4, task_blocks=mode)))
    model = model.double().eval()
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        got = model.backbone(x, list(TASKS))
        ref = _reference_backbone(model.backbone, x, mode)
    for t in TASKS:
        for a, b in zip(got[t], ref[t]):
            torch.testing.assert_close(a, b)
    assert not torch.allclose(got['semseg'][2], got['normals'][2])


def test_drop_path_draws_like_plain_swin_and_spares_the_adapter():
    plain = _build(dict(type='FullFineTuning'))
    model = _build(dict(type='VMTAdapter', bottleneck=4))
    block, ref_block = model.backbone.layers[2].blocks[1], plain.backbone.layers[2].blocks[1]
    for blk in (block, ref_block):
        blk.drop_path.p = 0.5
        blk.train()
    x = torch.randn(4, 4, block.dim)
    with torch.no_grad():  # (kernels may differ between trainable and frozen weights)
        torch.manual_seed(3)
        got, _ = block(x, (2, 2))
        torch.manual_seed(3)
        want = ref_block(x, (2, 2))
    torch.testing.assert_close(got, want, rtol=0, atol=0)  # zero-init adapter: plain Swin

    _randomise(model)
    torch.manual_seed(5)
    shared, tasks = block(x, (2, 2))
    torch.manual_seed(5)
    attn_keep = x.new_empty(4, 1, 1).bernoulli_(0.5).div_(0.5)
    mlp_keep = x.new_empty(4, 1, 1).bernoulli_(0.5).div_(0.5)
    with torch.no_grad():
        h = x + attn_keep * SwinBlock.attention_branch(block, x, (2, 2))
        mlp = block.mlp(block.norm2(h))
        for t in (None,) + TASKS:
            want = h + mlp_keep * mlp + _adapter_terms(block.vmt_adapter, h, t).float()
            torch.testing.assert_close(shared if t is None else tasks[t], want)


def test_frozen_backbone_runs_once_for_all_tasks():
    """O(1) in tasks: every frozen attention / MLP / merging layer sees one batch of B."""
    def leading_dims(model, tasks):
        seen = []
        hooks = [m.register_forward_hook(lambda m, i, o: seen.append(i[0].shape[0]))
                 for n, m in model.backbone.named_modules()
                 if n.endswith(('attn.qkv', 'mlp.fc1'))]
        model.backbone(torch.randn(2, 3, 64, 64), list(tasks))
        for h in hooks:
            h.remove()
        return seen
    one = leading_dims(_build(dict(type='VMTAdapter', bottleneck=4), ('semseg',)), ('semseg',))
    four = leading_dims(_build(dict(type='VMTAdapter', bottleneck=4), PASCAL), PASCAL)
    assert one == four and len(one) == 2 * 8


def test_task_parameters_get_only_their_task_gradient_and_accounting():
    model = _randomise(_build(dict(type='VMTAdapter', bottleneck=4, task_blocks='all')))
    model.train()
    feats = model.backbone(torch.randn(2, 3, 64, 64), list(TASKS))
    sum(f.square().mean() for f in feats['saliency']).backward()
    task_params = {n: p for n, p in model.backbone.named_parameters() if '.task_' in n}
    assert len(task_params) == 8 * 2 * len(TASKS)  # every block, scale + shift, per task
    for name, p in task_params.items():
        assert model.method.task_of(name) == name.rsplit('.', 1)[1]
        if name.endswith('.saliency'):
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        else:
            assert p.grad is None or not p.grad.any(), name
    counts = count_parameters(model)
    added = {t: counts['per_task'][t] - sum(p.numel() for p in model.decoders[t].parameters())
             for t in TASKS}
    assert added == {t: 2 * 4 * 8 for t in TASKS}


def test_lite_ties_projections_and_task_streams_start_shared():
    model = _build(dict(type='VMTAdapterLite', bottleneck=4))
    plain = _build(dict(type='FullFineTuning'))
    names = [n for n, _ in model.backbone.named_parameters() if 'vmt_adapter.' in n]
    assert not any('.up.weight' in n for n in names) and any('up_bias' in n for n in names)
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    plain.eval()
    with torch.no_grad():
        feats = model.backbone(x, list(TASKS))
        ref = plain.backbone(x, list(TASKS))
    for t in TASKS[1:]:
        for a, b in zip(feats[t], feats[TASKS[0]]):
            torch.testing.assert_close(a, b, rtol=0, atol=0)  # gamma = 1, beta = 0
    assert not torch.allclose(feats['semseg'][0], ref['semseg'][0])  # not identity at init


def test_activation_checkpointing_gives_the_same_outputs():
    method = dict(type='VMTAdapter', bottleneck=4, task_blocks='all')
    runs, g = [], torch.Generator()
    for with_cp in (False, True):
        model = _randomise(_build(method, backbone=dict(TINY_BACKBONE, with_cp=with_cp)))
        model.train()
        feats = model.backbone(torch.randn(1, 3, 32, 32, generator=g.manual_seed(0)),
                               list(TASKS))
        sum(f.square().mean() for fs in feats.values() for f in fs).backward()
        runs.append(({t: [f.detach() for f in fs] for t, fs in feats.items()},
                     {n: p.grad for n, p in model.named_parameters() if p.grad is not None}))
    (f0, g0), (f1, g1) = runs
    for t in TASKS:
        for a, b in zip(f0[t], f1[t]):
            torch.testing.assert_close(a, b)
    assert g0.keys() == g1.keys()
    for n in g0:
        torch.testing.assert_close(g0[n], g1[n])


def _swin_t(tasks, dataset, method):
    cfg = dict(type='MultiTaskModel', tasks=tasks, dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=method)
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


# Swin-T: 12 blocks of widths 96, 96, 192, 192, 384 x 6, 768, 768 (sum of widths 4,416);
# task modules in the last block of each stage (4 blocks) unless 'all'.
VMT_K32 = sum(2 * c * 32 + 32 + c for c in [96, 96, 192, 192] + [384] * 6 + [768, 768])
assert VMT_K32 == 2 * 32 * 4_416 + 12 * 32 + 4_416 == 287_424
LITE_K32 = 32 * 4_416 + 12 * 32 + 4_416
assert LITE_K32 == 146_112


@pytest.mark.parametrize('method,adapter,per_task', [
    (dict(type='VMTAdapter'), VMT_K32 + 4 * 4 * 2 * 32, 4 * 2 * 32),
    (dict(type='VMTAdapterLite', bottleneck=32), LITE_K32 + 4 * 4 * 2 * 32, 4 * 2 * 32),
    (dict(type='VMTAdapter', bottleneck=32, task_blocks='all', task_shift=False),
     VMT_K32 + 12 * 4 * 32, 12 * 32),
    # reduction 16: k = 6, 12, 24, 48; sum over blocks of 2 C k = C^2 / 8
    (dict(type='VMTAdapter', reduction=16),
     (2 * 96 ** 2 + 2 * 192 ** 2 + 6 * 384 ** 2 + 2 * 768 ** 2) // 8
     + (2 * 6 + 2 * 12 + 6 * 24 + 2 * 48) + 4_416 + 4 * 2 * (6 + 12 + 24 + 48),
     2 * (6 + 12 + 24 + 48)),
], ids=['vmt-k32', 'lite-k32', 'all-noshift', 'red16'])
def test_swin_t_pascal_counts(method, adapter, per_task):
    model = _swin_t(PASCAL, 'pascal-mt', method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == adapter + PASCAL_DECODERS
    assert counts['backbone_added'] == adapter and counts['backbone_original'] == 0
    added = {t: counts['per_task'][t] - sum(p.numel() for p in model.decoders[t].parameters())
             for t in PASCAL}
    assert added == {t: per_task for t in PASCAL}


def test_swin_t_published_convention_percentages():
    vmt = count_parameters(_swin_t(PASCAL, 'pascal-mt', dict(type='VMTAdapter')))
    lite = count_parameters(_swin_t(PASCAL, 'pascal-mt', dict(type='VMTAdapterLite')))
    assert vmt['trainable'] == 2_235_072 and lite['trainable'] == 2_093_760
    assert vmt['total'] - vmt['trainable'] == SWIN_T_BACKBONE  # the frozen backbone
    assert round(100 * vmt['backbone_added'] / SWIN_T_BACKBONE, 2) == 1.05
    assert round(100 * vmt['backbone_added'] / SWIN_T_OFFICIAL, 2) == 1.02
    assert round(100 * lite['backbone_added'] / SWIN_T_BACKBONE, 2) == 0.53
    nyud = _swin_t(NYUD, 'nyud-mt', dict(type='VMTAdapter'))
    assert count_parameters(nyud)['backbone_added'] == 288_448


@pytest.mark.parametrize('method,match', [
    (dict(type='VMTAdapter', bottleneck=0), 'bottleneck must be a positive integer'),
    (dict(type='VMTAdapter', bottleneck=64), 'bottleneck 64 gives a bottleneck of 64'),
    (dict(type='VMTAdapter', bottleneck=8, reduction=4), 'either VMT-Adapter bottleneck'),
    (dict(type='VMTAdapter', reduction=64), 'reduction 64 gives a bottleneck of 0'),
    (dict(type='VMTAdapter', reduction=1.5), 'reduction must be a positive integer'),
    (dict(type='VMTAdapter', scale=0), 'scale must be a positive number'),
    (dict(type='VMTAdapter', dropout=1.0), r'dropout must be in \[0, 1\)'),
    (dict(type='VMTAdapter', task_blocks='first'), "task_blocks must be one of"),
    (dict(type='VMTAdapterLite', adapter_input='pre'), 'adapter_input must be one of'),
    (dict(type='VMTAdapterLite', activation='tanh'), 'activation must be one of'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method)
