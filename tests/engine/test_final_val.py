"""tools/train.py --test skips a final validation that would only repeat the test."""
import os.path as osp

import pytest
from mmengine.config import Config

from mtbench.engine.runner_utils import final_val_duplicates_test

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SYNTHETIC = osp.join(REPO, 'configs/synthetic/lora-r4_swin-nano_synthetic-pascal-64.py')
PAPER = osp.join(REPO, 'configs/lora/lora-r4_swin-t_pascal-mt-448.py')


def test_synthetic_schedule_validates_once_on_the_test_split():
    assert final_val_duplicates_test(Config.fromfile(SYNTHETIC))


@pytest.mark.parametrize('change', [
    lambda c: c.train_cfg.update(val_interval=c.train_cfg.max_iters // 2),
    lambda c: c.default_hooks.checkpoint.update(save_best='multi_task/delta_m'),
    lambda c: c.test_dataloader.dataset.update(split='test'),
    lambda c: c.test_evaluator.update(delta_m_reference='ref.json'),
    lambda c: c.update(val_cfg=None),
])
def test_validation_is_kept_when_it_is_not_a_repeat(change):
    cfg = Config.fromfile(SYNTHETIC)
    cfg.test_dataloader = Config(cfg.test_dataloader.to_dict())  # no shared objects
    cfg.test_evaluator = Config(cfg.test_evaluator.to_dict())
    change(cfg)
    assert not final_val_duplicates_test(cfg)


def test_paper_recipe_validates_during_training():
    # Every 5 epochs with a best checkpoint: those validations are the point.
    assert not final_val_duplicates_test(Config.fromfile(PAPER))
