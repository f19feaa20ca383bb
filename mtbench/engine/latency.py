"""Inference latency of a model, unmerged and (for a mergeable method) merged.

Used by :func:`mtbench.engine.efficiency.measure`; the figures are per image, from the median
of timed forwards (``mode='tensor'``) on one input batch.
"""
import copy
import statistics
import time
from typing import Callable, Dict, List

import torch

__all__ = ['timed_call', 'timed_forwards', 'inference_latency']


def timed_call(fn: Callable[[], object], device: torch.device) -> float:
    """Seconds ``fn()`` takes on ``device`` (CUDA work synchronized before and after)."""
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == 'cuda':
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def timed_forwards(model, inputs: torch.Tensor, warmup: int, iters: int, autocast: Callable,
                   device: torch.device) -> List[float]:
    """Seconds per forward (``mode='tensor'``) of ``iters`` timed runs after ``warmup`` ones."""
    times = []
    with torch.no_grad(), autocast():
        for i in range(warmup + iters):
            elapsed = timed_call(lambda: model(inputs, mode='tensor'), device)
            if i >= warmup:
                times.append(elapsed)
    return times


def _tensors(state, prefix: str = ''):
    """``(key, tensor)`` of every tensor in a state dict, nested extra state included."""
    if torch.is_tensor(state):
        yield prefix, state
    elif isinstance(state, dict):
        for key, value in state.items():
            yield from _tensors(value, f'{prefix}.{key}' if prefix else key)


def inference_latency(model, inputs: torch.Tensor, warmup: int, steps: int,
                      autocast: Callable, device: torch.device) -> Dict:
    """Latency unmerged and, for a method with ``supports_merge``, merged.

    Same inputs and counts for both (``warmup`` warm-up, ``steps`` timed runs each), in blocks
    plain - merged - plain so that slow drift (clocks, heat) hits both alike. After
    ``unmerge`` the model's state is compared with a copy taken before ``merge``
    (``unmerge_max_abs_diff``, 0.0 when exact) and then restored from that copy bit for bit.
    """
    model.eval()
    first = (steps + 1) // 2
    plain = timed_forwards(model, inputs, warmup, first, autocast, device)
    merged, drift = None, None
    mergeable = bool(getattr(model.method, 'supports_merge', False))
    if mergeable:
        before = copy.deepcopy(model.state_dict())  # extra state (FAAR) may hold dicts
        model.method.merge(model)
        try:
            merged = timed_forwards(model, inputs, warmup, steps, autocast, device)
        finally:
            model.method.unmerge(model)
        after = dict(_tensors(model.state_dict()))
        drift = max([float((after[k].double() - v.double()).abs().max())
                     for k, v in _tensors(before) if v.numel()], default=0.0)
        model.load_state_dict(before)
    plain += timed_forwards(model, inputs, 0, steps - first, autocast, device)
    per_image = 1000 / inputs.shape[0]
    return {'inference_latency_ms': per_image * statistics.median(plain),
            'inference_latency_merged_ms': (per_image * statistics.median(merged)
                                            if merged else None),
            'mergeable': mergeable, 'unmerge_max_abs_diff': drift}
