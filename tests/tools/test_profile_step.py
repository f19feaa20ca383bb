"""tools/analysis/profile_step.py: step split, per-stage times, op tables, saved tensors."""
import os.path as osp
import re
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_profile_two_configs_prints_every_section():
    configs = ['configs/synthetic/full-ft_swin-nano_synthetic-pascal-64.py',
               'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py']
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/profile_step.py', *configs, '--batch-size', '2',
         '--size', '64', '64', '--steps', '1', '--warmup', '1', '--top', '5', '--saved'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    steps = re.findall(r'step ([\d.]+) s = forward ([\d.]+) \+ backward ([\d.]+) \+ optimizer '
                       r'([\d.]+)', out)
    assert len(steps) == 2
    for total, *parts in steps:  # the parts add up to the step
        assert abs(float(total) - sum(map(float, parts))) < 2e-3
    assert len(re.findall(r'MiB saved for backward', out)) == 2
    # Full FT keeps the backbone's activations; decoder-only (frozen backbone) keeps none.
    saved = [float(x) for x in re.findall(r': ([\d.]+) MiB saved for backward', out)]
    assert saved[0] > 1.5 * saved[1] > 0
    assert 'excess over the first config' in out and 'aten::' in out
