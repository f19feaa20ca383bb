"""Progressive task-specific adapters: the group tree, streams, accounting, grouping files."""
import copy
import json
import os.path as osp

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.model_builder import build_model_from_config
from mtbench.engine.params import count_parameters
from mtbench.methods.progressive import (GroupingError, GroupLoRALinear, load_grouping_file,
                                         normalize_grouping, save_grouping_file)
from mtbench.registry import MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TASKS = ('semseg', 'saliency', 'normals')
TREE = ['shared', 'shared', [['semseg', 'saliency'], ['normals']], 'task']
FULL_FT_SWIN_T_PASCAL = 29_464_442


def _build(tasks=TASKS, seed=0, **method):
    method = dict(type='ProgressiveTaskAdapters', **method)
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(tasks, method=copy.deepcopy(method)))


def _randomise_updates(model, seed=1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if 'tglora_B' in name:
                p.copy_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize('grouping,match', [
    (['shared'] * 3, 'one entry per backbone stage'),
    (['shared', 'shared', [['semseg', 'saliency'], ['depth']], 'task'], "unknown task 'depth'"),
    (['shared', 'shared', [['semseg', 'saliency'], ['saliency', 'normals']], 'task'],
     "'saliency' is in two groups"),
    (['shared', 'shared', [['semseg', 'saliency']], 'task'], r"tasks \['normals'\] are in no"),
    (['shared', 'shared', [['semseg', 'saliency', 'normals'], []], 'task'], 'group 1 is empty'),
    (['task', 'shared', 'shared', 'task'], 'stage 1: group .* spans several groups'),
    (['shared', [['semseg'], ['saliency', 'normals']], [['semseg', 'saliency'], ['normals']],
      'task'], 'never merge'),
    (['shared', 'everything', 'shared', 'task'], "'shared' or 'task'"),
])
def test_invalid_trees_are_clear_errors(grouping, match):
    with pytest.raises(GroupingError, match=match):
        normalize_grouping(grouping, TASKS, 4)
    with pytest.raises(GroupingError, match=match):
        _build(grouping=grouping)


@pytest.mark.parametrize('kwargs,match', [
    (dict(ranks=0), 'ranks'),
    (dict(ranks=[2, 2, 2]), 'one rank per backbone stage'),
    (dict(ranks=100), 'rank must be an integer'),
    (dict(targets=('qkv', 'fc3')), 'targets'),
    (dict(scale=2.0, alpha=4), 'scale or alpha'),
    (dict(grouping='shared', grouping_file='g.json'), 'grouping or grouping_file'),
    (dict(dropout=1.0), 'dropout'),
])
def test_bad_hyper_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _build(**kwargs)


def test_canonical_order_and_default_tree():
    grouping = normalize_grouping([[['normals', 'saliency', 'semseg']], 'shared',
                                   [['normals'], ['saliency', 'semseg']], 'task'], TASKS, 4)
    assert grouping[0] == [['semseg', 'saliency', 'normals']]
    assert grouping[2] == [['semseg', 'saliency'], ['normals']]
    default = normalize_grouping(None, TASKS, 4)
    assert default[:3] == [[list(TASKS)]] * 3 and default[3] == [[t] for t in TASKS]


def test_group_lora_linear_batches_groups_like_a_loop():
    torch.manual_seed(0)
    layer = GroupLoRALinear(torch.nn.Linear(8, 12), ['a', 'b', 'c'], rank=2, scale=3.0)
    with torch.no_grad():
        for p in layer.tglora_B.values():
            p.normal_()
    x = torch.randn(3 * 2, 5, 8)
    out = layer(x)
    for i, key in enumerate(['a', 'b', 'c']):
        xi = x[2 * i:2 * (i + 1)]
        ref = layer.base_layer(xi) + xi @ layer.delta_weight(key).T
        torch.testing.assert_close(out[2 * i:2 * (i + 1)], ref, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match='concatenated'):
        layer(torch.randn(4, 8))


def test_features_shared_within_groups_and_distinct_between():
    model = _build(ranks=2, grouping=TREE)
    _randomise_updates(model)
    model.eval()
    with torch.no_grad():
        feats = model.backbone(torch.randn(2, 3, 64, 64), list(TASKS))
    for s in (0, 1):  # one shared stream: the very same tensors for every task
        assert feats['semseg'][s] is feats['saliency'][s] is feats['normals'][s]
    assert feats['semseg'][2] is feats['saliency'][2]
    assert not torch.allclose(feats['semseg'][2], feats['normals'][2])
    assert not torch.allclose(feats['semseg'][3], feats['saliency'][3])
    assert not torch.allclose(feats['saliency'][3], feats['normals'][3])
    with pytest.raises(ValueError, match='no shared output'):
        model.backbone(torch.randn(1, 3, 64, 64))
    with pytest.raises(KeyError, match='depth'):
        model.backbone(torch.randn(1, 3, 64, 64), ['depth'])


def test_each_task_equals_the_plain_backbone_with_its_branch_merged():
    """Task t's features = the frozen Swin with the LoRA of t's group merged, stage by stage."""
    model = _build(ranks=[2, 3, 2, 1], grouping=TREE, scale=2.0,
                   targets=('qkv', 'proj', 'fc1', 'fc2', 'reduction'))
    _randomise_updates(model)
    torch.manual_seed(0)  # the same "pretrained" weights as the adapted model
    plain = build_or_explain(MODELS, tiny_model_cfg(TASKS))
    x = torch.randn(2, 3, 64, 64)
    model.eval()
    with torch.no_grad():
        feats = model.backbone(x, list(TASKS))
        for task in TASKS:
            reference = copy.deepcopy(plain.backbone)
            for name, module in model.backbone.named_modules():
                if isinstance(module, GroupLoRALinear):
                    key = next(k for k in module.groups if task in k.split('+'))
                    reference.get_submodule(name).weight += module.delta_weight(key)
            expected = reference.eval()(x, [task])[task]
            for got, want in zip(feats[task], expected):
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)


def test_accounting_per_task_and_shared():
    model = _build(ranks=2, grouping=TREE)
    counts = count_parameters(model)
    dims = model.backbone.stage_channels
    per_rank = [16 * c * d for c, d in zip(dims, model.backbone.depths)]  # qkv/proj/fc1/fc2
    decoders = {t: sum(p.numel() for p in model.decoders[t].parameters()) for t in TASKS}
    # stage 3 is task-specific; in stage 2 'normals' is a group of its own, so its branch
    # belongs to it while the {semseg, saliency} branch counts as shared.
    for task in TASKS:
        own = 2 * per_rank[3] + (2 * per_rank[2] if task == 'normals' else 0)
        assert counts['per_task'][task] == decoders[task] + own
    assert counts['shared'] == 2 * (per_rank[0] + per_rank[1] + per_rank[2])
    assert counts['backbone_added'] == model.method.num_trainable(model) - sum(decoders.values())
    assert model.method.task_of('layers.3.blocks.0.mlp.fc1.tglora_A.normals') == 'normals'
    assert model.method.task_of('layers.2.blocks.0.attn.qkv.tglora_B.semseg+saliency') is None
    assert model.method.shared_by_all_tasks(
        'layers.0.blocks.1.attn.qkv.tglora_B.semseg+saliency+normals')
    assert not model.method.shared_by_all_tasks('layers.2.blocks.0.mlp.fc2.tglora_A.normals')


@pytest.mark.parametrize('dataset', ['pascal', 'nyud'])
def test_swin_t_default_config_closed_form_and_budget(dataset):
    cfg = osp.join(REPO, f'configs/progressive/progressive_swin-t_{dataset}-mt-448.py')
    model = build_model_from_config(cfg, load_pretrained=False, device='meta')
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    assert counts['backbone_original'] == 0
    # The adapters cost as much as one shared rank-48 LoRA on qkv/proj/fc1/fc2 (70,656 / rank).
    assert counts['backbone_added'] == 48 * 70_656 == 3_391_488
    if dataset == 'pascal':
        assert counts['trainable'] == 5_338_112
        assert counts['trainable'] <= FULL_FT_SWIN_T_PASCAL / 5


def test_grouping_file_round_trip(tmp_path):
    path = str(tmp_path / 'grouping.json')
    grouping = normalize_grouping(TREE, TASKS, 4)
    save_grouping_file(path, grouping, TASKS, source='test')
    with open(path) as f:
        data = json.load(f)
    assert data['tasks'] == list(TASKS) and data['source'] == 'test'
    assert load_grouping_file(path, TASKS) == grouping
    model = _build(ranks=2, grouping_file=path)
    assert model.method.grouping == grouping
    assert count_parameters(model)['trainable'] == model.method.num_trainable(model)
    with pytest.raises(GroupingError, match='the model has'):
        load_grouping_file(path, ('semseg', 'depth', 'normals'))
    with pytest.raises(GroupingError, match='never merge'):
        save_grouping_file(path, [grouping[3], grouping[0], grouping[0], grouping[3]], TASKS)
