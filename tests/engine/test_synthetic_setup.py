"""The synthetic benchmark's caches: data and pre-trained weights are reused only when current."""
import subprocess

import pytest

from mtbench.engine import synthetic_setup as setup


def test_stamp_round_trip_with_tuples(tmp_path):
    path = str(tmp_path / 'stamp.json')
    settings = dict(data=('nyud-mt', 'upstream', 4000, 100, 1), config='text')
    setup._write_stamp(path, settings)
    assert setup._stamp_ok(path, settings)
    assert not setup._stamp_ok(path, dict(settings, config='other text'))
    assert not setup._stamp_ok(str(tmp_path / 'missing.json'), settings)


def test_pretrained_backbone_is_reused_until_its_recipe_changes(tmp_path, monkeypatch):
    out = str(tmp_path / 'backbone.pth')
    monkeypatch.setattr(setup, 'ensure_synthetic_data', lambda name: None)
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append(cmd)
        raise subprocess.CalledProcessError(1, cmd)  # stop before any real training

    monkeypatch.setattr(setup.subprocess, 'run', fake_run)
    with pytest.raises(subprocess.CalledProcessError):
        setup.ensure_pretrained_backbone(out)  # nothing cached: trains
    assert len(calls) == 1
    # A checkpoint with the current stamp is reused (no training); a stale stamp is not.
    open(out, 'wb').close()
    settings = setup.pretrain_settings()
    setup._write_stamp(out + '.json', settings)
    assert setup.ensure_pretrained_backbone(out) == out
    assert len(calls) == 1
    setup._write_stamp(out + '.json', dict(settings, config=settings['config'] + '# edited'))
    with pytest.raises(subprocess.CalledProcessError):
        setup.ensure_pretrained_backbone(out)
    assert len(calls) == 2
