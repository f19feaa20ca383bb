"""The glibc heap settings: applied once, opt-out by environment variable, harmless to results."""
import subprocess
import sys

CODE = ('import torch; from mtbench.engine.cpu_memory import tune_malloc; a = tune_malloc(); '
        'b = tune_malloc(); x = torch.ones(64 * 2**20 // 4); y = x * 2; del y; '
        'z = (x * 3).sum().item(); print(a, b, z == 3 * x.numel())')


def _run(env_value=None):
    import os
    env = dict(os.environ)
    env.pop('MTBENCH_MALLOC_TUNING', None)
    if env_value is not None:
        env['MTBENCH_MALLOC_TUNING'] = env_value
    out = subprocess.run([sys.executable, '-c', CODE], capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_tuning_applies_on_linux_glibc_and_can_be_disabled():
    applied, again, correct = _run()
    assert applied == again and correct == 'True'
    if sys.platform.startswith('linux'):
        assert applied == 'True'
    assert _run('0') == ['False', 'False', 'True']
