"""Relative-position-bias tuning: trainable set, hand-computed counts, the tables act."""
import torch
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.registry import MODELS, build_or_explain

PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']
TASKS = ('semseg', 'saliency', 'normals')


def _swin_t_pascal_448():
    cfg = dict(type='MultiTaskModel', tasks=PASCAL, dataset='pascal-mt',
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='RelativeBiasTuning'))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


def _nano(seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(TASKS, method=dict(type='RelativeBiasTuning')))


def test_swin_t_pascal_448_count_by_hand():
    model = _swin_t_pascal_448()
    # Swin-T at 448: every stage keeps window 7 (grids 112/56/28/14), 13 x 13 offsets.
    # Blocks x heads: 2 x 3 + 2 x 6 + 6 x 12 + 2 x 24 = 138 tables columns of 169 rows.
    tables = 169 * (2 * 3 + 2 * 6 + 6 * 12 + 2 * 24)
    assert tables == 23_322
    decoders = 1_946_624  # MTLoRA main.py's "Decoder params" (reference_models.md sec. 9.2)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model) == tables + decoders
    assert counts['trainable'] == 1_969_946
    assert counts['backbone_original'] == tables and counts['backbone_added'] == 0
    assert counts['shared'] == tables


def test_nano_count_with_clipped_windows_by_hand():
    model = _nano()
    # Nano at 64: grids 16/8/4/2 with window 4 -> windows 4, 4, 4 (4 <= 4: one window) and 2.
    tables = 2 * 7 ** 2 * 1 + 2 * 7 ** 2 * 2 + 2 * 7 ** 2 * 4 + 2 * 3 ** 2 * 8
    assert model.backbone.window_sizes == (4, 4, 4, 2)
    backbone_trainable = sum(p.numel() for p in model.backbone.parameters() if p.requires_grad)
    assert backbone_trainable == tables == 830
    assert model.method.num_trainable(model) == count_parameters(model)['trainable']


def test_only_the_tables_train_and_all_get_gradients():
    model = _nano()
    trainable = [n for n, p in model.backbone.named_parameters() if p.requires_grad]
    assert len(trainable) == sum(model.backbone.depths) == 8
    assert all(n.endswith('attn.relative_position_bias_table') for n in trainable)
    assert all(p.requires_grad for p in model.decoders.parameters())
    x = torch.randn(2, 3, 64, 64)
    feats = model.backbone(x, list(TASKS))
    sum(f.square().mean() for fs in feats.values() for f in fs).backward()
    for name, param in model.backbone.named_parameters():
        if param.requires_grad:
            assert param.grad is not None and param.grad.abs().sum() > 0, name
        else:
            assert param.grad is None, name


def test_perturbing_a_table_changes_only_later_features():
    model = _nano().eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        before = model.backbone(x)
        model.backbone.layers[2].blocks[0].attn.relative_position_bias_table.add_(0.5)
        after = model.backbone(x)
    for stage in (0, 1):
        torch.testing.assert_close(after[stage], before[stage], rtol=0, atol=0)
    assert not torch.allclose(after[2], before[2])


def test_trainable_state_is_the_tables_and_decoders():
    model = _nano()
    state = model.method.trainable_state_dict(model)
    backbone_keys = [k for k in state if k.startswith('backbone.')]
    assert len(backbone_keys) == 8
    assert all(k.endswith('relative_position_bias_table') for k in backbone_keys)
    assert any(k.startswith('decoders.') for k in state)
