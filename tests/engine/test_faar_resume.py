"""FAAR's rank shrinking through the mmengine Runner: a run stopped after a shrink and resumed ends
with exactly the weights (and ranks, importance, optimiser state) of an uninterrupted run; the
run's record reports the trainable count at the start and at the end."""
import json
import os.path as osp

import torch
from mmengine.runner import Runner
from runner_cfg import REPO, small_runner_cfg

import mtbench.engine  # noqa: F401  (safe checkpoint loading)
from mtbench.leaderboard.records import validate_record

FAAR = osp.join(REPO, 'configs/synthetic/faar-r8-cov95_swin-nano_synthetic-pascal-64.py')


def _cfg(data_root, work_dir, epochs):
    cfg = small_runner_cfg(data_root, work_dir, epochs, config=FAAR)
    cfg.model.method.dropout = 0.0  # mmengine does not restore the torch RNG on resume
    cfg.model.method.coverage = 0.8  # shrink visibly within a few steps
    return cfg


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner, {k: v.clone() if torch.is_tensor(v) else v
                    for k, v in runner.model.state_dict().items()}


def test_shrinking_resumes_exactly_and_is_recorded(synthetic_pascal, tmp_path):
    full, full_state = _train(_cfg(synthetic_pascal, str(tmp_path / 'full'), 3))
    method, model = full.model.method, full.model
    assert method.is_shrunk(model)
    start, end = method.num_trainable_at_init(model), method.num_trainable(model)
    assert end < start
    hub = full.message_hub
    assert hub.get_info('trainable_at_start') == start
    assert hub.get_info('param_count_end')['trainable'] == end
    ranks = method.current_ranks(model)

    part, _ = _train(_cfg(synthetic_pascal, str(tmp_path / 'part'), 2))
    ranks_mid = part.model.method.current_ranks(part.model)
    assert any(ranks_mid[k] > ranks[k] for k in ranks)  # the third epoch shrinks further
    checkpoint = torch.load(tmp_path / 'part' / 'epoch_2.pth', map_location='cpu',
                            weights_only=False)
    opt_state = checkpoint['optimizer']['state']
    shapes = {tuple(v.shape) for s in opt_state.values() for k, v in s.items() if k == 'exp_avg'}
    key = next(k for k in checkpoint['state_dict'] if k.endswith('dora_shared.A'))
    assert checkpoint['state_dict'][key].shape[0] == ranks_mid[
        key[len('backbone.'):].rsplit('.dora_shared', 1)[0] + ':shared']
    assert tuple(checkpoint['state_dict'][key].shape) in shapes

    cfg = _cfg(synthetic_pascal, str(tmp_path / 'part'), 3)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'part' / 'epoch_2.pth')
    resumed, resumed_state = _train(cfg)
    assert resumed.epoch == 3
    assert resumed.model.method.current_ranks(resumed.model) == ranks
    assert full_state.keys() == resumed_state.keys()
    for k, v in full_state.items():
        if torch.is_tensor(v):
            assert torch.equal(resumed_state[k], v), f'{k} differs after resume'
        else:
            assert resumed_state[k] == v, f'{k} differs after resume'

    full.test()
    with open(tmp_path / 'full' / 'result.json') as f:
        record = json.load(f)
    assert record['params']['trainable'] == end
    assert record['params']['trainable_at_start'] == start
    assert record['params']['trainable_at_end'] == end
    assert validate_record(record) == []
