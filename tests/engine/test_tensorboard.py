"""The TensorBoard switch: a tiny training writes losses, lr, per-task metrics and Δm to events.

The switch is the documented override ``visualizer.vis_backends.0.type=TensorboardVisBackend``
(README, ``docs/troubleshooting.md``), with ``default_hooks.logger.log_metric_by_epoch=False`` for
an iteration-based schedule (validation metrics against the iteration, not epoch 0); the event
file is read back with the ``tensorboard`` package (the optional ``tensorboard`` extra).
"""
import glob
import os.path as osp

import pytest

pytest.importorskip('tensorboard')

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py')
TENSORBOARD_SWITCH = ['visualizer.vis_backends.0.type=TensorboardVisBackend',
                      'default_hooks.logger.log_metric_by_epoch=False']


def test_tensorboard_switch_logs_train_and_val_scalars(synthetic_pascal, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from mtbench.engine.runner_utils import build_runner, load_config
    options = [*TENSORBOARD_SWITCH, 'model.pretrained=None', 'train_cfg.max_iters=2',
               'train_cfg.val_interval=2', 'default_hooks.logger.interval=1',
               'default_hooks.checkpoint.interval=2', 'train_dataloader.batch_size=2',
               'val_dataloader.batch_size=8',
               'val_evaluator.delta_m_reference=pascal-mt_swin-t_published']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={synthetic_pascal}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    runner = build_runner(load_config(CONFIG, options, work_dir=str(tmp_path)))
    runner.train()  # the logger hook closes the visualizer (flushes the events) after the run

    events = glob.glob(str(tmp_path / '*' / 'vis_data' / 'events.out.tfevents.*'))
    assert len(events) == 1, events
    accumulator = EventAccumulator(events[0])
    accumulator.Reload()
    tags = set(accumulator.Tags()['scalars'])
    train = {'loss', 'lr', 'grad_norm', 'loss_semseg', 'loss_human_parts', 'loss_saliency',
             'loss_normals'}
    val = {'semseg/mIoU', 'human_parts/mIoU', 'saliency/maxF', 'normals/mean',
           'multi_task/delta_m'}
    assert train <= tags and val <= tags, sorted(tags)
    assert [e.step for e in accumulator.Scalars('loss')] == [1, 2]
    delta_m = accumulator.Scalars('multi_task/delta_m')
    assert [e.step for e in delta_m] == [2]
    assert delta_m[0].value == pytest.approx(
        runner.message_hub.get_scalar('val/multi_task/delta_m').current(), rel=1e-6)
