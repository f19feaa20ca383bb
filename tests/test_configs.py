"""Every config in configs/ loads, validates and builds (on the meta device, no weights)."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from mtbench.engine.config_check import ConfigError, check_config
from mtbench.engine.model_builder import build_model_from_config
from mtbench.engine.params import count_parameters

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = sorted(p for p in glob.glob(osp.join(REPO, 'configs', '**', '*.py'), recursive=True)
                 if '_base_' not in p and 'suites' not in p)


def test_configs_exist():
    names = {osp.relpath(p, osp.join(REPO, 'configs')) for p in CONFIGS}
    for required in ('full_ft/full-ft_swin-t_pascal-mt-448.py',
                     'full_ft/full-ft_swin-t_nyud-mt-448.py',
                     'decoder_only/decoder-only_swin-t_pascal-mt-448.py',
                     'single_task/single-task-semseg_swin-t_pascal-mt-448.py',
                     'single_task/single-task-human-parts_swin-t_pascal-mt-448.py',
                     'single_task/single-task-saliency_swin-t_pascal-mt-448.py',
                     'single_task/single-task-normals_swin-t_pascal-mt-448.py'):
        assert required in names


@pytest.mark.parametrize('path', CONFIGS, ids=lambda p: osp.relpath(p, REPO))
def test_config_builds(path):
    cfg = Config.fromfile(path)
    check_config(cfg)
    with open(path) as f:
        text = f.read()
    assert 'import ' not in text, 'configs must not import'
    for base in cfg.get('_base_', []) if isinstance(cfg.get('_base_'), list) else []:
        with open(osp.join(osp.dirname(path), base)) as f:
            assert '_base_' not in f.read(), 'one level of _base_ only'
    model = build_model_from_config(cfg, load_pretrained=False, device='meta')
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    tasks = cfg.model.tasks
    for split in ('train', 'val', 'test'):
        loader = cfg.get(f'{split}_dataloader')
        if loader:
            assert list(loader.dataset.tasks) == list(tasks), f'{split} tasks != model tasks'
    evaluator = cfg.get('test_evaluator')
    if evaluator:
        assert sorted(m['task'] for m in evaluator.metrics) == sorted(tasks)


def test_misspelt_key_and_type_are_named():
    cfg = Config.fromfile(osp.join(REPO, 'configs/full_ft/full-ft_swin-t_pascal-mt-448.py'))
    bad = Config(dict(cfg.to_dict(), trian_dataloader=dict()))
    with pytest.raises(ConfigError, match="Did you mean 'train_dataloader'"):
        check_config(bad)
    cfg.model.method = dict(type='Lora')
    with pytest.raises(ConfigError, match='model.method.type'):
        check_config(cfg)
    cfg.model.method = dict(type='FullFineTuning')
    cfg.model.backbone.archh = 'tiny'
    with pytest.raises(ConfigError, match="model.backbone.archh.*Did you mean 'arch'"):
        check_config(cfg)


def test_count_params_cli_json():
    out = subprocess.run([sys.executable, 'tools/analysis/count_params.py',
                          'configs/full_ft/full-ft_swin-t_pascal-mt-448.py', '--json'],
                         cwd=REPO, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    counts = json.loads(out.stdout)
    assert counts['trainable'] == 29_464_442 and counts['total'] == 29_464_442
    assert counts['decoders'] == 1_946_624 and counts['backbone_original'] == 27_517_818


def test_train_cli_reports_bad_config(tmp_path):
    bad = tmp_path / 'bad.py'
    bad.write_text("_base_ = ['%s']\ntrian_cfg = dict()\n" % osp.join(
        REPO, 'configs/full_ft/full-ft_swin-t_pascal-mt-448.py'))
    out = subprocess.run([sys.executable, 'tools/train.py', str(bad)], cwd=REPO,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert "Did you mean 'train_cfg'" in out.stderr
    assert 'Traceback' not in out.stderr


def test_unknown_constructor_argument_is_named():
    from mtbench.registry import METHODS, build_or_explain
    with pytest.raises(TypeError, match=r"'MTLoRA' got unknown argument\(s\) 'rnak' "
                                        r"\(did you mean 'rank'\?\)"):
        build_or_explain(METHODS, dict(type='MTLoRA', rnak=4))
    with pytest.raises(TypeError, match="'FullFineTuning' got unknown argument.*accepts: none"):
        build_or_explain(METHODS, dict(type='FullFineTuning', dropout=0.1))
