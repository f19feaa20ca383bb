"""TADFormer with the Dynamic Task Filter reproduces the reference model (tadformer_dtf_r8.pt)."""
import torch
from golden_utils import (assert_eval_outputs_match, assert_train_step_matches,
                          build_reference_model, load_fixture, load_inputs)

from mtbench.methods.tadformer import (convert_tadformer_checkpoint,
                                       to_reference_tadformer_checkpoint)


def _model(fixture):
    model, tasks = build_reference_model(  # prompt rows follow the fixture's task order
        fixture, dict(type='TADFormer', rank=8, scale=4.0, dropout=0.0, filter='dtf'))
    state = convert_tadformer_checkpoint(fixture['state_dict'], ref_tasks=fixture['tasks'])
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=True)
    assert not missing and not unexpected
    return model, tasks


def _name_map(ref_name: str) -> str:
    return next(iter(convert_tadformer_checkpoint({ref_name: torch.zeros(1)})))


def test_converter_round_trip_and_trainable_set():
    fixture = load_fixture('tadformer_dtf_r8.pt')
    model, tasks = _model(fixture)
    ours = {n for n, p in model.named_parameters() if p.requires_grad}
    mapped = [_name_map(n) for n in fixture['trainable']]
    assert len(set(mapped)) == len(mapped) and set(mapped) == ours
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) \
        == fixture['num_trainable'] == model.method.num_trainable(model) == 344_442
    back = to_reference_tadformer_checkpoint(model.state_dict(), tasks, fixture['tasks'])
    ref = {k: v for k, v in fixture['state_dict'].items()
           if not k.endswith(('attn_mask', 'relative_position_index'))}
    assert set(back) == set(ref)
    for key, value in ref.items():
        assert torch.equal(back[key].to(value.dtype), value), key


def test_features_heads_loss_and_gradients_match_reference():
    torch.set_num_threads(1)
    fixture = load_fixture('tadformer_dtf_r8.pt')
    x, targets = load_inputs()
    model, tasks = _model(fixture)
    assert_eval_outputs_match(model, x, tasks, fixture)
    assert_train_step_matches(model, x, targets, tasks, fixture, _name_map)
    dead = {_name_map(n) for n in fixture['trainable_without_grad']}
    assert dead == {n for n, p in model.named_parameters() if p.requires_grad and p.grad is None}
