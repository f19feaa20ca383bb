"""One contract matrix for every registered fine-tuning method.

Adding a method = adding a row to CASES; every contract below then runs on it.
"""
import copy

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.registry import METHODS, MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
CASES = [
    ('full_ft', dict(type='FullFineTuning'), TASKS),
    ('single_task', dict(type='SingleTaskFineTuning'), ('semseg',)),
    ('decoder_only', dict(type='DecoderOnly'), TASKS),
    ('lora-qkv', dict(type='LoRA', rank=4), TASKS),
    ('lora-all', dict(type='LoRA', rank=2, alpha=4, targets=('qkv', 'proj', 'fc1', 'fc2')),
     TASKS),
    ('adapter', dict(type='BottleneckAdapter', reduction=4), TASKS),
    ('adapter-mlp', dict(type='BottleneckAdapter', reduction=8, positions=('mlp',)), TASKS),
    ('vpt-shallow', dict(type='VPT', num_prompts=3, deep=False), TASKS),
    ('vpt-deep', dict(type='VPT', num_prompts=2, deep=True), TASKS),
    ('bitfit', dict(type='BitFit'), TASKS),
    ('progressive', dict(type='ProgressiveTaskAdapters', ranks=2, grouping=[
        'shared', 'shared', [['semseg', 'saliency'], ['normals']], 'task']), TASKS),
    ('progressive-red', dict(type='ProgressiveTaskAdapters', ranks=[2, 2, 1, 1], scale=4.0,
                             dropout=0.1, targets=('qkv', 'reduction'),
                             grouping=[[['semseg', 'normals'], ['saliency']], 'task',
                                       'task', 'task']), TASKS),
    ('tadformer', dict(type='TADFormer', rank=4), TASKS),
    ('tadformer-static', dict(type='TADFormer', rank=2, filter='static', dropout=0.1,
                              stagewise_gating=False), TASKS),
    ('mtlora', dict(type='MTLoRA', rank=4, task_rank=2, dropout=0.1), TASKS),
    ('mtlora-plus', dict(type='MTLoRA', rank=[2, 2, 3, 2], downsampler_lora=True,
                         task_rank=dict(semseg=1, saliency=3, normals=2)), TASKS),
    ('mtlora-v2-inter', dict(type='MTLoRA', rank=2, task_rank=1, shared_mode='matrixv2',
                             intermediate_specialization=True, qkv_enabled=False), TASKS),
    ('mtlora-lora-only', dict(type='MTLoRA', rank=2, shared_mode='lora_only'), TASKS),
    # cases: compacter
    ('compacter', dict(type='Compacter', n=4, rank=1), TASKS),
    ('compacter-pp', dict(type='Compacter', n=2, rank=2, reduction=8, positions=('mlp',),
                          train_norms=False, zero_init_up=True), TASKS),
    ('compacter-stage-full', dict(type='Compacter', n=4, rank=None, rule_sharing='stage'),
     TASKS),
    ('compacter-layer', dict(type='Compacter', n=2, rank=3, rule_sharing='layer'), TASKS),
    ('low-rank-adapter', dict(type='BottleneckAdapter', reduction=4, weight_rank=1,
                              train_norms=True), TASKS),
    ('low-rank-adapter-mlp', dict(type='BottleneckAdapter', reduction=8, positions=('mlp',),
                                  weight_rank=2), TASKS),
    # cases: hypernetworks
    ('hyperformer', dict(type='Hyperformer', reduction=8, embed_dim=8, projector_hidden=8,
                         cond_dim=4), TASKS),
    ('hyperformer-stage-cln', dict(type='Hyperformer', reduction=16, sharing='stage',
                                   conditional_norm=True, positions=('mlp',), embed_dim=6,
                                   projector_hidden=8, cond_dim=4), TASKS),
    ('hyperformer-all', dict(type='Hyperformer', reduction=8, sharing='all', train_norms=False,
                             embed_dim=4, projector_hidden=6, cond_dim=3), TASKS),
    ('polyhistor', dict(type='Polyhistor', reduction=4, rank=2, embed_dim=4, projector_hidden=8,
                        cond_dim=4), TASKS),
    ('polyhistor-attn-norms', dict(type='Polyhistor', reduction=2, rank=3, positions=('attn',),
                                   train_norms=True, projector_norm=False, embed_dim=4,
                                   projector_hidden=6, cond_dim=4), TASKS),
    ('polyhistor-lite', dict(type='PolyhistorLite', reduction=4, rank=2, embed_dim=4,
                             projector_hidden=8, cond_dim=4), TASKS),
    # cases: shared-adapters-relbias
    ('relative-bias', dict(type='RelativeBiasTuning'), TASKS),
    ('vl-adapter', dict(type='VLAdapter', reduction=4), TASKS),
    ('vl-adapter-per-task', dict(type='VLAdapter', reduction=8, sharing='per_task',
                                 positions=('mlp',)), TASKS),
    ('vl-adapter-half-down', dict(type='VLAdapter', reduction=8, sharing='half_shared',
                                  positions=('attn',)), TASKS),
    ('vl-adapter-half-up', dict(type='VLAdapter', reduction=4, sharing='half_shared',
                                shared_half='up', train_norms=False), TASKS),
    ('lora-attn', dict(type='LoRA', rank=3, alpha=6, dropout=0.1, targets=('attn.qkv',)),
     TASKS),
    # cases: ditask
    ('ditask', dict(type='DiTASK', cells=4, task_cells=3), TASKS),
    ('ditask-value-compose', dict(type='DiTASK', cells=[3, 4, 2, 5], spectrum='value',
                                  combine='compose', basis='vertex', split_qkv=False,
                                  dropout=0.1, task_cells=dict(semseg=2, saliency=4, normals=3)),
     TASKS),
    ('ditask-joint-only', dict(type='DiTASK', cells=3, task_cells=None, targets=('qkv', 'fc2'),
                               trainable_pretrained=()), TASKS),
    # cases: vmt-tsbn
    ('vmt-adapter', dict(type='VMTAdapter', bottleneck=4), TASKS),
    ('vmt-adapter-all', dict(type='VMTAdapter', reduction=8, scale=0.5, dropout=0.1,
                             task_blocks='all', task_shift=False, adapter_input='norm'),
     TASKS),
    ('vmt-adapter-lite', dict(type='VMTAdapterLite', bottleneck=2), TASKS),
    ('vmt-adapter-lite-all', dict(type='VMTAdapterLite', bottleneck=3, task_blocks='all',
                                  activation='gelu'), TASKS),
    ('tsbn', dict(type='TSBN'), TASKS),
    ('tssigmabn', dict(type='TSBN', sigma=True), TASKS),
    ('tsbn-late-blocks', dict(type='TSBN', sites=('norm1', 'norm2'), start_stage=2), TASKS),
    ('tssigmabn-merge-split', dict(type='TSBN', sigma=True, sites=('downsample',),
                                   start_stage=1, gate_scale=4.0), TASKS),
    ('tsbn-train-backbone', dict(type='TSBN', train_backbone=True), TASKS),
    ('tssigmabn-train-backbone', dict(type='TSBN', sigma=True, train_backbone=True), TASKS),
    # cases: faar
    ('faar', dict(type='FAAR', rank=4, task_rank=2), TASKS),
    ('faar-nopdrs', dict(type='FAAR', rank=3, pdrs=False, dropout=0.1, trainable=(),
                         task_base_input='task'), TASKS),
    ('faar-shared-only', dict(type='FAAR', rank=2, task_sites=(), masked_scores='skip',
                              trainable=('reductions', 'norms')), TASKS),
    ('faar-task-only', dict(type='FAAR', rank=2, task_rank=3, task_scale=2.0,
                            shared_in_task_blocks=False, sites=('qkv',), detach_norm=False),
     TASKS),
    # cases: sinewich
    ('sinewich', dict(type='FreeSinewich', rank=4), TASKS),
    ('sinewich-ablations', dict(type='FreeSinewich', rank=2, sine=False, clock_net=False,
                                low_pass=False, mid_kernel=False, token_prompts=False,
                                dropout=0.1), TASKS),
    ('sinewich-independent', dict(type='FreeSinewich', rank=3, shared_base=False,
                                  task_sites=('fc1',), train_norms=True, low_pass_kernel=3,
                                  low_pass_sigma=0.5, freq_init=20.0), TASKS),
    ('sinewich-proj-fc2', dict(type='FreeSinewich', rank=2, task_sites=('proj', 'fc2'),
                               clock_net=False, gain=0.5), TASKS),
]
IDS = [c[0] for c in CASES]


def _build(method, tasks, seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=copy.deepcopy(method)))


def _batch(tasks, b=2, size=64):
    g = torch.Generator().manual_seed(1)
    gt = {}
    for t in tasks:
        if t == 'semseg':
            gt[t] = torch.randint(0, 21, (b, size, size), generator=g)
        elif t == 'saliency':
            gt[t] = torch.randint(0, 2, (b, size, size), generator=g)
        elif t == 'normals':
            gt[t] = torch.nn.functional.normalize(torch.randn(b, 3, size, size, generator=g),
                                                  dim=1)
    return {'inputs': torch.randint(0, 256, (b, 3, size, size), generator=g, dtype=torch.uint8),
            'data_samples': {'img_id': [str(i) for i in range(b)], 'gt': gt}}


def _step(model, tasks):
    data = model.data_preprocessor(_batch(tasks), True)
    model.train()
    loss = sum(model(**data, mode='loss').values())
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=1e-2, weight_decay=0.05)
    opt.zero_grad()
    loss.backward()
    return opt, data


def _predict(model, data):
    model.eval()
    with torch.no_grad():
        return model(**data, mode='tensor')


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_build_and_forward_modes(case):
    _, method, tasks = case
    model = _build(method, tasks)
    data = model.data_preprocessor(_batch(tasks), True)
    losses = model(**data, mode='loss')
    assert set(losses) == {f'loss_{t}' for t in tasks}
    model.eval()
    with torch.no_grad():
        preds = model(**data, mode='predict')
    assert len(preds) == 2 and set(preds[0]['pred']) == set(tasks)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_gradients_only_for_trainable_and_frozen_unchanged(case):
    _, method, tasks = case
    model = _build(method, tasks)
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if not p.requires_grad}
    opt, _ = _step(model, tasks)
    for name, param in model.named_parameters():
        if not param.requires_grad:
            assert param.grad is None, f'frozen {name} received a gradient'
    trainable_with_grad = [n for n, p in model.named_parameters()
                           if p.requires_grad and p.grad is not None]
    assert trainable_with_grad, 'no trainable parameter received a gradient'
    opt.step()
    for name, param in model.named_parameters():
        if name in frozen:
            assert torch.equal(param, frozen[name]), f'frozen {name} changed'


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_parameter_count_closed_form(case):
    _, method, tasks = case
    model = _build(method, tasks)
    counts = count_parameters(model)
    by_flag = sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert counts['trainable'] == by_flag == model.method.num_trainable(model)
    assert counts['trainable'] == (counts['backbone_added'] + counts['backbone_original']
                                   + counts['decoders'])
    assert counts['trainable'] == counts['shared'] + sum(counts['per_task'].values())
    prefix = model.method.param_prefix
    added = sum(p.numel() for n, p in model.backbone.named_parameters()
                if prefix and prefix in n)
    assert counts['backbone_added'] == added


@pytest.mark.parametrize('case', [c for c in CASES
                                  if getattr(METHODS.get(c[1]['type']), 'identity_at_init',
                                             False)], ids=lambda c: c[0])
def test_identity_at_init(case):
    _, method, tasks = case
    plain = _build(dict(type='FullFineTuning'), tasks)
    adapted = _build(method, tasks)
    x = torch.randn(2, 3, 64, 64)
    plain.eval()
    adapted.eval()
    with torch.no_grad():
        ref = plain.backbone(x, list(tasks))
        out = adapted.backbone(x, list(tasks))
    for t in tasks:
        for a, b in zip(out[t], ref[t]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('case', [c for c in CASES
                                  if METHODS.get(c[1]['type']).supports_merge],
                         ids=lambda c: c[0])
def test_merge_equals_unmerged(case):
    _, method, tasks = case
    model = _build(method, tasks)
    opt, data = _step(model, tasks)
    opt.step()
    before = _predict(model, data)
    model.method.merge(model)
    merged = _predict(model, data)
    model.method.unmerge(model)
    after = _predict(model, data)
    for t in tasks:
        torch.testing.assert_close(merged[t], before[t], rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(after[t], before[t], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('case', CASES, ids=IDS)
def test_trainable_state_round_trip(case, tmp_path):
    _, method, tasks = case
    model = _build(method, tasks)
    opt, data = _step(model, tasks)
    opt.step()
    state = model.method.trainable_state_dict(model)
    path = tmp_path / 'trainable.pth'
    torch.save(state, path)
    fresh = _build(method, tasks, seed=0)  # the same "pretrained" weights, fresh method params
    fresh.method.load_trainable_state_dict(fresh, torch.load(path, weights_only=True))
    expected, got = _predict(model, data), _predict(fresh, data)
    for t in tasks:
        torch.testing.assert_close(got[t], expected[t], rtol=0, atol=0)


@pytest.mark.parametrize('method,match', [
    (dict(type='LoRA', rank=0), 'rank'),
    (dict(type='LoRA', rank=10_000), 'rank'),
    (dict(type='LoRA', rank=2, targets=('qvk',)), "'qvk' matches no Linear"),
    (dict(type='BottleneckAdapter', reduction=0), 'reduction'),
    (dict(type='BottleneckAdapter', positions=('ffn',)), 'positions'),
    (dict(type='VPT', num_prompts=0), 'num_prompts'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _build(method, TASKS)


def test_every_registered_method_has_a_case():
    covered = {c[1]['type'] for c in CASES}
    missing = sorted(set(METHODS.module_dict) - covered)
    assert not missing, f'registered methods without a contract case: {missing}'
