"""leaderboard/published/param_counts.json: every count is the count of the config it names,
and every method row of the field's standard PASCAL-Context table names a config that runs it."""
import os.path as osp

import pytest

from mtbench.engine.model_builder import build_model_from_config
from mtbench.engine.params import count_parameters
from mtbench.engine.runner_utils import load_config
from mtbench.leaderboard.published import audit_published, load_param_counts, load_published

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PUBLISHED = osp.join(REPO, 'leaderboard', 'published')
COUNTS = load_param_counts(osp.join(PUBLISHED, 'param_counts.json'))
# The rows that need no PEFT config: the single-task and full fine-tuning baselines, and
# third-party reproductions of a row that is already there.
NOT_A_METHOD_ROW = ('Single-task full fine-tuning', 'MTL full fine-tuning')


def _id(entry):
    return f"{entry['method']} {entry['variant_regex']}".strip()


@pytest.mark.parametrize('entry', COUNTS, ids=_id)
def test_count_is_the_count_of_its_config(entry):
    assert entry.get('config'), f'{_id(entry)} names no mtbench config'
    path = osp.join(REPO, entry['config'])
    assert osp.isfile(path), f"{_id(entry)}: {entry['config']} does not exist"
    cfg = load_config(path, [])
    model = build_model_from_config(cfg, load_pretrained=False, device='meta')
    counts = count_parameters(model)
    trainable = counts['trainable']
    if entry.get('decoders_excluded'):
        trainable -= counts['decoders']
    assert trainable == entry['trainable']


def test_every_standard_table_row_names_a_config():
    rows = [r for r in load_published(osp.join(PUBLISHED, 'pascal-mt.csv'))
            if r['paper'] in ('MTLoRA', 'Polyhistor') and r['method'] not in NOT_A_METHOD_ROW
            and 'reproduction' not in r['method']]
    assert rows
    audited = audit_published(rows, COUNTS)
    missing = [f"{r.raw['paper']}: {r.method} ({r.raw['variant']})" for r in audited
               if not r.config_mtbench]
    assert not missing, f'standard-table rows without an mtbench config: {missing}'
