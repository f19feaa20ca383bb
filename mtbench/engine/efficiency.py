"""Efficiency figures of a model config: FLOPs, training step time, peak memory, latency.

Used by ``tools/analysis/benchmark.py``, which runs :func:`measure` in a fresh process per
config so that peak-RSS figures on CPU belong to one model only.
"""
import platform
import statistics
import time
from typing import Dict, Optional, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from mtbench.engine.hooks.result_record_hook import peak_memory_mb
from mtbench.tasks import num_outputs

__all__ = ['hardware_string', 'count_forward_flops', 'count_train_flops', 'measure']


#: A CPU step with at most this many minor page faults (4 KiB pages) runs on a grown heap.
STEADY_FAULTS = 2000
#: Warm-up steps allowed beyond ``warmup`` while the heap is still growing.
MAX_EXTRA_WARMUP = 8


def _minor_faults() -> int:
    try:
        import resource
    except ImportError:  # not POSIX
        return 0
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def hardware_string() -> str:
    """A short description of the device the figures come from."""
    if torch.cuda.is_available():
        return f'cuda:{torch.cuda.get_device_name(0)}'
    return f'cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads'


def _fake_batch(model, batch_size: int, size: Sequence[int], device) -> dict:
    h, w = size
    gt = {}
    g = torch.Generator().manual_seed(0)
    for task in model.tasks:
        out = num_outputs(task, model.dataset)
        if task in ('semseg', 'human_parts'):
            gt[task] = torch.randint(0, out, (batch_size, h, w), generator=g)
        elif task in ('saliency', 'edge'):
            gt[task] = torch.randint(0, 2, (batch_size, h, w), generator=g)
        elif task == 'normals':
            gt[task] = torch.nn.functional.normalize(torch.randn(batch_size, 3, h, w, generator=g),
                                                     dim=1)
        else:
            gt[task] = torch.rand(batch_size, h, w, generator=g) * 5 + 0.5
    inputs = torch.randint(0, 256, (batch_size, 3, h, w), generator=g, dtype=torch.uint8)
    batch = {'inputs': inputs, 'data_samples': {'img_id': [str(i) for i in range(batch_size)],
                                                'gt': gt}}
    return model.data_preprocessor(batch, True)


def count_forward_flops(model, inputs: torch.Tensor) -> int:
    """Forward FLOPs (multiply-adds counted as 2) of ``model`` on ``inputs``, per batch."""
    model.eval()
    # FlopCounterMode's module tracker hooks autograd on tensors that require grad, which
    # fails for parameters used directly (prompt tokens) under no_grad: count without them.
    trainable = [p for p in model.parameters() if p.requires_grad]
    for p in trainable:
        p.requires_grad_(False)
    counter = FlopCounterMode(display=False)
    try:
        with torch.no_grad(), counter:
            model(inputs, mode='tensor')
    finally:
        for p in trainable:
            p.requires_grad_(True)
    return int(counter.get_total_flops())


def _conv_backward_flop(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation,
                        transposed, _output_padding, _groups, output_mask, out_shape=None) -> int:
    """Backward FLOPs of a convolution: one forward's worth per gradient computed.

    Replaces torch's formula, which ignores ``groups`` and counts a depthwise conv's backward
    ``groups`` times too high (TADFormer's task filters).
    """
    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


#: Formulas that FlopCounterMode gets wrong, replaced.
FLOP_FORMULAS = {torch.ops.aten.convolution_backward: _conv_backward_flop}


def count_train_flops(model, data: dict) -> int:
    """FLOPs of one training forward + backward on the preprocessed batch ``data``, per batch.

    Backward FLOPs are what autograd runs: frozen weights need no weight gradients, so a PEFT
    method's count is below full fine-tuning's although its forward may cost more.
    """
    model.train()
    counter = FlopCounterMode(display=False, custom_mapping=FLOP_FORMULAS)
    with counter:
        sum(model(**data, mode='loss').values()).backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def measure(model, batch_size: int = 2, size: Sequence[int] = (448, 448), steps: int = 10,
            warmup: int = 3, device: Optional[str] = None, lr: float = 1e-4) -> Dict:
    """Measure one model: FLOPs/image, train step (median), peak memory, inference latency.

    The train step is the median of ``steps`` steps after at least ``warmup`` warm-up steps. On
    a CPU, warm-up continues (at most ``MAX_EXTRA_WARMUP`` more steps) until a step takes at most
    ``STEADY_FAULTS`` minor page faults, i.e. the heap has grown to the step's peak: the first
    steps otherwise measure the kernel zero-filling fresh pages. Every measured step then counts,
    and its page faults are reported (``train_step_minor_faults``).
    """
    device = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    model.to(device)
    data = _fake_batch(model, batch_size, size, device)
    data = {'inputs': data['inputs'].to(device),
            'data_samples': {**data['data_samples'],
                             'gt': {t: v.to(device) for t, v in
                                    data['data_samples']['gt'].items()}}}
    flops = count_forward_flops(model, data['inputs'][:1])
    train_flops = count_train_flops(model, data) / batch_size
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    model.train()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats()
    times, faults, warmed = [], [], 0
    while len(times) < steps:
        if device.type == 'cuda':
            torch.cuda.synchronize()
        faults_before = _minor_faults()
        start = time.perf_counter()
        loss = sum(model(**data, mode='loss').values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        if device.type == 'cuda':
            torch.cuda.synchronize()
        elapsed, new_faults = time.perf_counter() - start, _minor_faults() - faults_before
        # On a CPU the first steps fault in the heap page by page until it has grown to the
        # step's peak; keep warming up (a bounded number of steps) until one step runs without.
        heap_growing = (device.type == 'cpu' and new_faults > STEADY_FAULTS
                        and warmed < warmup + MAX_EXTRA_WARMUP)
        if warmed < warmup or (not times and heap_growing):
            warmed += 1
            continue
        times.append(elapsed)
        faults.append(new_faults)
    step = statistics.median(times)
    peak = peak_memory_mb()
    model.eval()
    merged = False
    if getattr(model.method, 'supports_merge', False):
        model.method.merge(model)
        merged = True
    lat = []
    with torch.no_grad():
        for i in range(warmup + steps):
            if device.type == 'cuda':
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(data['inputs'], mode='tensor')
            if device.type == 'cuda':
                torch.cuda.synchronize()
            if i >= warmup:
                lat.append(time.perf_counter() - start)
    if merged:
        model.method.unmerge(model)
    return {
        'flops_per_image': flops,
        'train_flops_per_image': train_flops,
        'train_step_s': step,
        'train_step_s_all': times,
        'train_step_minor_faults': faults,
        'warmup_steps': warmed,
        'train_throughput': batch_size / step,
        'peak_memory_mb': peak,
        'peak_memory_kind': 'cuda_max_allocated' if device.type == 'cuda' else 'cpu_peak_rss',
        'inference_latency_ms': 1000 * statistics.median(lat) / batch_size,
        'inference_merged': merged,
        'batch_size': batch_size,
        'input_size': list(size),
        'hardware': hardware_string(),
    }
