"""tools/analysis/step_ratio.py: interleaved step times in one process, ratios per round."""
import json
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools', 'analysis'))

from step_ratio import summarize  # noqa: E402

NANO = 'configs/synthetic/{}_swin-nano_synthetic-pascal-64.py'


def _run_tool(*args):
    """``step_ratio.py args...`` from the repository root, output captured."""
    return subprocess.run([sys.executable, 'tools/analysis/step_ratio.py', *map(str, args)],
                          cwd=REPO, capture_output=True, text=True, timeout=300)


def test_ratios_are_per_round_medians_so_drift_cancels():
    # The machine slows down 3x between rounds; b is always twice a's step.
    times = {'a': [1.0, 2.0, 3.0], 'b': [2.0, 4.0, 6.0], 'c': [1.0, 6.0, 3.0]}
    rows = summarize(times)
    assert rows['a']['ratio'] == 1.0
    assert rows['b']['ratio'] == pytest.approx(2.0)
    assert rows['b']['ratio_min'] == pytest.approx(2.0) == rows['b']['ratio_max']
    assert rows['b']['step_s'] == 4.0  # the plain median, for reference
    assert rows['c']['ratio'] == pytest.approx(1.0) and rows['c']['ratio_max'] == 3.0


def test_two_nano_configs_end_to_end(tmp_path):
    configs = [NANO.format('full-ft'), NANO.format('decoder-only')]
    out = tmp_path / 'ratios.json'
    proc = _run_tool(*configs, '--batch-size', 2, '--size', 64, 64, '--steps', 2, '--warmup', 1,
                     '--device', 'cpu', '--out', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    figures = json.loads(out.read_text())
    rows = figures['configs']  # a list, in the order given (the reference first)
    assert [r['config'] for r in rows] == configs and figures['batch_size'] == 2
    assert figures['reference'] == configs[0] and rows[0]['ratio'] == 1.0
    assert all(len(r['steps_s']) == 2 and r['step_s'] > 0 for r in rows)
    assert 'full-ft_swin-nano_synthetic-pascal-64' in proc.stdout


def test_bad_steps_and_missing_config_are_one_line_errors():
    proc = _run_tool(NANO.format('full-ft'), '--steps', 0)
    assert proc.returncode == 2 and proc.stderr.strip().startswith('error: --steps must be')
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = _run_tool('configs/nope.py')
    assert proc.returncode == 2 and 'configs/nope.py' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_inference_forwards_with_merging_end_to_end(tmp_path):
    configs = [NANO.format('full-ft'), NANO.format('lora-r4')]
    out = tmp_path / 'latency.json'
    proc = _run_tool(*configs, '--inference', '--merged', '--batch-size', 2, '--size', 64, 64,
                     '--steps', 3, '--warmup', 1, '--device', 'cpu', '--out', out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'inference forwards (merged where supported)' in proc.stdout
    figures = json.loads(out.read_text())
    assert figures['timed'] == 'inference' and figures['merged'] is True
    assert [len(r['steps_s']) for r in figures['configs']] == [3, 3]


def test_inference_run_merges_a_mergeable_method_and_leaves_others():
    import torch

    from mtbench.engine.efficiency import training_setup
    from step_ratio import inference_run
    for config, mergeable in (('lora-r4', True), ('full-ft', False)):
        setup = training_setup(NANO.format(config), batch_size=2, size=(64, 64),
                               device=torch.device('cpu'))
        model = setup[0]
        with torch.no_grad():
            model.eval()
            before = model(setup[1]['inputs'], mode='tensor')
        forward = inference_run(setup, merged=True)
        assert not model.training
        layers = [m for m in model.modules() if hasattr(m, 'merged')]
        assert bool(layers) == mergeable and all(m.merged for m in layers)
        forward()
        with torch.no_grad():
            after = model(setup[1]['inputs'], mode='tensor')
        for task in before:  # merging changes float rounding only
            torch.testing.assert_close(after[task], before[task], rtol=1e-4, atol=1e-5)


def test_merged_without_inference_is_a_one_line_error():
    proc = _run_tool(NANO.format('full-ft'), '--merged')
    assert proc.returncode == 2 and 'add --inference' in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
