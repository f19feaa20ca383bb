"""Crash and resume through the command line: SIGKILL, restart, same result bit for bit.

- ``tools/train.py`` killed right after its first checkpoint and restarted with ``--resume``
  ends with the weights, optimizer state and metrics of an uninterrupted run (CPU; the real
  nano config: random flips, shuffled data, drop path, a validation at the checkpoint).
- ``tools/run_suite.py`` killed (its whole process group) while its second entry trains, and
  started again, skips the finished entry, resumes the interrupted one and builds the same
  leaderboard as an uninterrupted suite (README.md byte for byte; the CSV too except the
  column of each run's measured peak memory).
- A kill during an atomic write (:mod:`mtbench.fileio`), also of a checkpoint written by
  mmengine after ``build_runner``, leaves the previous file intact.
"""
import csv
import io
import json
import os
import os.path as osp
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
FULL_FT = 'configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py'
SUITE_CONFIGS = ['configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py',
                 'configs/synthetic/bitfit_swin-nano_synthetic-pascal-64.py']
ENV = dict(os.environ, OMP_NUM_THREADS='1')  # two processes at a time share the two cores


def _data_options(data_root, batch_size):
    options = ['model.pretrained=None', f'train_dataloader.batch_size={batch_size}',
               'val_dataloader.batch_size=8', 'test_dataloader.batch_size=8']
    for split in ('train', 'val', 'test'):
        options += [f'{split}_dataloader.dataset.data_root={data_root}',
                    f'{split}_dataloader.num_workers=0',
                    f'{split}_dataloader.persistent_workers=False']
    return options


def _wait_for(predicate, proc, what, timeout=300.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if proc.poll() is not None:
            pytest.fail(f'the process ended (exit {proc.returncode}) before {what}')
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f'timed out waiting for {what}')
        time.sleep(0.02)


def _has_checkpoint(work_dir):
    last = osp.join(work_dir, 'last_checkpoint')
    if not osp.isfile(last):
        return False
    with open(last) as f:
        return osp.isfile(f.read().strip())


def _final_checkpoint(work_dir):
    with open(osp.join(work_dir, 'last_checkpoint')) as f:
        path = f.read().strip()
    return torch.load(path, map_location='cpu', weights_only=False)


def _assert_same_tensors(a, b, what):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and torch.equal(a, b), f'{what} differs'
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), f'{what}: keys differ'
        for key in a:
            _assert_same_tensors(a[key], b[key], f'{what}.{key}')
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), f'{what}: lengths differ'
        for i, (x, y) in enumerate(zip(a, b)):
            _assert_same_tensors(x, y, f'{what}[{i}]')
    else:
        assert a == b, f'{what}: {a!r} != {b!r}'


def test_train_killed_after_a_checkpoint_resumes_bit_identically(synthetic_pascal, tmp_path):
    options = [*_data_options(synthetic_pascal, 2), 'train_cfg.max_iters=6',
               'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2']
    full, part = str(tmp_path / 'uninterrupted'), str(tmp_path / 'killed')

    def train(work_dir, *extra):
        return [sys.executable, 'tools/train.py', FULL_FT, '--work-dir', work_dir, '--test',
                *extra, '--cfg-options', *options]

    with open(tmp_path / 'uninterrupted.log', 'w') as log:
        uninterrupted = subprocess.Popen(train(full), cwd=REPO, env=ENV, stdout=log,
                                         stderr=subprocess.STDOUT)
    with open(tmp_path / 'killed.log', 'w') as log:
        victim = subprocess.Popen(train(part), cwd=REPO, env=ENV, stdout=log,
                                  stderr=subprocess.STDOUT)
    _wait_for(lambda: _has_checkpoint(part), victim, 'the first checkpoint')
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    with open(osp.join(part, 'last_checkpoint')) as f:
        killed_at = f.read().strip()
    assert not osp.exists(osp.join(part, 'result.json')), 'the run ended before the kill'
    assert not killed_at.endswith('iter_6.pth'), 'killed after the last checkpoint'

    resumed = subprocess.run(train(part, '--resume'), cwd=REPO, env=ENV, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    assert f'Auto resumed from the latest checkpoint {killed_at}' in resumed.stdout
    assert uninterrupted.wait(timeout=600) == 0, \
        (tmp_path / 'uninterrupted.log').read_text()[-3000:]

    expected, got = _final_checkpoint(full), _final_checkpoint(part)
    assert got['meta']['iter'] == expected['meta']['iter'] == 6
    _assert_same_tensors(got['state_dict'], expected['state_dict'], 'state_dict')
    _assert_same_tensors(got['optimizer'], expected['optimizer'], 'optimizer')
    records = []
    for work_dir in (full, part):
        with open(osp.join(work_dir, 'result.json')) as f:
            records.append(json.load(f))
    assert records[1]['metrics'] == records[0]['metrics']


def _write_suite(path, data_root, work_root, board_root):
    options = [*_data_options(data_root, 2), 'model.backbone.drop_path_rate=0.0',
               'train_cfg.max_iters=4', 'train_cfg.val_interval=4',
               'default_hooks.checkpoint.interval=2']
    path.write_text(textwrap.dedent(f'''\
        suite = dict(
            name='mini', prepare=None, seeds=[0],
            work_root='{work_root}',
            configs={SUITE_CONFIGS!r},
            cfg_options={options!r},
            leaderboard=dict(results='{board_root / 'results'}', out='{board_root / 'board'}'),
        )
        '''))
    return str(path)


def _run_suite_cli(suite, log_path, **kwargs):
    with open(log_path, 'w') as log:
        return subprocess.Popen([sys.executable, 'tools/run_suite.py', suite], cwd=REPO,
                                env=ENV, stdout=log, stderr=subprocess.STDOUT, **kwargs)


def _finish(proc, log_path):
    proc.wait(timeout=600)
    log = open(log_path).read()
    assert proc.returncode == 0, log[-3000:]
    return log


def _board(board_root):
    """The leaderboard's text files, without the one measured column.

    A record's ``peak_memory_mb`` is the peak RSS of the process that ran it, a measurement
    (two uninterrupted runs differ in it too); the CSV's ``run peak_memory_mb`` column shows
    it, the README does not.
    """
    files = {p.name: p.read_text() for p in sorted((board_root / 'board').iterdir())
             if p.is_file()}
    rows = list(csv.reader(io.StringIO(files['pascal-mt.csv'])))
    measured = rows[0].index('run peak_memory_mb')
    files['pascal-mt.csv'] = [row[:measured] + row[measured + 1:] for row in rows]
    return files


def test_suite_killed_mid_way_finishes_without_redoing_runs(synthetic_pascal, tmp_path):
    # The uninterrupted suite and the one to kill run side by side in their own work roots;
    # they build their leaderboards (the README names its results dir) in the same place, one
    # after the other (the killed suite never reaches that step).
    board_root = tmp_path / 'leaderboard'
    reference = _write_suite(tmp_path / 'reference.py', synthetic_pascal,
                             tmp_path / 'reference', board_root)
    suite = _write_suite(tmp_path / 'suite.py', synthetic_pascal, tmp_path / 'runs', board_root)
    work_dirs = [str(tmp_path / 'runs' / osp.splitext(osp.basename(c))[0] / 'seed0')
                 for c in SUITE_CONFIGS]

    uninterrupted = _run_suite_cli(reference, tmp_path / 'reference.log')
    victim = _run_suite_cli(suite, tmp_path / 'killed.log', start_new_session=True)  # own group
    _wait_for(lambda: _has_checkpoint(work_dirs[1]), victim, "the second entry's checkpoint")
    os.killpg(victim.pid, signal.SIGKILL)  # the runner and the training it started
    victim.wait()
    first_stamp = osp.join(work_dirs[0], 'suite_entry.json')
    assert osp.exists(first_stamp)
    assert not osp.exists(osp.join(work_dirs[1], 'result.json')), 'the suite ended too soon'
    done_before = {p: os.stat(p).st_mtime_ns
                   for p in (first_stamp, osp.join(work_dirs[0], 'result.json'))}
    _finish(uninterrupted, tmp_path / 'reference.log')
    expected = _board(board_root)
    assert set(expected) == {'README.md', 'pascal-mt.csv'} and len(expected['pascal-mt.csv']) == 3
    shutil.rmtree(board_root)

    log = _finish(_run_suite_cli(suite, tmp_path / 'restarted.log'), tmp_path / 'restarted.log')
    assert f'[1/2] {SUITE_CONFIGS[0]} seed 0: up to date, skipped' in log
    assert f'[2/2] {SUITE_CONFIGS[1]} seed 0: resuming the interrupted run from' in log
    assert 'suite mini: 1/1 (100%)' in log
    assert 'suite mini: 1 ran, 1 skipped, 0 failed' in log
    assert {p: os.stat(p).st_mtime_ns for p in done_before} == done_before
    assert _board(board_root) == expected


# A process that stalls right before the rename of an atomic write, so it can be killed there.
_STALLED_WRITER = '''
import importlib.util, os, sys, time
spec = importlib.util.spec_from_file_location('fileio', {fileio!r})
fileio = importlib.util.module_from_spec(spec)
spec.loader.exec_module(fileio)
path = {path!r}

def stall(*args):
    print('stalled', flush=True)
    time.sleep(120)

{setup}
{write}
'''
_WRITES = {
    # fsync is the last step before the rename: the new content is complete in the temp file
    'write_bytes_atomic': ('os.fsync = stall', "fileio.write_bytes_atomic(path, b'new' * 400000)"),
    'write_json_atomic': ('os.fsync = stall',
                          "fileio.write_json_atomic(path, {'new': list(range(200000))})"),
    'torch_save_atomic': ('import torch; os.fsync = stall',
                          "fileio.torch_save_atomic({'w': torch.ones(300000)}, path)"),
    # a slow writer killed half-way through its payload
    'atomic_open': ('', "with fileio.atomic_open(path, 'wb') as f:\n"
                        "    f.write(b'half' * 300000); f.flush(); stall()\n"
                        "    f.write(b'rest')"),
}


def _kill_when_stalled(code):
    proc = subprocess.Popen([sys.executable, '-c', code], cwd=REPO, env=ENV,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    for line in proc.stdout:  # ends at EOF if the writer exits without stalling
        if line.strip() == 'stalled':
            break
        output.append(line)
    else:
        proc.wait()
        pytest.fail('the writer did not reach the stall point:\n' + ''.join(output)[-3000:])
    proc.send_signal(signal.SIGKILL)
    proc.wait()


@pytest.mark.parametrize('writer', sorted(_WRITES))
def test_kill_during_an_atomic_write_keeps_the_old_file(writer, tmp_path):
    target = tmp_path / 'record.json'
    target.write_bytes(b'{"old": true}\n')
    setup, write = _WRITES[writer]
    _kill_when_stalled(_STALLED_WRITER.format(
        fileio=osp.join(REPO, 'mtbench', 'fileio.py'), path=str(target), setup=setup,
        write=write))
    assert target.read_bytes() == b'{"old": true}\n'
    leftovers = [p for p in tmp_path.iterdir() if p != target]
    assert len(leftovers) == 1 and leftovers[0].name.startswith('.tmp-record.json-')
    assert leftovers[0].stat().st_size > 0  # the kill did interrupt a write in progress


def test_kill_during_a_runner_checkpoint_write_keeps_the_old_checkpoint(tmp_path):
    """After ``build_runner``, mmengine's checkpoint writes go through the atomic writer."""
    checkpoint = tmp_path / 'iter_2.pth'
    torch.save({'old': torch.zeros(3)}, checkpoint)
    old = checkpoint.read_bytes()
    code = textwrap.dedent(f'''
        import os, sys, time
        sys.path.insert(0, {REPO!r})
        from mmengine.fileio.backends.local_backend import LocalBackend
        from mmengine.runner.checkpoint import save_checkpoint
        from mtbench.engine.runner_utils import build_runner, load_config
        assert not getattr(LocalBackend.put, '_mtbench_atomic', False)
        cfg = load_config({FULL_FT!r}, ['model.pretrained=None'], work_dir={str(tmp_path)!r})
        runner = build_runner(cfg)
        assert LocalBackend.put._mtbench_atomic

        def stall(*args):
            print('stalled', flush=True)
            time.sleep(120)

        os.fsync = stall
        save_checkpoint({{'state_dict': runner.model.state_dict(), 'meta': {{}}}},
                        {str(checkpoint)!r})
        ''')
    _kill_when_stalled(code)
    assert checkpoint.read_bytes() == old
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.startswith('.tmp-')]
    assert len(leftovers) == 1 and leftovers[0].startswith('.tmp-iter_2.pth-')


def test_random_states_round_trip_through_a_safe_checkpoint(tmp_path):
    """What RandomStateHook stores loads with weights_only=True and restores every generator."""
    import random

    import numpy as np

    from mtbench.engine.checkpoint_safety import safe_torch_load
    from mtbench.engine.hooks.random_state_hook import (RNG_STATES_KEY, capture_rng_states,
                                                         restore_rng_states)

    def draw():
        return random.random(), np.random.rand(), np.random.randn(), torch.rand(3)

    np.random.randn()  # leaves a cached Gaussian in NumPy's state
    torch.save({RNG_STATES_KEY: capture_rng_states()}, tmp_path / 'c.pth')
    expected = draw()
    restore_rng_states(safe_torch_load(str(tmp_path / 'c.pth'))[RNG_STATES_KEY])
    got = draw()
    assert got[:3] == expected[:3] and torch.equal(got[3], expected[3])
