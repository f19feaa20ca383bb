"""tools/leaderboard.py collect: valid records copied, bad ones reported and skipped."""
import json
import subprocess
import sys

from lb_factory import make_record

from mtbench.leaderboard.collect import collect


def _write(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(record if isinstance(record, str) else json.dumps(record))
    return path


def test_collect_valid_and_corrupt(tmp_path):
    work = tmp_path / 'work_dirs'
    _write(work / 'a' / 'result.json', make_record(seed=3))
    _write(work / 'b' / 'deep' / 'result.json', '{"schema_version": 1,')
    partial = make_record(method='m2')
    del partial['metrics']['normals']
    _write(work / 'c' / 'result.json', partial)
    (work / 'empty').mkdir()
    out = tmp_path / 'results'
    report = collect([work, tmp_path / 'missing', work / 'empty'], out)
    dest = out / 'pascal-mt' / 'full_ft--full-ft_swin-t_pascal-mt-448--seed3.json'
    assert report.collected == [(str(work / 'a' / 'result.json'), str(dest))]
    assert dest.read_bytes() == (work / 'a' / 'result.json').read_bytes()
    reasons = dict(report.skipped)
    assert reasons[str(work / 'b' / 'deep' / 'result.json')].startswith('invalid JSON')
    assert reasons[str(work / 'c' / 'result.json')] == '"metrics.normals" missing'
    assert reasons[str(tmp_path / 'missing')] == 'not found'
    assert reasons[str(work / 'empty')].startswith('no result.json found')
    summary = report.summary()
    assert '1 record(s) collected, 4 skipped' in summary and 'SKIPPED' in summary


def test_same_seed_newer_wins_and_other_dataset_variant_kept(tmp_path):
    old = _write(tmp_path / 'w1' / 'result.json', make_record(created='2026-01-01T00:00:00Z'))
    new = _write(tmp_path / 'w2' / 'result.json', make_record(created='2026-02-01T00:00:00Z'))
    png = _write(tmp_path / 'w3' / 'result.json',
                 make_record(dataset_variant='png', checksum='sha256:' + 'cd' * 32))
    out = tmp_path / 'results'
    report = collect([tmp_path / 'w1', tmp_path / 'w2', tmp_path / 'w3'], out)
    names = sorted(p.name for p in (out / 'pascal-mt').iterdir())
    assert names == ['full_ft--full-ft_swin-t_pascal-mt-448--seed0--png-cdcdcdcd.json',
                     'full_ft--full-ft_swin-t_pascal-mt-448--seed0.json']
    base = out / 'pascal-mt' / names[1]
    assert base.read_bytes() == new.read_bytes()
    assert [s for s, _ in report.skipped] == [str(old)]
    assert 'superseded by newer record' in report.skipped[0][1]
    # collecting the older record again does not replace the newer copy
    again = collect([tmp_path / 'w1'], out)
    assert again.collected == [] and 'superseded' in again.skipped[0][1]
    assert base.read_bytes() == new.read_bytes()
    assert png.exists()


def test_an_updated_record_of_the_same_run_replaces_its_copy(tmp_path):
    record = make_record(created='2026-01-01T00:00:00Z')
    src = _write(tmp_path / 'w' / 'result.json', record)
    out = tmp_path / 'results'
    collect([tmp_path / 'w'], out)
    dest = out / 'pascal-mt' / 'full_ft--full-ft_swin-t_pascal-mt-448--seed0.json'
    # benchmark.py --records-root adds efficiency figures and keeps the record's created time
    _write(src, {**record, 'efficiency': {'train_throughput': 3.0}})
    report = collect([tmp_path / 'w'], out)
    assert report.collected == [(str(src), str(dest))] and not report.skipped
    assert json.loads(dest.read_text())['efficiency'] == {'train_throughput': 3.0}


def test_cli_exit_codes(tmp_path, repo_root):
    bad = _write(tmp_path / 'w' / 'result.json', '[]')
    cmd = [sys.executable, str(repo_root / 'tools' / 'leaderboard.py'), 'collect',
           str(tmp_path / 'w'), '--out', str(tmp_path / 'out')]
    run = subprocess.run(cmd, capture_output=True, text=True, check=False)
    assert run.returncode == 0 and f'SKIPPED {bad}' in run.stdout
    strict = subprocess.run([*cmd, '--strict'], capture_output=True, text=True, check=False)
    assert strict.returncode == 1
    check = subprocess.run([sys.executable, str(repo_root / 'tools' / 'leaderboard.py'), 'check',
                            str(bad)], capture_output=True, text=True, check=False)
    assert check.returncode == 1 and 'record must be a JSON object' in check.stdout
