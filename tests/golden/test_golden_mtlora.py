"""MTLoRA reproduces the reference model (fixture mtlora_r8_t4.pt) exactly."""
import torch
from golden_utils import (assert_grad_norms, load_fixture, load_inputs, tiny_reference_backbone,
                          tokens)

from mtbench.methods.mtlora import convert_mtlora_checkpoint, mtlora_key_map
from mtbench.models.reference_keys import to_mtbench_task
from mtbench.registry import MODELS, build_or_explain


def _model(fixture):
    tasks = [to_mtbench_task(t) for t in fixture['tasks']]
    model = build_or_explain(MODELS, dict(
        type='MultiTaskModel', tasks=tasks, dataset='pascal-mt', backbone=tiny_reference_backbone(),
        decoder=dict(type='HRNetFusionHead', reduce_channels=[6, 12, 24, 48]),
        method=dict(type='MTLoRA', rank=8, task_rank=4, shared_scale=4.0, dropout=0.0)))
    state = convert_mtlora_checkpoint(fixture['state_dict'], dtype=torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    assert not unexpected and not missing, (missing, unexpected)
    return model, tasks


def _name_map(fixture):
    return mtlora_key_map(fixture['state_dict']).__getitem__


def _rel_err(ours, ref):
    return ((ours - ref).abs().max() / ref.abs().max()).item()


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

    errors = {}
    model.eval()
    with torch.no_grad():
        feats = model.backbone(x, tasks)
        for ref_task, refs in fixture['features'].items():
            for i, (ours, ref) in enumerate(zip(feats[to_mtbench_task(ref_task)], refs)):
                torch.testing.assert_close(tokens(ours), ref, rtol=1e-5,
                                           atol=1e-5 * ref.abs().max().item())
                errors[f'feature {ref_task}[{i}]'] = _rel_err(tokens(ours), ref)
        for ref_task, ref in fixture['head_outputs'].items():
            task = to_mtbench_task(ref_task)
            out = model.decoders[task](feats[task])
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())
            errors[f'head {ref_task}'] = _rel_err(out, ref)

    model.train()
    outputs = model.forward_tasks(x)
    per_task = {t: model.losses[t](outputs[t], targets[t]) for t in tasks}
    for ref_task, ref in fixture['loss_per_task'].items():
        got = per_task[to_mtbench_task(ref_task)].item()
        assert abs(got - ref) <= 1e-5 * abs(ref), f'{ref_task} loss {got} vs {ref}'
    total = sum(model.loss_weights[t] * per_task[t] for t in tasks)
    assert abs(total.item() - fixture['loss']) <= 1e-5 * fixture['loss']
    total.backward()
    grads = {n: p.grad.norm().item() if p.grad is not None else 0.0
             for n, p in model.named_parameters() if p.requires_grad}
    assert_grad_norms(grads, fixture['grad_norms'], name_map)
    dead = {name_map(n) for n in fixture['trainable_without_grad']}
    params = dict(model.named_parameters())
    for name in dead:
        assert params[name].grad is None, f'{name} should get no gradient (dead in the reference)'
    alive = [n for n in trainable if n not in dead]
    assert all(params[n].grad is not None for n in alive)
    for ref_name, ref in fixture['bn_running_after_train_forward'].items():
        ours = model.state_dict()[name_map(ref_name)]
        torch.testing.assert_close(ours.float(), torch.as_tensor(ref).float(), rtol=1e-5,
                                   atol=1e-6)
    print('max relative errors:', max(errors.values()), errors)
