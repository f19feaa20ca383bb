"""A decoder group (one module for all tasks, ``multi_task = True``) plugs into the model."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')


class _SharedStemGroup(nn.Module):
    """Test decoder group: a shared 1x1 stem on the stride-4 map, then a 1x1 head per task."""

    multi_task = True

    def __init__(self, tasks, in_channels, out_channels, hidden=8):
        super().__init__()
        self.stem = nn.Conv2d(in_channels[0], hidden, 1)
        self.heads = nn.ModuleDict({t: nn.Conv2d(hidden, out_channels[t], 1) for t in tasks})

    def forward(self, feats):
        return {t: head(F.relu(self.stem(feats[t][0]))) for t, head in self.heads.items()}

    def task_of(self, name):
        return name.split('.')[1] if name.startswith('heads.') else None

    def num_params_formula(self):
        stem = self.stem.in_channels * self.stem.out_channels + self.stem.out_channels
        return stem + sum(h.in_channels * h.out_channels + h.out_channels
                          for h in self.heads.values())


@pytest.fixture(scope='module')
def group_type():
    name = '_SharedStemGroupForTests'
    MODELS.register_module(name=name, module=_SharedStemGroup, force=True)
    yield name
    MODELS._module_dict.pop(name, None)


@pytest.mark.parametrize('method', ['FullFineTuning', 'DecoderOnly'])
def test_decoder_group_builds_runs_and_is_counted(group_type, method):
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(
        TASKS, method=dict(type=method), decoder=dict(type=group_type, hidden=8)))
    assert model.decoder_group
    # nano Swin: stride-4 width 16 (tests/models/test_swin.py); outputs 21 / 1 / 3.
    c0 = model.backbone.out_channels[0]
    stem = c0 * 8 + 8
    heads = {'semseg': 8 * 21 + 21, 'saliency': 8 * 1 + 1, 'normals': 8 * 3 + 3}
    counts = count_parameters(model)
    assert counts['decoders'] == stem + sum(heads.values())
    assert counts['trainable'] == model.method.num_trainable(model)
    assert counts['per_task'] == heads  # the stem is shared
    assert counts['shared'] == counts['trainable'] - sum(heads.values())

    x = torch.randint(0, 256, (2, 3, 64, 64), dtype=torch.uint8)
    gt = {'semseg': torch.randint(0, 21, (2, 64, 64)),
          'saliency': torch.randint(0, 2, (2, 64, 64)),
          'normals': F.normalize(torch.randn(2, 3, 64, 64), dim=1)}
    data = model.data_preprocessor({'inputs': x, 'data_samples': {'img_id': ['a', 'b'],
                                                                  'gt': gt}}, True)
    losses = model(**data, mode='loss')
    sum(losses.values()).backward()
    assert model.decoders.stem.weight.grad is not None
    model.eval()
    with torch.no_grad():
        out = model(**data, mode='tensor')
    assert {t: tuple(o.shape) for t, o in out.items()} == {
        'semseg': (2, 21, 64, 64), 'saliency': (2, 1, 64, 64), 'normals': (2, 3, 64, 64)}
