"""Resume on torch >= 2.6: 2 epochs + resume to 3 equals an uninterrupted 3-epoch run."""
import os.path as osp

import torch
from mmengine.runner import Runner
from runner_cfg import small_runner_cfg

import mtbench.engine  # noqa: F401  (safe checkpoint loading)


def _train(cfg):
    runner = Runner.from_cfg(cfg)
    runner.train()
    metrics = runner.message_hub.get_info('mtbench_last_val_metrics')
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    return runner, state, metrics


def test_resume_matches_uninterrupted_run(synthetic_pascal, tmp_path):
    _, full_state, _ = _train(small_runner_cfg(synthetic_pascal, str(tmp_path / 'full'), 3))
    full_val = Runner.from_cfg(small_runner_cfg(synthetic_pascal, str(tmp_path / 'full'), 3))
    full_val.load_checkpoint(str(tmp_path / 'full' / 'epoch_3.pth'))
    metrics_full = full_val.val_loop.run()

    _train(small_runner_cfg(synthetic_pascal, str(tmp_path / 'part'), 2))
    assert osp.exists(tmp_path / 'part' / 'epoch_2.pth')
    cfg = small_runner_cfg(synthetic_pascal, str(tmp_path / 'part'), 3)
    cfg.resume = True
    cfg.load_from = str(tmp_path / 'part' / 'epoch_2.pth')
    runner, resumed_state, _ = _train(cfg)
    assert runner.epoch == 3
    assert full_state.keys() == resumed_state.keys()
    for key in full_state:
        torch.testing.assert_close(resumed_state[key], full_state[key], rtol=0, atol=0,
                                   msg=f'{key} differs after resume')
    metrics_resumed = runner.val_loop.run()
    assert metrics_resumed == metrics_full
