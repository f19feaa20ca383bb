"""tools/train.py, tools/test.py and tools/dist_train.sh end to end on a synthetic tree."""
import json
import os
import os.path as osp
import subprocess
import sys

import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py'


def _options(data_root, batch_size, iters=4):
    return [
        'model.pretrained=None', 'model.backbone.drop_path_rate=0.0',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'train_dataloader.batch_size={batch_size}', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.num_workers=0', 'val_dataloader.persistent_workers=False',
        'test_dataloader.num_workers=0', 'test_dataloader.persistent_workers=False',
        'val_dataloader.batch_size=4', 'test_dataloader.batch_size=4',
        'train_dataloader.sampler.shuffle=False',
        'train_dataloader.dataset.pipeline.0.prob=0.0',
        f'train_cfg.max_iters={iters}', f'train_cfg.val_interval={iters}',
        f'default_hooks.checkpoint.interval={iters}',
        'optim_wrapper.optimizer.lr=1e-4', 'default_hooks.logger.interval=1',
    ]


def _run(cmd, env=None):
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


def _state(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    return path, torch.load(path, map_location='cpu', weights_only=False)['state_dict']


def test_train_then_test_writes_a_record(synthetic_pascal, tmp_path):
    work = str(tmp_path / 'single')
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', work, '--cfg-options',
          *_options(synthetic_pascal, 4)])
    ckpt, _ = _state(work)
    _run([sys.executable, 'tools/test.py', CONFIG, ckpt, '--work-dir', work, '--cfg-options',
          *_options(synthetic_pascal, 4)])
    with open(osp.join(work, 'result.json')) as f:
        record = json.load(f)
    assert record['schema_version'] == 1
    assert record['method'] == 'full_ft'
    assert record['tasks'] == ['semseg', 'human_parts', 'saliency', 'normals']
    assert set(record['metrics']) == set(record['tasks'])
    assert record['params']['trainable'] == record['params']['total']
    assert record['dataset']['num_images'] == 8
    assert record['dataset']['checksum'].startswith('sha256:')
    assert record['train_wall_time_s'] > 0
    from mtbench.leaderboard import validate_record
    assert validate_record(record) == []
    assert record['params']['trainable'] == 2_504_606  # nano Swin + 4 decoders, closed form

    # train.py --test: the same training, tested in the same process, gives the same record.
    again = str(tmp_path / 'train-and-test')
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', again, '--test',
          '--cfg-options', *_options(synthetic_pascal, 4)])
    with open(osp.join(again, 'result.json')) as f:
        same = json.load(f)
    assert same['metrics'] == record['metrics'] and same['params'] == record['params']


def _init_checkpoint(path):
    """Save one set of initial weights so both runs start from identical parameters."""
    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.engine.runner_utils import load_config
    torch.manual_seed(0)
    model = build_model_from_config(load_config(osp.join(REPO, CONFIG), ['model.pretrained=None']))
    state = model.state_dict()
    torch.save({'state_dict': state}, path)
    return state


def test_dist_train_two_processes_matches_one_process(synthetic_pascal, tmp_path):
    """2 gloo processes x batch 1 take the same steps as 1 process accumulating 2 x batch 1.

    With one image per process the decoders' BatchNorm statistics and the per-image loss
    normalisation are the same in both runs, so DDP's all-reduced gradient must equal the
    single process's accumulated gradient and the weights must agree to float tolerance.
    """
    one, two = str(tmp_path / 'one'), str(tmp_path / 'two')
    init_path = str(tmp_path / 'init.pth')
    init = _init_checkpoint(init_path)
    # Adam with a huge eps makes each update proportional to the gradient, so float rounding in
    # the all-reduce is not amplified by Adam's normalisation of near-zero gradient entries.
    common = [f'load_from={init_path}', 'param_scheduler.0.start_factor=1.0',
              'optim_wrapper.optimizer.eps=1000.0', 'optim_wrapper.optimizer.lr=1.0',
              'optim_wrapper.optimizer.weight_decay=0.0']
    opts1 = _options(synthetic_pascal, 1, iters=4) + common + [
        'optim_wrapper.accumulative_counts=2']
    opts2 = _options(synthetic_pascal, 1, iters=2) + common
    _run([sys.executable, 'tools/train.py', CONFIG, '--work-dir', one, '--cfg-options', *opts1])
    env = dict(os.environ, PYTHON=sys.executable, PORT='29517', OMP_NUM_THREADS='1')
    _run(['bash', 'tools/dist_train.sh', CONFIG, '2', '--work-dir', two, '--cfg-options',
          *opts2], env=env)
    _, s1 = _state(one)
    _, s2 = _state(two)
    assert s1.keys() == s2.keys()
    # Parameters only: BatchNorm running statistics are per process under DDP (rank 0 saw
    # images 0 and 2, the single process all four), which is expected.
    keys = [k for k in s1 if s1[k].is_floating_point() and 'running_' not in k]
    u1 = torch.cat([(s1[k] - init[k]).flatten() for k in keys])
    u2 = torch.cat([(s2[k] - init[k]).flatten() for k in keys])
    assert u1.norm() > 0
    rel = ((u1 - u2).norm() / u1.norm()).item()
    assert rel < 1e-3, f'2-process updates differ from 1-process updates by {rel:.2e}'
