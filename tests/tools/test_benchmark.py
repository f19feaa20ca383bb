"""tools/analysis/benchmark.py: figures into records; FLOP counting for every kind of method;
several batch sizes, mixed precision, merged latency and OOM rows."""
import argparse
import importlib.util
import json
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.efficiency import count_forward_flops, count_train_flops
from mtbench.registry import MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/synthetic/decoder-only_swin-nano_synthetic-pascal-64.py'
LORA = 'configs/synthetic/lora-r4_swin-nano_synthetic-pascal-64.py'
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')


def _benchmark_module():
    spec = importlib.util.spec_from_file_location(
        'benchmark_tool', osp.join(REPO, 'tools', 'analysis', 'benchmark.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('method', [dict(type='FullFineTuning'),
                                    dict(type='TADFormer', rank=2),
                                    dict(type='VPT', num_prompts=2, deep=True)])
def test_forward_flops_count_with_parameters_used_directly(method):
    model = build_or_explain(MODELS, tiny_model_cfg(method=method))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    flops = count_forward_flops(model, torch.zeros(1, 3, 64, 64))
    assert {n for n, p in model.named_parameters() if p.requires_grad} == trainable  # restored
    # Linear layers alone: 2 * tokens * d_in * d_out for qkv/proj/fc1/fc2 of every block.
    bb = model.backbone
    linear = 0
    for i, depth in enumerate(bb.depths):
        tokens = (64 // 4 // 2 ** i) ** 2
        c = bb.stage_channels[i]
        linear += depth * 2 * tokens * (3 * c * c + c * c + 8 * c * c)
    assert linear < flops < 3 * linear


@pytest.mark.parametrize('groups', [1, 8])
def test_train_flops_count_grouped_convolutions_once_per_gradient(groups):
    # torch's own conv-backward formula counts a grouped conv's backward ``groups`` times over.
    class Conv(torch.nn.Module):
        tasks = ()

        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(8, 8, 3, padding=1, groups=groups, bias=False)

        def forward(self, inputs, data_samples=None, mode='loss'):
            return {'loss': self.conv(inputs).sum()}

    model = Conv()
    x = torch.randn(2, 8, 16, 16)
    forward = 2 * 2 * 8 * (8 // groups) * 9 * 16 * 16  # 2 * batch * C_out * C_in/g * k^2 * HW
    # Input needs no gradient: backward computes the weight gradient only.
    assert count_train_flops(model, dict(inputs=x)) == 2 * forward


def test_benchmark_writes_figures_into_suite_records(tmp_path):
    root = tmp_path / 'runs'
    stem = osp.splitext(osp.basename(CONFIG))[0]
    for seed in (0, 1):
        (root / stem / f'seed{seed}').mkdir(parents=True)
        (root / stem / f'seed{seed}' / 'result.json').write_text(json.dumps({'seed': seed}))
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', CONFIG, '--batch-size', '2', '--size',
         '64', '64', '--steps', '2', '--warmup', '1', '--out', str(tmp_path / 'out'),
         '--records-root', str(root), '--cfg-options', 'model.pretrained=None'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for seed in (0, 1):
        record = json.loads((root / stem / f'seed{seed}' / 'result.json').read_text())
        assert record['seed'] == seed  # the rest of the record is kept
        eff = record['efficiency']
        assert eff['batch_size'] == 2 and eff['input_size'] == [64, 64]
        assert eff['flops_per_image'] > 0 and eff['train_throughput'] > 0
        assert eff['peak_memory_mb'] > 0 and eff['inference_latency_ms'] > 0
        assert eff['hardware'].startswith('cpu:') and eff['peak_memory_kind'] == 'cpu_live_tensors'
        # live tensors of a 64x64 step are far below the process's RSS (interpreter, libraries)
        assert eff['peak_memory_mb'] < eff['peak_rss_mb'] / 4
        # Decoder-only has nothing to merge: the merged latency is null, not missing.
        assert eff['amp'] == 'none' and eff['inference_latency_merged_ms'] is None
    figures = json.loads((tmp_path / 'out' / f'{stem}.json').read_text())
    assert figures['flops_per_image'] == eff['flops_per_image']


def test_update_records_count_mismatch_is_a_clear_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', CONFIG, '--steps', '1', '--warmup', '0',
         '--size', '64', '64', '--out', str(tmp_path), '--update-records', 'a', 'b',
         '--cfg-options', 'model.pretrained=None'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert 'got 2 work dirs for 1 configs' in proc.stderr


@pytest.mark.parametrize('growing_steps,expected_warmup', [(0, 1), (4, 4), (50, 1 + 8)])
def test_cpu_warm_up_lasts_until_the_heap_stops_growing(monkeypatch, growing_steps,
                                                        expected_warmup):
    """Warm-up continues while a step page-faults (the heap still growing), at most
    MAX_EXTRA_WARMUP extra steps; every measured step counts and reports its faults."""
    import mtbench.engine.efficiency as efficiency
    calls = {'n': 0, 'total': 0}

    def fake_faults():
        calls['n'] += 1
        if calls['n'] % 2 == 0 and calls['n'] // 2 <= growing_steps:  # after-step reading
            calls['total'] += 10 * efficiency.STEADY_FAULTS
        return calls['total']

    monkeypatch.setattr(efficiency, '_minor_faults', fake_faults)
    model = build_or_explain(MODELS, tiny_model_cfg(method=dict(type='DecoderOnly')))
    monkeypatch.setattr(efficiency, 'count_forward_flops', lambda *a: 1)
    monkeypatch.setattr(efficiency, 'count_train_flops', lambda *a: 1)
    figures = efficiency.measure(model, batch_size=1, size=(32, 32), steps=2, warmup=1,
                                 device='cpu')
    assert figures['warmup_steps'] == expected_warmup
    assert len(figures['train_step_s_all']) == 2
    steady = 0 if growing_steps < expected_warmup + 1 else 10 * efficiency.STEADY_FAULTS
    assert figures['train_step_minor_faults'] == [steady, steady]


def test_bf16_at_two_batch_sizes_gives_two_rows_and_records_the_chosen_one(tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'result.json').write_text(json.dumps({'seed': 0}))
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', LORA, '--device', 'cpu', '--amp', 'bf16',
         '--batch-size', '1', '2', '--record-batch-size', '2', '--size', '64', '64', '--steps',
         '2', '--warmup', '1', '--out', str(tmp_path / 'out'), '--update-records', str(work),
         '--cfg-options', 'model.pretrained=None'],
        cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    stem = osp.splitext(osp.basename(LORA))[0]
    rows = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith(stem)]
    assert [row[1] for row in rows] == ['1', '2']
    assert all(float(row[-2]) > 0 for row in rows)  # LoRA merges: a merged latency
    eff = json.loads((work / 'result.json').read_text())['efficiency']
    assert eff['batch_size'] == 2 and eff['amp'] == 'bf16'
    for key in ('flops_per_image', 'train_throughput', 'peak_memory_mb', 'inference_latency_ms',
                'inference_latency_merged_ms'):
        assert math.isfinite(eff[key]) and eff[key] > 0, key
    for bs in (1, 2):
        figures = json.loads((tmp_path / 'out' / f'{stem}_bs{bs}.json').read_text())
        assert figures['batch_size'] == bs and figures['amp'] == 'bf16'
    assert json.loads((tmp_path / 'out' / f'{stem}.json').read_text())['batch_size'] == 2


@pytest.mark.parametrize('flags,message', [
    pytest.param(['--device', 'cuda'], 'CUDA is not available on this machine', marks=NO_CUDA),
    (['--batch-size', '1', '2', '--record-batch-size', '4'], '--record-batch-size 4 is not one')])
def test_argument_errors_are_one_line(tmp_path, flags, message):
    proc = subprocess.run(
        [sys.executable, 'tools/analysis/benchmark.py', CONFIG, *flags, '--size', '64', '64',
         '--out', str(tmp_path), '--cfg-options', 'model.pretrained=None'],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0], lines


def test_cuda_out_of_memory_is_an_oom_row(monkeypatch):
    import mtbench.engine.efficiency as efficiency
    bench = _benchmark_module()

    def oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError('CUDA out of memory. Tried to allocate 2.00 GiB')

    monkeypatch.setattr(efficiency, 'measure', oom)
    args = argparse.Namespace(config=CONFIG, cfg_options=['model.pretrained=None'], batch_size=32,
                              size=[64, 64], steps=1, warmup=0, device='cpu', amp='bf16')
    row = bench.child_figures(args)
    assert row['oom'] is True and row['batch_size'] == 32 and row['amp'] == 'bf16'

    def figures(step, latency, merged=None):
        return {'flops_per_image': 1e9, 'train_flops_per_image': 3e9, 'train_step_s': step,
                'train_throughput': 8 / step, 'peak_memory_mb': 100.0, 'amp': 'bf16',
                'inference_latency_ms': latency, 'inference_latency_merged_ms': merged,
                'hardware': 'cuda:test', 'input_size': [64, 64]}

    # One OOM round makes the row OOM; the other configs' ratios are against the first one.
    results = {('full', 8): bench.summarize([figures(1.0, 4.0), figures(1.0, 4.0)]),
               ('lora', 8): bench.summarize([figures(2.0, 6.0, 5.0), figures(2.0, 6.0, 5.0)]),
               ('full', 32): bench.summarize([figures(3.0, 4.0)]),
               ('lora', 32): bench.summarize([figures(2.0, 6.0, 5.0), row])}
    lines = bench.format_table(results, ['full', 'lora'], [8, 32])
    table = {(ln.split()[0], ln.split()[1]): ln.split() for ln in lines[2:]}
    assert table[('lora', '8')][5] == '2.00' and table[('lora', '8')][-1] == '1.25'
    assert table[('full', '8')][-2:] == ['-', '-']
    assert table[('lora', '32')][2:] == ['OOM']
