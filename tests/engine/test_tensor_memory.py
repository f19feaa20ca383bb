"""Live CPU tensor memory of a step (mtbench.engine.tensor_memory), against allocations whose
sizes are known and against a profile that counts from before the model existed."""
import gc
import json

import pytest
import torch
from torch.profiler import ProfilerActivity, profile, record_function

from mtbench.engine.tensor_memory import cpu_step_peak_bytes, live_cpu_tensor_bytes

MB = 1_000_000


def _byte_tensor(n):
    return torch.empty(n, dtype=torch.uint8)


def test_peak_of_a_step_with_known_allocations():
    gc.collect()  # earlier tests' garbage is not freed in the middle of this one
    # Before profiling: 5 MB that the first step frees (a free the profiler cannot size).
    keep = [_byte_tensor(5 * MB)]

    def step():
        keep.clear()                       # frees what the previous step kept
        a, b = _byte_tensor(1 * MB), _byte_tensor(3 * MB)
        del a, b                           # in between, 4 MB more than at the start less 2 MB
        keep.append(_byte_tensor(2 * MB))  # each step ends holding 2 MB

    # the measured step starts at R and peaks at R - 2 + 1 + 3 = R + 2
    assert cpu_step_peak_bytes(step, resident=lambda: 10 * MB) == 12 * MB
    before = live_cpu_tensor_bytes()
    peak = cpu_step_peak_bytes(step)
    assert live_cpu_tensor_bytes() == before  # the step keeps 2 MB, as before the call
    assert peak == before + 2 * MB


def test_live_bytes_count_shared_storage_once():
    before = live_cpu_tensor_bytes()
    x = _byte_tensor(3 * MB)
    views = [x[:MB], x.view(3, MB)]
    assert live_cpu_tensor_bytes() - before == 3 * MB
    del x, views
    assert live_cpu_tensor_bytes() == before


def _peak_since_start(trace_path, window):
    """How far the live bytes rose above their level at profiling start, at most, inside the
    annotation ``window``: the profiler's running total less its value before the first event
    (the allocator's counter carries bytes over from earlier profiling sessions)."""
    events = json.load(open(trace_path))['traceEvents']
    memory = sorted((e for e in events if e.get('name') == '[memory]'), key=lambda e: e['ts'])
    offset = memory[0]['args']['Total Allocated'] - memory[0]['args']['Bytes']
    span = next(e for e in events if e.get('name') == window and e.get('ph') == 'X')
    return max(e['args']['Total Allocated'] for e in memory
               if span['ts'] <= e['ts'] <= span['ts'] + span['dur']) - offset


@pytest.mark.parametrize('config', ['full-ft', 'mtlora-r4'])
def test_model_step_peak_matches_a_profile_from_before_the_model(config, tmp_path):
    """Independent check: profile from before anything is built, so every allocation and free
    is seen and no level needs calibrating; the running total's peak over a steady step must
    equal the measured peak of the next one."""
    from mtbench.engine.efficiency import train_step, training_setup
    path = f'configs/synthetic/{config}_swin-nano_synthetic-pascal-64.py'
    gc.collect()  # earlier tests' objects in reference cycles: freed now, not while profiling
    gc_before = live_cpu_tensor_bytes()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model, data, opt, params = training_setup(path, batch_size=4, size=(64, 64))
        for _ in range(2):
            train_step(model, data, opt, params)
        with record_function('steady step'):
            train_step(model, data, opt, params)
    prof.export_chrome_trace(str(tmp_path / 'trace.json'))
    absolute = gc_before + _peak_since_start(tmp_path / 'trace.json', 'steady step')
    measured = cpu_step_peak_bytes(lambda: train_step(model, data, opt, params))
    assert measured == pytest.approx(absolute, rel=0.01)


def test_a_level_that_does_not_add_up_is_a_warning():
    """Tensors only C++ holds between steps (here: a resident count that misses 8 MB the step
    keeps) make the level inconsistent, and the measure says so."""
    keep = []

    def step():
        keep.clear()
        keep.append(_byte_tensor(8 * MB))

    with pytest.warns(RuntimeWarning, match='inconsistent'):
        cpu_step_peak_bytes(step, resident=iter([0, 20 * MB]).__next__)
