"""Mixed precision and merged inference in mtbench.engine.efficiency.measure (CPU), and
tools/train.py --amp on a machine without a GPU."""
import contextlib
import math
import os.path as osp
import subprocess
import sys

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

import mtbench.engine.efficiency as efficiency
from mtbench.registry import MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NO_CUDA = pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without CUDA')


def _model(method):
    torch.manual_seed(0)
    return build_or_explain(MODELS, tiny_model_cfg(method=method))


def _record_linear_dtypes(model):
    """(training?, output dtype) of every call of the backbone's first Linear."""
    seen = []
    linear = next(m for m in model.backbone.modules() if isinstance(m, torch.nn.Linear))
    linear.register_forward_hook(lambda mod, _inp, out: seen.append((mod.training, out.dtype)))
    return seen


@pytest.fixture
def no_flop_count(monkeypatch):
    # FLOPs are counted in float32 outside autocast; these tests look at the timed passes only.
    monkeypatch.setattr(efficiency, 'count_forward_flops', lambda *a: 1)
    monkeypatch.setattr(efficiency, 'count_train_flops', lambda *a: 1)


@pytest.mark.parametrize('amp,dtype', [('none', torch.float32), ('bf16', torch.bfloat16)])
def test_train_and_inference_forwards_run_under_autocast(no_flop_count, amp, dtype):
    model = _model(dict(type='FullFineTuning'))
    seen = _record_linear_dtypes(model)
    figures = efficiency.measure(model, batch_size=1, size=(32, 32), steps=2, warmup=1,
                                 device='cpu', amp=amp)
    train = {d for training, d in seen if training}
    infer = {d for training, d in seen if not training}
    assert train == {dtype} and infer == {dtype}
    assert figures['amp'] == amp
    for key in ('train_throughput', 'peak_memory_mb', 'inference_latency_ms'):
        assert math.isfinite(figures[key]) and figures[key] > 0
    # Full fine-tuning has nothing to merge.
    assert figures['mergeable'] is False and figures['inference_latency_merged_ms'] is None


def test_fp16_scales_the_loss_and_unscales_before_clipping(no_flop_count, monkeypatch):
    events = []

    class SpyScaler(torch.amp.GradScaler):
        def unscale_(self, optimizer):
            events.append('unscale')
            return super().unscale_(optimizer)

        def step(self, optimizer, *args, **kwargs):
            events.append('step')
            return super().step(optimizer, *args, **kwargs)

    clip = torch.nn.utils.clip_grad_norm_
    monkeypatch.setattr(torch.amp, 'GradScaler', SpyScaler)
    monkeypatch.setattr(torch.nn.utils, 'clip_grad_norm_',
                        lambda *a, **k: events.append('clip') or clip(*a, **k))
    model = _model(dict(type='FullFineTuning'))
    seen = _record_linear_dtypes(model)
    figures = efficiency.measure(model, batch_size=1, size=(32, 32), steps=1, warmup=1,
                                 device='cpu', amp='fp16')
    assert {d for _, d in seen} == {torch.float16}
    # Every step (warm-up ones included; at least 2): unscale, clip, then step.
    assert len(events) >= 6 and events == ['unscale', 'clip', 'step'] * (len(events) // 3)
    assert figures['amp'] == 'fp16' and math.isfinite(figures['train_throughput'])


def test_bf16_needs_no_grad_scaler(no_flop_count, monkeypatch):
    def no_scaler(*args, **kwargs):
        raise AssertionError('bf16 must not build a GradScaler')

    monkeypatch.setattr(torch.amp, 'GradScaler', no_scaler)
    efficiency.measure(_model(dict(type='DecoderOnly')), batch_size=1, size=(32, 32), steps=1,
                       warmup=0, device='cpu', amp='bf16')


@pytest.mark.parametrize('method', [
    dict(type='LoRA', rank=2, targets=('qkv', 'proj', 'fc1', 'fc2')),
    dict(type='FAAR', rank=4, task_rank=2),  # its state holds extra (non-tensor) state
    dict(type='FreeSinewich', rank=4),
    dict(type='DiTASK', cells=4, task_cells=3)], ids=lambda m: m['type'])
def test_merged_latency_and_exact_restore_after_unmerge(method):
    model = _model(method)
    with torch.no_grad():  # trained-looking: merging changes the frozen weights
        for p in model.backbone.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    before = {k: v.clone() for k, v in model.state_dict().items() if torch.is_tensor(v)}
    inputs = torch.rand(2, 3, 32, 32)
    merges = []
    merge = model.method.merge
    model.method.merge = lambda m: merges.append(1) or merge(m)
    from mtbench.engine.latency import inference_latency
    figures = inference_latency(model, inputs, warmup=1, steps=3,
                                autocast=contextlib.nullcontext, device=torch.device('cpu'))
    assert merges == [1] and figures['mergeable'] is True
    assert figures['inference_latency_ms'] > 0 and figures['inference_latency_merged_ms'] > 0
    assert figures['unmerge_max_abs_diff'] is not None
    after = model.state_dict()
    assert all(torch.equal(after[k], v) for k, v in before.items())  # bit for bit
    assert not any(getattr(m, 'merged', False) for m in model.modules())


def test_unknown_device_and_amp_are_one_line_errors():
    from mtbench.errors import ConfigError
    with pytest.raises(ConfigError, match='only cpu and cuda'):
        efficiency.resolve_device('meta')
    with pytest.raises(ConfigError, match='choose one of none, bf16, fp16'):
        efficiency.autocast_factory(torch.device('cpu'), 'fp8')


@NO_CUDA
def test_cuda_without_cuda_is_a_config_error():
    from mtbench.errors import ConfigError
    with pytest.raises(ConfigError, match='CUDA is not available on this machine'):
        efficiency.resolve_device('cuda')


@NO_CUDA
@pytest.mark.parametrize('flags,message', [
    (['--amp'], '--amp needs a GPU'),
    (['--amp-dtype', 'bf16'], '--amp-dtype bf16 needs --amp'),
    (['--amp', '--no-amp'], 'contradict'),
    (['--paper'], 'AmpOptimWrapper) needs a GPU (mmengine')])
def test_train_amp_without_a_gpu_is_one_line(tmp_path, flags, message, synthetic_pascal):
    config = 'configs/synthetic/lora-r4_swin-nano_synthetic-pascal-64.py'
    if flags == ['--paper']:  # a paper config trains with AmpOptimWrapper
        config, flags = 'configs/lora/lora-r4_swin-t_pascal-mt-448.py', []
    # The data exists, so the device check (after the path checks) is what fails.
    options = ['model.pretrained=None', *(f'{s}_dataloader.dataset.data_root={synthetic_pascal}'
                                          for s in ('train', 'val', 'test'))]
    proc = subprocess.run(
        [sys.executable, 'tools/train.py', config, *flags, '--work-dir', str(tmp_path),
         '--cfg-options', *options],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: ') and message in lines[0]


def test_no_amp_turns_a_paper_config_into_a_plain_optim_wrapper():
    import argparse

    from mmengine.config import Config
    sys.path.insert(0, osp.join(REPO, 'tools'))
    try:
        from train import configure_amp
    finally:
        sys.path.pop(0)
    cfg = Config.fromfile(osp.join(REPO, 'configs/lora/lora-r4_swin-t_pascal-mt-448.py'))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and 'loss_scale' in cfg.optim_wrapper
    configure_amp(cfg, argparse.Namespace(amp=False, no_amp=True, amp_dtype=None,
                                          config='paper'))
    assert cfg.optim_wrapper.type == 'OptimWrapper' and 'loss_scale' not in cfg.optim_wrapper
    assert cfg.optim_wrapper.clip_grad == dict(max_norm=5.0)  # the rest of the recipe is kept
