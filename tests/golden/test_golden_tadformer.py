"""TADFormer with the Dynamic Task Filter reproduces the reference model (tadformer_dtf_r8.pt)."""
import torch
from golden_utils import (assert_grad_norms, load_fixture, load_inputs, tiny_reference_backbone,
                          tokens)

from mtbench.methods.tadformer import (convert_tadformer_checkpoint,
                                       to_reference_tadformer_checkpoint)
from mtbench.models.reference_keys import to_mtbench_task
from mtbench.registry import MODELS, build_or_explain


def _model(fixture):
    tasks = [to_mtbench_task(t) for t in fixture['tasks']]  # prompt rows follow this order
    model = build_or_explain(MODELS, dict(
        type='MultiTaskModel', tasks=tasks, dataset='pascal-mt', backbone=tiny_reference_backbone(),
        decoder=dict(type='HRNetFusionHead', reduce_channels=[6, 12, 24, 48]),
        method=dict(type='TADFormer', rank=8, scale=4.0, dropout=0.0, filter='dtf')))
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
    model.eval()
    with torch.no_grad():
        feats = model.backbone(x, tasks)
        for ref_task, refs in fixture['features'].items():
            for ours, ref in zip(feats[to_mtbench_task(ref_task)], refs):
                torch.testing.assert_close(tokens(ours), ref, rtol=1e-5,
                                           atol=1e-5 * ref.abs().max().item())
        for ref_task, ref in fixture['head_outputs'].items():
            task = to_mtbench_task(ref_task)
            out = model.decoders[task](feats[task])
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())

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
    assert_grad_norms(grads, fixture['grad_norms'], _name_map)
    dead = {_name_map(n) for n in fixture['trainable_without_grad']}
    assert dead == {n for n, p in model.named_parameters() if p.requires_grad and p.grad is None}
