"""The plain multi-task Swin (full fine-tuning) reproduces the reference model exactly."""
import torch
from golden_utils import (assert_grad_norms, load_fixture, load_inputs, tiny_reference_backbone,
                          tokens)

from mtbench.models.backbones import convert_swin_state_dict
from mtbench.models.reference_keys import (convert_reference_decoders, split_reference_state_dict,
                                           to_mtbench_task)
from mtbench.registry import MODELS, build_or_explain


def _model(fixture):
    tasks = [to_mtbench_task(t) for t in fixture['tasks']]
    model = build_or_explain(MODELS, dict(
        type='MultiTaskModel', tasks=tasks, dataset='pascal-mt', backbone=tiny_reference_backbone(),
        decoder=dict(type='HRNetFusionHead', reduce_channels=[6, 12, 24, 48]),
        method=dict(type='FullFineTuning')))
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
    for ref_name, ref in fixture['bn_running_after_train_forward'].items():
        ours = model.state_dict()[_name_map(ref_name)]
        torch.testing.assert_close(ours.float(), torch.as_tensor(ref).float(), rtol=1e-5,
                                   atol=1e-6)
