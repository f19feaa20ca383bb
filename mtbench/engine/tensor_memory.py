"""Peak memory of live CPU tensors during a training step: the CPU's ``max_memory_allocated``.

On a GPU, ``torch.cuda.max_memory_allocated`` reports the most memory that live tensors held at
once. A CPU has no such counter, and the process's peak RSS, the usual stand-in, is a poor one
for comparing methods: it includes the interpreter and libraries (676 MiB right after the
imports here, so at the synthetic suite's model size every method measured 0.89-1.13 GiB), and
heap fragmentation, which depends on the order of allocations and moved by about ±100 MiB
between runs of one config.

:func:`cpu_step_peak_bytes` counts instead: the profiler reports every CPU allocation and free
with a nanosecond time stamp, so the running sum over a step gives the live bytes at each
moment relative to the step's start. The absolute level comes from between steps, when the
only live tensors are those Python holds (:func:`live_cpu_tensor_bytes`: parameters,
gradients, optimizer state, the batch, caches); the level after the step checks it. The step
runs twice under the profiler and the second one is measured, since the first may free tensors
allocated before profiling (the previous step's gradients), whose sizes the profiler never
saw. The figure is the same in every run of a config (allocations are deterministic), unlike
RSS.

Example:
    >>> model = torch.nn.Linear(256, 256)
    >>> def step():
    ...     model(torch.randn(512, 256)).sum().backward()
    >>> peak = cpu_step_peak_bytes(step)
    >>> peak > live_cpu_tensor_bytes()  # weights and gradients, plus the step's activations
    True
"""
import gc
import warnings
from typing import Any, Callable

import torch
from torch.profiler import ProfilerActivity, profile, record_function

__all__ = ['live_cpu_tensor_bytes', 'cpu_step_peak_bytes']

_MEASURED = 'mtbench::measured_step'


def live_cpu_tensor_bytes() -> int:
    """Bytes of the distinct CPU storages of every tensor the garbage collector tracks (all
    tensors Python holds: parameters, gradients, buffers, optimizer state, batches, caches).
    A storage shared by several tensors (views) counts once."""
    seen, total = set(), 0
    with warnings.catch_warnings():  # gc also holds deprecated torch objects that warn when read
        warnings.simplefilter('ignore')
        tensors = [obj for obj in gc.get_objects() if isinstance(obj, torch.Tensor)]
    for tensor in tensors:
        if tensor.device.type != 'cpu' or tensor.layout != torch.strided:
            continue
        try:
            storage = tensor.untyped_storage()
        except (RuntimeError, NotImplementedError):  # a wrapper subclass without a storage
            continue
        if storage.nbytes() and storage.data_ptr() not in seen:
            seen.add(storage.data_ptr())
            total += storage.nbytes()
    return total


def cpu_step_peak_bytes(step: Callable[[], Any],
                        resident: Callable[[], int] = live_cpu_tensor_bytes) -> int:
    """Peak bytes held by live CPU tensors while ``step()`` runs.

    Args:
        step: one training step; called twice, the second call is measured.
        resident: the live tensor bytes between steps, which set the absolute level (default:
            :func:`live_cpu_tensor_bytes`).

    Returns:
        ``resident()`` just before the measured step plus the most its running sum of
        allocations minus frees rose above zero. A warning says when that level plus the
        step's net change misses ``resident()`` after the step by more than 1 % (tensors only
        C++ holds, or frees of memory the profiler never saw allocated).
    """
    gc.collect()  # garbage from before profiling is freed now, not unsized inside the window
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
        before = resident()
        with record_function(_MEASURED):
            step()
    after = resident()
    # kineto_results is not public API; checked with torch 2.14 (CPU memory events carry a
    # signed nbytes and a nanosecond start time).
    events = prof.profiler.kineto_results.events()
    window = next(e for e in events if e.name() == _MEASURED)
    start, end = window.start_ns(), window.end_ns()
    changes = sorted(((e.start_ns(), e.nbytes()) for e in events
                      if e.name() == '[memory]' and e.device_type().name == 'CPU'),
                     key=lambda change: change[0])  # stable: same-stamp events keep their order
    running = highest = 0
    for stamp, nbytes in changes:
        if start <= stamp <= end:
            running += nbytes
            highest = max(highest, running)
    if abs(before + running - after) > max(0.01 * after, 1 << 20):
        warnings.warn(f'live CPU tensor count is inconsistent: {before} B before the step plus '
                      f'its net change {running} B is not the {after} B after it; the peak '
                      f'may be off by the difference', RuntimeWarning, stacklevel=2)
    return before + highest
