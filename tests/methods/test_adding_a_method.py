"""docs/adding_a_method.md stays true: its code blocks are the repository's files and its
worked example (the registered relative-bias method) obeys the contracts."""
import os.path as osp
import re

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods import method_packages
from mtbench.registry import METHODS, MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DOC = osp.join(REPO, 'docs', 'adding_a_method.md')


def _read(*parts):
    with open(osp.join(REPO, *parts)) as f:
        return f.read()


@pytest.fixture(scope='module')
def blocks():
    return re.findall(r'```python\n(.*?)```', _read(DOC), flags=re.S)


def test_package_blocks_are_the_package_files(blocks):
    assert blocks[0] == _read('mtbench', 'methods', 'relative_bias', 'relative_bias.py')
    assert blocks[1] == _read('mtbench', 'methods', 'relative_bias', '__init__.py')
    assert 'relative_bias' in method_packages()  # imported by `import mtbench`, no import line


def test_contract_row_is_in_cases(blocks):
    row = next(b for b in blocks if b.startswith("('relative-bias'"))
    assert row.strip() in _read('tests', 'methods', 'test_contracts.py')


def test_config_block_is_the_config_file(blocks):
    config = next(b for b in blocks if b.startswith('_base_'))
    path = ('configs', 'relative_bias', 'relative-bias_swin-t_pascal-mt-448.py')
    body = ''.join(line for line in _read(*path).splitlines(keepends=True)
                   if not line.startswith('#'))
    assert config == body


def test_tutorial_method_obeys_the_contract():
    assert METHODS.get('RelativeBiasTuning').method_id == 'relative-bias'
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
