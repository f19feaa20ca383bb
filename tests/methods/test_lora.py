"""LoRA: the layer equation in float64, target selection, hand-computed Swin-T counts."""
import os.path as osp

import pytest
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.engine.runner_utils import load_config
from mtbench.methods.lora import LoRALinear
from mtbench.registry import MODELS, build_or_explain

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
TASKS = ('semseg', 'saliency', 'normals')
DECODERS_SWIN_T_PASCAL = 1_946_624
# Swin-T: (width C, depth) per stage.
STAGES = [(96, 2), (192, 2), (384, 6), (768, 2)]


def _swin_t_pascal_448(method):
    cfg = dict(type='MultiTaskModel', tasks=PASCAL, dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=method)
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


def test_layer_equation_float64():
    torch.manual_seed(0)
    base = torch.nn.Linear(12, 18)
    layer = LoRALinear(base, rank=3, alpha=6.0)
    with torch.no_grad():
        layer.lora_B.normal_()
    x = torch.randn(4, 5, 12)
    a, b = layer.lora_A.double(), layer.lora_B.double()
    w, bias = base.weight.double(), base.bias.double()
    expected = x.double() @ w.T + bias + (6.0 / 3) * (x.double() @ a.T @ b.T)
    torch.testing.assert_close(layer(x).double(), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('rank', [4, 16])
def test_attention_only_swin_t_count_by_hand(rank):
    model = _swin_t_pascal_448(dict(type='LoRA', rank=rank, alpha=rank, targets=('attn.qkv',)))
    # qkv maps C -> 3C: A is r x C, B is 3C x r, i.e. 4 r C per block.
    lora = sum(depth * rank * (c + 3 * c) for c, depth in STAGES)
    assert lora == 17_664 * rank
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == lora + \
        DECODERS_SWIN_T_PASCAL
    assert counts['backbone_added'] == lora and counts['backbone_original'] == 0


def test_attention_only_config_count():
    cfg = load_config(osp.join(REPO, 'configs/lora/lora-r16-attn_swin-t_pascal-mt-448.py'))
    assert cfg.model.method == dict(type='LoRA', rank=16, alpha=16, targets=('attn.qkv',))
    model = _swin_t_pascal_448(cfg.model.method.to_dict())
    assert count_parameters(model)['trainable'] == 282_624 + 1_946_624 == 2_229_248


def test_attn_qkv_pattern_selects_every_qkv_and_nothing_else():
    torch.manual_seed(0)
    model = build_or_explain(MODELS, tiny_model_cfg(TASKS, method=dict(
        type='LoRA', rank=2, targets=('attn.qkv',))))
    wrapped = [n for n, m in model.backbone.named_modules() if isinstance(m, LoRALinear)]
    assert len(wrapped) == sum(model.backbone.depths)
    assert all(n.endswith('.attn.qkv') for n in wrapped)
    trainable = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert all('.attn.qkv.lora_' in n for n in trainable)


@pytest.mark.parametrize('method,match', [
    (dict(type='LoRA', rank=0, targets=('attn.qkv',)), 'rank'),
    (dict(type='LoRA', rank=2.5, targets=('attn.qkv',)), 'rank'),
    (dict(type='LoRA', rank=2, targets=('attn.qvk',)), "'attn.qvk' matches no Linear"),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        build_or_explain(MODELS, tiny_model_cfg(TASKS, method=method))
