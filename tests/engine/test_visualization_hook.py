"""PredictionVisualizationHook on a fake batch, and ``tools/test.py --show-dir`` end to end."""
import importlib.util
import os
import os.path as osp
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image
from runner_cfg import REPO, small_runner_cfg

from mtbench.engine.hooks import PredictionVisualizationHook
from mtbench.engine.hooks.visualization_hook import BINARY_IGNORE_GRAY, CAPTION_HEIGHT
from mtbench.errors import MissingPathError
from mtbench.models.data_preprocessor import MultiTaskDataPreprocessor
from mtbench.registry import HOOKS

H, W = 16, 20
TASKS = ['semseg', 'human_parts', 'saliency', 'normals', 'edge', 'depth']


def _fake_runner():
    model = SimpleNamespace(data_preprocessor=MultiTaskDataPreprocessor())
    logger = SimpleNamespace(info=lambda msg: None)
    return SimpleNamespace(rank=0, model=model, logger=logger)


def _fake_sample(i):
    """A predict-mode output: predictions and (padded by 4 rows) targets as the model returns."""
    g = torch.Generator().manual_seed(i)
    semseg_gt = torch.randint(0, 21, (H + 4, W), generator=g)
    semseg_gt[:4] = 255
    normals_gt = torch.nn.functional.normalize(torch.randn(3, H + 4, W, generator=g), dim=0)
    normals_gt[:, :, :5] = 0
    depth_gt = torch.rand(H + 4, W, generator=g) * 5 + 0.5
    depth_gt[-6:] = 0
    pred = {
        'semseg': torch.randint(0, 21, (H + 4, W), generator=g),
        'human_parts': torch.randint(0, 7, (H + 4, W), generator=g),
        'saliency': torch.rand(H + 4, W, generator=g),
        'normals': torch.nn.functional.normalize(torch.randn(3, H + 4, W, generator=g), dim=0),
        'edge': torch.rand(H + 4, W, generator=g),
        'depth': torch.rand(H + 4, W, generator=g) * 5,
    }
    gt = {
        'semseg': semseg_gt,
        'human_parts': torch.full((H + 4, W), 255, dtype=torch.int64),
        'saliency': torch.randint(0, 2, (H + 4, W), generator=g),
        'normals': normals_gt,
        'edge': torch.where(torch.arange(W) < 3, 255, 1).expand(H + 4, W).clone(),
        'depth': depth_gt,
    }
    return {'img_id': f'img/{i:03d}', 'pred': pred, 'gt': gt}


def _tile(canvas, row, col):
    """The map part (without caption) of tile (row, col) of a saved canvas."""
    top = row * (H + CAPTION_HEIGHT) + CAPTION_HEIGHT
    return canvas[top:top + H, col * W:(col + 1) * W]


def _run_hook(hook, runner, batches):
    hook.before_test(runner)
    for idx, (inputs, outputs) in enumerate(batches):
        hook.after_test_iter(runner, idx, {'inputs': inputs, 'data_samples': {}}, outputs)
    hook.after_test(runner)


def test_hook_is_registered():
    hook = HOOKS.build(dict(type='PredictionVisualizationHook', show_dir='x', max_samples=3))
    assert isinstance(hook, PredictionVisualizationHook)
    assert hook.max_samples == 3 and hook.interval == 1


def test_hook_saves_tiles_with_ignore_black(tmp_path):
    show = tmp_path / 'show'
    images = torch.randint(0, 256, (2, 3, H, W), dtype=torch.uint8)
    batches = [(images, [_fake_sample(0), _fake_sample(1)]),
               (images, [_fake_sample(2), _fake_sample(3)])]
    _run_hook(PredictionVisualizationHook(str(show), max_samples=3), _fake_runner(), batches)
    assert sorted(os.listdir(show)) == ['img_000.png', 'img_001.png', 'img_002.png']

    canvas = np.asarray(Image.open(show / 'img_001.png'))
    assert canvas.shape == (2 * (H + CAPTION_HEIGHT), (1 + len(TASKS)) * W, 3)
    assert (_tile(canvas, 0, 0) == images[1].permute(1, 2, 0).numpy()).all()
    semseg_gt = _tile(canvas, 1, 1)
    assert (semseg_gt[:4] == 0).all()  # ignored rows black
    assert semseg_gt[4:].reshape(-1, 3).any(axis=1).all()  # classes (background too) not black
    assert (_tile(canvas, 1, 2) == 0).all()  # all-ignored human parts
    assert (_tile(canvas, 1, 4)[:, :5] == 0).all()  # invalid normals
    assert _tile(canvas, 1, 4)[:, 5:].reshape(-1, 3).any(axis=1).all()
    assert (_tile(canvas, 1, 5)[:, :3] == BINARY_IGNORE_GRAY).all()  # ignored edge pixels
    assert set(np.unique(_tile(canvas, 1, 3))) <= {0, 255}  # binary saliency target
    depth_gt = _tile(canvas, 1, 6)
    assert (depth_gt[-2:] == 0).all() and depth_gt[:-6].reshape(-1, 3).any(axis=1).all()


def test_hook_interval_and_float_inputs(tmp_path):
    show = tmp_path / 'show'
    pre = MultiTaskDataPreprocessor()
    images = torch.randint(0, 256, (2, 3, H, W), dtype=torch.uint8)
    normalised = (images.float() - pre.mean) / pre.std
    batches = [(normalised, [_fake_sample(2 * b), _fake_sample(2 * b + 1)]) for b in range(3)]
    _run_hook(PredictionVisualizationHook(str(show), max_samples=None, interval=2),
              _fake_runner(), batches)
    assert sorted(os.listdir(show)) == ['img_000.png', 'img_001.png', 'img_004.png',
                                        'img_005.png']
    canvas = np.asarray(Image.open(show / 'img_004.png'))
    assert np.abs(_tile(canvas, 0, 0).astype(int)
                  - images[0].permute(1, 2, 0).numpy().astype(int)).max() <= 1


def _load_test_tool():
    spec = importlib.util.spec_from_file_location('mtbench_tools_test',
                                                  osp.join(REPO, 'tools', 'test.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_uncreatable_show_dir_is_named(tmp_path):
    blocker = tmp_path / 'file'
    blocker.write_text('')
    bad = str(blocker / 'show')
    with pytest.raises(OSError, match='show'):
        PredictionVisualizationHook(bad).before_test(_fake_runner())
    with pytest.raises(MissingPathError, match=r'--show-dir .*file/show'):
        _load_test_tool().add_show_dir_hook(SimpleNamespace(get=lambda k: None), bad)


def test_tools_test_show_dir_end_to_end(synthetic_pascal, tmp_path):
    from mtbench.engine.model_builder import build_model_from_config
    cfg = small_runner_cfg(synthetic_pascal, str(tmp_path / 'work'), batch_size=4)
    config = str(tmp_path / 'nano_test.py')
    cfg.dump(config)
    torch.manual_seed(0)
    ckpt = str(tmp_path / 'init.pth')
    torch.save({'state_dict': build_model_from_config(cfg).state_dict()}, ckpt)
    show = str(tmp_path / 'vis')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, 'tools/test.py', config, ckpt, '--show-dir', show,
                           '--show-max-samples', '5'], cwd=REPO, capture_output=True,
                          text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    files = sorted(os.listdir(show))
    assert len(files) == 5 and all(f.endswith('.png') for f in files)
    with open(osp.join(synthetic_pascal, 'ImageSets', 'Context', 'val.txt')) as f:
        val_ids = [line.strip() for line in f if line.strip()]
    assert files == sorted(f'{i}.png' for i in val_ids[:5])
    size = Image.open(osp.join(show, files[0])).size
    assert size == (5 * 64, 2 * (64 + CAPTION_HEIGHT))
    assert osp.isfile(osp.join(str(tmp_path / 'work'), 'result.json'))
