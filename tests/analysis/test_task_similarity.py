"""Task similarity from loss gradients and the grouping it produces."""
import importlib.util
import itertools
import json
import os.path as osp

import numpy as np
import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.analysis.task_similarity import (estimate_similarity, gradient_similarity,
                                              group_tasks, select_shared_parameters)
from mtbench.methods.progressive import load_grouping_file, normalize_grouping
from mtbench.registry import MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TASKS = ('semseg', 'saliency', 'normals')


def test_similarity_formula_on_hand_made_gradients():
    g = torch.tensor([3.0, 4.0])                     # ||g|| = 5
    assert gradient_similarity(g, g) == pytest.approx(1.0)
    assert gradient_similarity(g, -g) == pytest.approx(-1.0)
    assert gradient_similarity(g, torch.tensor([-4.0, 3.0])) == pytest.approx(0.0)
    # Same direction, norms 5 and 10: 4 * 50 / 15^2 = 8/9; the cosine ignores the norms.
    assert gradient_similarity(g, 2 * g) == pytest.approx(8 / 9)
    assert gradient_similarity(g, 2 * g, 'cosine') == pytest.approx(1.0)
    # <g, h> = 3, ||h|| = 1: rescaled 4 * 3 / 36 = 1/3; cosine 3 / 5.
    h = torch.tensor([1.0, 0.0])
    assert gradient_similarity(g, h) == pytest.approx(1 / 3)
    assert gradient_similarity(g, h, 'cosine') == pytest.approx(0.6)
    assert gradient_similarity(g, torch.zeros(2)) == 0.0
    with pytest.raises(ValueError, match='formula'):
        gradient_similarity(g, h, 'dot')


def test_grouping_from_a_hand_made_similarity():
    tasks = ['a', 'b', 'c', 'd']
    sim = np.array([[1.0, 0.9, 0.1, 0.0],
                    [0.9, 1.0, 0.2, 0.1],
                    [0.1, 0.2, 1.0, 0.6],
                    [0.0, 0.1, 0.6, 1.0]])
    grouping = group_tasks(sim, tasks, [1, 1, 2, 4])
    assert grouping == [[tasks], [tasks], [['a', 'b'], ['c', 'd']], [[t] for t in tasks]]
    assert group_tasks(sim, tasks, [1, 2, 3, 3])[2] == [['a', 'b'], ['c'], ['d']]
    assert normalize_grouping(grouping, tasks, 4) == grouping
    with pytest.raises(ValueError, match='non-decreasing'):
        group_tasks(sim, tasks, [1, 2, 1, 4])
    with pytest.raises(ValueError, match='non-decreasing'):
        group_tasks(sim, tasks, [1, 1, 2, 5])


def _batches(tasks, b=2, size=64):
    g = torch.Generator().manual_seed(1)
    while True:
        gt = {'semseg': torch.randint(0, 21, (b, size, size), generator=g),
              'saliency': torch.randint(0, 2, (b, size, size), generator=g),
              'normals': torch.nn.functional.normalize(
                  torch.randn(b, 3, size, size, generator=g), dim=1)}
        yield {'inputs': torch.randint(0, 256, (b, 3, size, size), generator=g,
                                       dtype=torch.uint8),
               'data_samples': {'img_id': [str(i) for i in range(b)],
                                'gt': {t: gt[t] for t in tasks}}}


@pytest.mark.parametrize('method,expected', [
    (dict(type='LoRA', rank=2), 'lora_'),
    (dict(type='ProgressiveTaskAdapters', ranks=2,
          grouping=['shared', 'shared', [['semseg', 'saliency'], ['normals']], 'task']),
     'tglora_'),
    (dict(type='FullFineTuning'), 'layers.3.blocks.'),
])
def test_shared_parameters_and_shifted_pairing(method, expected):
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(TASKS, method=method))
    theta = select_shared_parameters(model)
    assert theta and all(expected in n for n in theta)
    if method['type'] == 'ProgressiveTaskAdapters':  # only the trunk (stages 0 and 1)
        assert {n.split('.')[1] for n in theta} == {'0', '1'}
        assert all(n.endswith('semseg+saliency+normals') for n in theta)
    flags = {n: p.requires_grad for n, p in model.named_parameters()}
    sim = estimate_similarity(model, _batches(TASKS), 2, theta, pairing='shifted')
    assert sim.shape == (3, 3) and np.allclose(sim, sim.T) and np.all(np.abs(sim) <= 1 + 1e-9)
    assert flags == {n: p.requires_grad for n, p in model.named_parameters()}


def _cli():
    spec = importlib.util.spec_from_file_location(
        'task_similarity_cli', osp.join(REPO, 'tools/analysis/task_similarity.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_cli_pipeline_on_a_synthetic_tree(synthetic_pascal, tmp_path, capsys):
    out = str(tmp_path / 'similarity')
    _cli().main([
        osp.join(REPO, 'configs/synthetic/progressive_swin-nano_synthetic-pascal-64.py'),
        '--steps', '1', '--batches', '1', '--no-pretrained', '--device', 'cpu', '--out', out,
        '--cfg-options', f'train_dataloader.dataset.data_root={synthetic_pascal}',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'model.backbone.drop_path_rate=0.0'])
    assert 'stage 3: semseg | human_parts | saliency | normals' in capsys.readouterr().out
    paths = {k: osp.join(out, f) for k, f in (('similarity', 'similarity.json'),
                                              ('grouping', 'grouping.json'),
                                              ('heatmap', 'similarity.png'))}
    with open(paths['similarity']) as f:
        info = json.load(f)
    sim = np.array(info['similarity'])
    tasks = info['tasks']
    assert tasks == ['semseg', 'human_parts', 'saliency', 'normals']
    assert np.allclose(sim, sim.T)
    assert np.allclose(np.diag(sim), 1.0, atol=1e-6)  # 'same' pairing: S(g, g) = 1
    assert np.all(np.abs(sim) <= 1 + 1e-9)
    assert info['params']['numel'] == 8 * 1024 + 8 * 2048 + 4 * 4096 + 2 * 8192  # all shared
    grouping = load_grouping_file(paths['grouping'], tasks)
    assert [len(stage) for stage in grouping] == [1, 1, 2, 4]
    assert normalize_grouping(grouping, tasks, 4) == grouping
    assert osp.getsize(paths['heatmap']) > 0
    # The method consumes the file directly.
    model = build_or_explain(MODELS, tiny_model_cfg(tasks, method=dict(
        type='ProgressiveTaskAdapters', ranks=2, grouping_file=paths['grouping'])))
    assert model.method.grouping == grouping
    assert all(len(list(itertools.chain(*stage))) == 4 for stage in grouping)
