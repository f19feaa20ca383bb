"""The plain multi-task Swin (full fine-tuning) reproduces the reference model exactly."""
import torch
from golden_utils import (assert_bn_running_stats_match, assert_eval_outputs_match,
                          assert_train_step_matches, build_reference_model, load_fixture,
                          load_inputs)

from mtbench.models.backbones import convert_swin_state_dict
from mtbench.models.reference_keys import convert_reference_decoders, split_reference_state_dict


def _model(fixture):
    model, tasks = build_reference_model(fixture, dict(type='FullFineTuning'))
    backbone_sd, _ = split_reference_state_dict(fixture['state_dict'])
    state = {f'backbone.{k}': v for k, v in
             convert_swin_state_dict({k: v.float() for k, v in backbone_sd.items()}).items()}
    state.update(convert_reference_decoders(fixture['state_dict']))
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all('relative_position_index' in k or 'attn_mask' in k for k in missing), missing
    return model, tasks


def _name_map(ref_name: str) -> str:
    if ref_name.startswith('backbone.'):
        return ref_name  # the plain reference Swin uses the official layout, as mtbench does
    return next(iter(convert_reference_decoders({ref_name: torch.zeros(1)})))


def test_features_heads_loss_and_gradients_match_reference():
    torch.set_num_threads(1)
    fixture = load_fixture('swin_mtl_full.pt')
    x, targets = load_inputs()
    model, tasks = _model(fixture)
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) \
        == fixture['num_trainable']
    assert_eval_outputs_match(model, x, tasks, fixture)
    assert_train_step_matches(model, x, targets, tasks, fixture, _name_map)
    assert_bn_running_stats_match(model, fixture, _name_map)
