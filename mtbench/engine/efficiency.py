"""Efficiency figures of a model config: FLOPs, training step time, peak memory, latency.

Used by ``tools/analysis/benchmark.py``, which runs :func:`measure` in a fresh process per
config and batch size so that peak-memory figures belong to one model and one batch size only.

Mixed precision (``amp``): ``'none'`` runs in float32; ``'bf16'`` and ``'fp16'`` run the
training forward and the inference forward under ``torch.autocast`` with that dtype, on CUDA
and on CPU alike. fp16 training scales the loss with ``torch.amp.GradScaler`` (unscaled before
gradient clipping); bf16 needs no scaler.

Example:
    >>> figures = measure(model, 8, (448, 448), device='cuda', amp='bf16')  # doctest: +SKIP
"""
import contextlib
import platform
import statistics
from typing import Callable, Dict, List, Optional, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, conv_flop_count

from mtbench.engine.hooks.result_record_hook import peak_memory_mb
from mtbench.engine.latency import inference_latency, timed_call
from mtbench.engine.tensor_memory import cpu_step_peak_bytes
from mtbench.errors import ConfigError
from mtbench.tasks import num_outputs

__all__ = ['AMP_DTYPES', 'resolve_device', 'autocast_factory', 'hardware_string', 'fake_batch',
           'count_forward_flops', 'count_train_flops', 'train_step', 'training_setup', 'measure']

#: ``amp`` choices and the autocast dtype each one runs the forward passes in.
AMP_DTYPES = {'none': None, 'bf16': torch.bfloat16, 'fp16': torch.float16}


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


def resolve_device(device: Optional[str] = None) -> torch.device:
    """The device to measure on: ``device``, or CUDA when available, else the CPU.

    Raises:
        ConfigError: ``device`` is not a CPU or CUDA device, or CUDA is asked for on a machine
            without it.
    """
    try:
        dev = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    except RuntimeError as err:
        raise ConfigError(f'--device {device!r} is not a device name ({err}); use cpu or '
                          'cuda[:N]') from None
    if dev.type not in ('cpu', 'cuda'):
        raise ConfigError(f'--device {device}: only cpu and cuda are supported')
    if dev.type == 'cuda' and not torch.cuda.is_available():
        built = (f'built with CUDA {torch.version.cuda}, but no GPU is visible'
                 if torch.version.cuda else 'a CPU-only build')
        raise ConfigError(f'--device {device}: CUDA is not available on this machine (torch '
                          f'{torch.__version__}: {built}); run on a GPU machine or use '
                          '--device cpu')
    return dev


def autocast_factory(device: torch.device, amp: str = 'none') -> Callable:
    """A function returning a fresh autocast context for ``amp`` (a null one for ``'none'``).

    Raises:
        ConfigError: ``amp`` is not one of :data:`AMP_DTYPES`, or the GPU lacks bfloat16.
    """
    if amp not in AMP_DTYPES:
        raise ConfigError(f'--amp {amp!r}: choose one of {", ".join(AMP_DTYPES)}')
    dtype = AMP_DTYPES[amp]
    if dtype is None:
        return contextlib.nullcontext
    if device.type == 'cuda' and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ConfigError(f'--amp bf16: {torch.cuda.get_device_name(device)} does not support '
                          'bfloat16; use --amp fp16')
    return lambda: torch.autocast(device.type, dtype=dtype)


def hardware_string(device: Optional[torch.device] = None) -> str:
    """A short description of the device the figures come from (default: CUDA if available)."""
    if device is None:
        device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if torch.device(device).type == 'cuda':
        return f'cuda:{torch.cuda.get_device_name(device)}'
    return f'cpu:{platform.processor() or platform.machine()} x{torch.get_num_threads()} threads'


def fake_batch(model, batch_size: int, size: Sequence[int], device: torch.device) -> dict:
    """A preprocessed random batch (inputs and every task's ground truth) on ``device``."""
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
    data = model.data_preprocessor(batch, True)
    data['inputs'] = data['inputs'].to(device)
    data['data_samples']['gt'] = {t: v.to(device) for t, v in data['data_samples']['gt'].items()}
    return data


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


def training_setup(config: str, cfg_options: Sequence[str] = (), batch_size: int = 2,
                   size: Sequence[int] = (448, 448), device: Optional[torch.device] = None):
    """``(model, batch, optimizer, trainable parameters)`` for timing training steps of
    ``config``: the model built without pretrained weights (seed 0) in training mode on
    ``device`` (default CPU), a :func:`fake_batch`, and AdamW over the trainable parameters.
    ``train_step(*training_setup(...))`` runs one step."""
    from mtbench.engine.model_builder import build_model_from_config
    from mtbench.engine.runner_utils import load_config
    device = torch.device(device or 'cpu')
    torch.manual_seed(0)
    cfg = load_config(config, ['model.pretrained=None', *cfg_options])
    model = build_model_from_config(cfg, load_pretrained=False).to(device).train()
    params = [p for p in model.parameters() if p.requires_grad]
    return (model, fake_batch(model, batch_size, size, device),
            torch.optim.AdamW(params, lr=1e-4), params)


def train_step(model, data: dict, opt, params: List[torch.nn.Parameter],
               autocast: Callable = contextlib.nullcontext,
               scaler: Optional['torch.amp.GradScaler'] = None) -> None:
    """One optimiser step: forward (loss) under ``autocast``, backward, clip at norm 5, step."""
    with autocast():
        loss = sum(model(**data, mode='loss').values())
    opt.zero_grad(set_to_none=True)
    (loss if scaler is None else scaler.scale(loss)).backward()
    if scaler is not None:  # fp16: unscale the gradients before clipping them
        scaler.unscale_(opt)
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    if scaler is None:
        opt.step()
    else:
        scaler.step(opt)
        scaler.update()


def measure(model, batch_size: int = 2, size: Sequence[int] = (448, 448), steps: int = 10,
            warmup: int = 3, device: Optional[str] = None, lr: float = 1e-4,
            amp: str = 'none') -> Dict:
    """Measure one model: FLOPs/image, train step (median), peak memory, inference latency.

    The train step is the median of ``steps`` steps after at least ``warmup`` warm-up steps. On
    a CPU, warm-up continues (at most ``MAX_EXTRA_WARMUP`` more steps) until a step takes at most
    ``STEADY_FAULTS`` minor page faults, i.e. the heap has grown to the step's peak: the first
    steps otherwise measure the kernel zero-filling fresh pages. Every measured step then counts,
    and its page faults are reported (``train_step_minor_faults``). FLOPs are counted in float32
    (whatever ``amp``): forward FLOPs on one image, training FLOPs on the batch, per image
    (methods that compute weights once per batch amortize that cost over the batch).

    Peak memory (``peak_memory_mb``) is the most memory live tensors held during a training
    step: ``torch.cuda.max_memory_allocated`` on a GPU; on a CPU the same quantity counted from
    the allocator's events over two more steps
    (:func:`~mtbench.engine.tensor_memory.cpu_step_peak_bytes`). ``peak_memory_kind`` names
    which. On a CPU the process's peak RSS is reported beside it (``peak_rss_mb``): it also holds
    the interpreter, the libraries and the heap's fragmentation.

    Args:
        model: a built :class:`~mtbench.models.MultiTaskModel`.
        batch_size: images per training step and per inference forward.
        size: input ``(H, W)``.
        steps: timed training steps, and timed inference forwards (each of plain and merged).
        warmup: warm-up training steps, and warm-up inference forwards.
        device: ``'cpu'``, ``'cuda[:N]'``, or None for CUDA when available.
        lr: AdamW learning rate of the training steps.
        amp: ``'none'``, ``'bf16'`` or ``'fp16'`` (see the module docstring).

    Returns:
        The figures (listed in ``docs/benchmarks.md``), e.g. ``train_throughput`` (img/s),
        ``inference_latency_ms`` (per image, unmerged), ``inference_latency_merged_ms``.

    Raises:
        ConfigError: CUDA asked for but not available, or an unknown ``amp``.
    """
    device = resolve_device(device)
    autocast = autocast_factory(device, amp)
    model.to(device)
    data = fake_batch(model, batch_size, size, device)
    flops = count_forward_flops(model, data['inputs'][:1])
    train_flops = count_train_flops(model, data) / batch_size
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr)
    scaler = torch.amp.GradScaler(device.type) if amp == 'fp16' else None
    model.train()
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    times, faults, warmed = [], [], 0
    while len(times) < steps:
        faults_before = _minor_faults()
        elapsed = timed_call(lambda: train_step(model, data, opt, params, autocast, scaler),
                             device)
        new_faults = _minor_faults() - faults_before
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
    if device.type == 'cuda':
        peak, rss = peak_memory_mb(device), None
    else:  # RSS first: the profiler of the tensor count allocates memory of its own
        rss = peak_memory_mb(device)
        peak = cpu_step_peak_bytes(
            lambda: train_step(model, data, opt, params, autocast, scaler)) / 2**20
    opt.zero_grad(set_to_none=True)
    return {
        'flops_per_image': flops,
        'train_flops_per_image': train_flops,
        'train_step_s': step,
        'train_step_s_all': times,
        'train_step_minor_faults': faults,
        'warmup_steps': warmed,
        'train_throughput': batch_size / step,
        'peak_memory_mb': peak,
        'peak_memory_kind': 'cuda_max_allocated' if device.type == 'cuda' else 'cpu_live_tensors',
        'peak_rss_mb': rss,
        **inference_latency(model, data['inputs'], warmup, steps, autocast, device),
        'amp': amp,
        'batch_size': batch_size,
        'input_size': list(size),
        'hardware': hardware_string(device),
    }
