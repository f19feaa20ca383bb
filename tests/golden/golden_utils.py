"""Shared helpers for the golden-model tests (fixtures in ../shared/golden/models/)."""
import os.path as osp

import pytest
import torch

from mtbench.models.reference_keys import to_mtbench_task
from mtbench.registry import MODELS, build_or_explain

GOLDEN = osp.normpath(osp.join(osp.dirname(osp.abspath(__file__)), '..', '..', '..', 'shared',
                               'golden', 'models'))


def load_fixture(name: str) -> dict:
    path = osp.join(GOLDEN, name)
    if not osp.exists(path):
        pytest.skip(f'golden fixture not found: {path}')
    return torch.load(path, map_location='cpu', weights_only=True)


def load_inputs():
    """``(input [2,3,224,224] float32, {mtbench task: target})`` in mtbench's conventions."""
    data = load_fixture('inputs.pt')
    targets = {}
    for task, t in data['loss_targets'].items():
        if task == 'normals':
            t = t.float()
            t = torch.where((t == 255).all(dim=1, keepdim=True), torch.zeros_like(t), t)
            targets['normals'] = t
        else:
            name = 'saliency' if task == 'sal' else task
            targets[name] = t[:, 0].long()
    return data['input'].float(), targets


def tiny_reference_backbone():
    """The fixtures' geometry: embed 24, depths 2-2-2-2, heads 1-2-4-8, window 7, 224 input."""
    return dict(type='SwinTransformer', img_size=224, drop_path_rate=0.0,
                arch=dict(embed_dims=24, depths=[2, 2, 2, 2], num_heads=[1, 2, 4, 8],
                          window_size=7))


def tokens(feature: torch.Tensor) -> torch.Tensor:
    """``[B, C, H, W]`` -> the reference's ``[B, H*W, C]`` token layout."""
    return feature.flatten(2).transpose(1, 2)


def assert_grad_norms(named_grads: dict, reference: dict, name_map) -> None:
    """``|g - ref| <= 5e-4 * ref + 1e-5 * max(ref)`` for every reference tensor."""
    scale = max(reference.values())
    for ref_name, ref in reference.items():
        ours = name_map(ref_name)
        assert ours in named_grads, f'{ref_name} -> {ours} not trainable in mtbench'
        got = named_grads[ours]
        assert abs(got - ref) <= 5e-4 * ref + 1e-5 * scale, \
            f'grad norm of {ref_name}: mtbench {got:.6e} vs reference {ref:.6e}'


def build_reference_model(fixture: dict, method: dict):
    """The fixtures' ``MultiTaskModel`` (tiny Swin, HRNet fusion heads) with ``method``.

    Returns ``(model, tasks)``; ``tasks`` are the fixture's tasks as mtbench names, in the
    fixture's order (which per-task parameter rows, e.g. TADFormer's prompts, follow). The weights
    are not loaded: each test converts its fixture's ``state_dict`` itself.
    """
    tasks = [to_mtbench_task(t) for t in fixture['tasks']]
    model = build_or_explain(MODELS, dict(
        type='MultiTaskModel', tasks=tasks, dataset='pascal-mt', backbone=tiny_reference_backbone(),
        decoder=dict(type='HRNetFusionHead', reduce_channels=[6, 12, 24, 48]), method=method))
    return model, tasks


def max_rel_err(ours: torch.Tensor, ref: torch.Tensor) -> float:
    """``max|ours - ref| / max|ref|``."""
    return ((ours - ref).abs().max() / ref.abs().max()).item()


def assert_eval_outputs_match(model, x: torch.Tensor, tasks, fixture: dict) -> dict:
    """In eval mode, every backbone feature and head output matches the fixture's.

    Tolerance: ``rtol=1e-5, atol=1e-5 * max|ref|`` per tensor. Returns
    ``{'feature <task>[<i>]' | 'head <task>': max relative error}`` for reporting.
    """
    errors = {}
    model.eval()
    with torch.no_grad():
        feats = model.backbone(x, tasks)
        for ref_task, refs in fixture['features'].items():
            for i, (ours, ref) in enumerate(zip(feats[to_mtbench_task(ref_task)], refs)):
                torch.testing.assert_close(tokens(ours), ref, rtol=1e-5,
                                           atol=1e-5 * ref.abs().max().item())
                errors[f'feature {ref_task}[{i}]'] = max_rel_err(tokens(ours), ref)
        for ref_task, ref in fixture['head_outputs'].items():
            task = to_mtbench_task(ref_task)
            out = model.decoders[task](feats[task])
            torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5 * ref.abs().max().item())
            errors[f'head {ref_task}'] = max_rel_err(out, ref)
    return errors


def assert_train_step_matches(model, x: torch.Tensor, targets: dict, tasks, fixture: dict,
                              name_map) -> None:
    """One train-mode forward/backward matches the fixture's losses and gradient norms.

    Per-task and weighted total losses within a relative ``1e-5``; gradient norms as in
    :func:`assert_grad_norms`. The gradients are left in the model for further checks.
    """
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


def assert_bn_running_stats_match(model, fixture: dict, name_map) -> None:
    """BatchNorm running statistics after the train forward match (``rtol=1e-5, atol=1e-6``)."""
    state = model.state_dict()
    for ref_name, ref in fixture['bn_running_after_train_forward'].items():
        ours = state[name_map(ref_name)]
        torch.testing.assert_close(ours.float(), torch.as_tensor(ref).float(), rtol=1e-5,
                                   atol=1e-6)
