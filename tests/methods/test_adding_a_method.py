"""docs/adding_a_method.md stays true: its tutorial method builds and obeys the contracts."""
import os.path as osp
import re

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.registry import METHODS, MODELS, build_or_explain

DOC = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'docs',
               'adding_a_method.md')


@pytest.fixture(scope='module')
def tutorial_method():
    with open(DOC) as f:
        blocks = re.findall(r'```python\n(.*?)```', f.read(), flags=re.S)
    namespace = {}
    if METHODS.get('RelativeBiasTuning') is None:
        exec(compile(blocks[0], DOC, 'exec'), namespace)
    yield METHODS.get('RelativeBiasTuning')
    METHODS._module_dict.pop('RelativeBiasTuning', None)


def test_tutorial_method_obeys_the_contract(tutorial_method):
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(method=dict(type='RelativeBiasTuning')))
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    tables = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert tables and all(n.endswith('relative_position_bias_table') for n in tables)
    assert counts['backbone_original'] == sum(
        p.numel() for n, p in model.backbone.named_parameters() if n in tables)
    data = model.data_preprocessor({
        'inputs': torch.randint(0, 255, (2, 3, 64, 64), dtype=torch.uint8),
        'data_samples': {'img_id': ['a', 'b'], 'gt': {
            'semseg': torch.randint(0, 21, (2, 64, 64)),
            'human_parts': torch.randint(0, 7, (2, 64, 64)),
            'saliency': torch.randint(0, 2, (2, 64, 64)),
            'normals': torch.nn.functional.normalize(torch.randn(2, 3, 64, 64), dim=1)}}}, True)
    sum(model(**data, mode='loss').values()).backward()
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)
