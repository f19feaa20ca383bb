"""tools/run_suite.py: runs entries, survives a failing one, skips up-to-date ones, builds."""
import json
import os.path as osp

import pytest

from mtbench.engine.suite import plan_suite, run_suite

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _suite_file(tmp_path, data_root):
    options = [
        'model.pretrained=None', 'model.backbone.drop_path_rate=0.0',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=4', 'train_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False', 'val_dataloader.num_workers=0',
        'val_dataloader.persistent_workers=False', 'test_dataloader.num_workers=0',
        'test_dataloader.persistent_workers=False', 'val_dataloader.batch_size=8',
        'test_dataloader.batch_size=8', 'train_cfg.max_iters=2', 'train_cfg.val_interval=2',
        'default_hooks.checkpoint.interval=2',
    ]
    path = tmp_path / 'suite.py'
    path.write_text(
        'suite = dict(\n'
        "    name='mini', prepare=None, seeds=[0],\n"
        f"    work_root='{tmp_path / 'runs'}',\n"
        "    configs=['configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py',\n"
        "             'configs/synthetic/bitfit_swin-nano_synthetic-pascal-64.py'],\n"
        f'    cfg_options={options!r},\n'
        f"    leaderboard=dict(results='{tmp_path / 'results'}', out='{tmp_path / 'board'}'),\n"
        "    benchmark=dict(batch_size=2, size=[64, 64], steps=1, warmup=0, amp='bf16'),\n"
        '    parallel=1,\n'
        ')\n')
    return str(path)


def test_suite_runs_skips_and_survives_failures(synthetic_pascal, tmp_path, monkeypatch):
    path = _suite_file(tmp_path, synthetic_pascal)
    entries = plan_suite(__import__('mtbench.engine.suite', fromlist=['x']).load_suite(path))
    assert [osp.basename(osp.dirname(e.work_dir)) for e in entries] == [
        'decoder-only_swin-nano_synthetic-pascal-64', 'bitfit_swin-nano_synthetic-pascal-64']
    # Break the second entry: a config override that makes training fail.
    from mtbench.engine import suite as suite_mod
    original = suite_mod._train_test_commands

    def broken(entry, launcher, slurm):
        train, test, env = original(entry, launcher, slurm)
        if 'bitfit' in entry.config:
            train = train + ['model.method.type=NoSuchMethod']
        return train, test, env

    monkeypatch.setattr(suite_mod, '_train_test_commands', broken)
    logs = []
    summary = run_suite(path, log=logs.append)
    assert len(summary['ran']) == 1 and len(summary['failed']) == 1
    assert 'bitfit' in summary['failed'][0][0]
    assert osp.exists(osp.join(entries[0].work_dir, 'result.json'))
    with open(osp.join(entries[0].work_dir, 'result.json')) as f:
        efficiency = json.load(f)['efficiency']  # the suite's benchmark step filled it in
    assert efficiency['batch_size'] == 2 and efficiency['train_throughput'] > 0
    assert efficiency['amp'] == 'bf16'  # the suite passes its benchmark's amp through
    assert set(summary['phases']) == {'runs', 'benchmark', 'leaderboard'}
    assert all(v >= 0 for v in summary['phases'].values())
    assert any(line.startswith('wall time by phase: runs ') for line in logs)
    assert osp.exists(tmp_path / 'board' / 'README.md')
    monkeypatch.setattr(suite_mod, '_train_test_commands', original)
    summary = run_suite(path, log=logs.append, dry_run=True)
    assert summary['skipped'] == [entries[0].work_dir]


def test_only_selects_entries_and_exclusive_keeps_planned_records(tmp_path):
    import pytest

    from mtbench.engine.suite import _drop_stale_records, load_suite, select_entries
    path = _suite_file(tmp_path, 'data/none')
    entries = plan_suite(load_suite(path))
    assert select_entries(entries, None) == entries
    picked = select_entries(entries, ['bitfit_*'])
    assert [e.config for e in picked] == [
        'configs/synthetic/bitfit_swin-nano_synthetic-pascal-64.py']
    assert select_entries(entries, ['configs/synthetic/decoder-only*']) == entries[:1]
    with pytest.raises(ValueError, match="'nope' matches no config.*bitfit_swin-nano"):
        select_entries(entries, ['nope'])

    results = tmp_path / 'results' / 'pascal-mt'
    results.mkdir(parents=True)
    keep = ['decoder_only--decoder-only_swin-nano_synthetic-pascal-64--seed0.json',
            'decoder_only--decoder-only_swin-nano_synthetic-pascal-64--seed0--pascal-context-'
            '93a1368f.json']
    drop = ['bitfit--bitfit_swin-nano_synthetic-pascal-64--seed1.json',
            'lora--lora-r4_swin-nano_synthetic-pascal-64--seed0.json', 'notes.json',
            # bitfit seed 0 is collected again: its old records make room for the new one
            'bitfit--bitfit_swin-nano_synthetic-pascal-64--seed0.json',
            'bitfit--bitfit_swin-nano_synthetic-pascal-64--seed0--pascal-context-e3cc3ceb.json']
    for name in keep + drop:
        (results / name).write_text('{}')
    _drop_stale_records(str(tmp_path / 'results'), entries, [picked[0]], log=lambda _: None)
    assert sorted(p.name for p in results.iterdir()) == sorted(keep)


@pytest.mark.parametrize('value', [0, -1, 1.5, True, 'two'])
def test_a_bad_parallel_is_a_config_error(tmp_path, value):
    from mtbench.errors import ConfigError
    path = _suite_file(tmp_path, 'data/none')
    with open(path) as f:
        text = f.read().replace('parallel=1', f'parallel={value!r}')
    with open(path, 'w') as f:
        f.write(text)
    with pytest.raises(ConfigError, match='parallel must be a positive integer'):
        run_suite(path, dry_run=True, log=lambda *_: None)
