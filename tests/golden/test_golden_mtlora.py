"""MTLoRA reproduces the reference model (fixture mtlora_r8_t4.pt) exactly."""
import torch
from golden_utils import (assert_bn_running_stats_match, assert_eval_outputs_match,
                          assert_train_step_matches, build_reference_model, load_fixture,
                          load_inputs)

from mtbench.methods.mtlora import convert_mtlora_checkpoint, mtlora_key_map


def _model(fixture):
    model, tasks = build_reference_model(
        fixture, dict(type='MTLoRA', rank=8, task_rank=4, shared_scale=4.0, dropout=0.0))
    state = convert_mtlora_checkpoint(fixture['state_dict'], dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    return model, tasks


def _name_map(fixture):
    return mtlora_key_map(fixture['state_dict']).__getitem__


def test_features_heads_loss_gradients_and_trainable_set_match_reference():
    torch.set_num_threads(1)
    fixture = load_fixture('mtlora_r8_t4.pt')
    x, targets = load_inputs()
    model, tasks = _model(fixture)
    name_map = _name_map(fixture)

    trainable = {n: p.numel() for n, p in model.named_parameters() if p.requires_grad}
    mapped = {name_map(n) for n in fixture['trainable']}
    assert len(mapped) == len(fixture['trainable'])
    assert mapped == set(trainable)
    assert sum(trainable.values()) == fixture['num_trainable'] == model.method.num_trainable(model)

    errors = assert_eval_outputs_match(model, x, tasks, fixture)
    assert_train_step_matches(model, x, targets, tasks, fixture, name_map)
    dead = {name_map(n) for n in fixture['trainable_without_grad']}
    params = dict(model.named_parameters())
    for name in dead:
        assert params[name].grad is None, f'{name} should get no gradient (dead in the reference)'
    alive = [n for n in trainable if n not in dead]
    assert all(params[n].grad is not None for n in alive)
    assert_bn_running_stats_match(model, fixture, name_map)
    print('max relative errors:', max(errors.values()), errors)
