"""DiTASK: the CPA transform against independent computations, the layer equation, counts."""
import copy

import numpy as np
import pytest
import torch
import torch.nn as nn
from mtbench_fixtures import tiny_model_cfg

from mtbench.engine.params import count_parameters
from mtbench.methods.ditask import (DiTASK, DiTASKLinear, cpa_integrate, spectrum_delta,
                                    vertex_velocities, vertex_velocity_matrix)
from mtbench.registry import MODELS, build_or_explain

TASKS = ('semseg', 'saliency', 'normals')
PASCAL = ['semseg', 'human_parts', 'saliency', 'normals']


# ----------------------------------------------------------------------------- references
def difw_rref_affine(theta: np.ndarray, cells: int) -> np.ndarray:
    """Per-cell ``(a_c, b_c)`` of ``v(x) = a_c x + b_c``, built as difw's zero-boundary ``rref``
    basis on [0, 1] is: basis vector k has slope s on cells 1..k, then ``-k s x + k (k+1) s^2``,
    scaled to unit max-norm; ``A = B theta``."""
    s = 1.0 / cells
    basis = np.zeros((cells - 1, 2 * cells))
    for k in range(1, cells):
        basis[k - 1, 0:2 * k:2] = s
        basis[k - 1, 2 * k] = -k * s
        basis[k - 1, 2 * k + 1] = k * s * (k + 1) * s
    basis /= np.abs(basis).max(axis=1, keepdims=True)
    return (theta @ basis).reshape(-1, cells, 2)


def affine_velocity(x: np.ndarray, affine: np.ndarray) -> np.ndarray:
    cells = affine.shape[1]
    cell = np.clip(np.floor(x * cells), 0, cells - 1).astype(int)
    rows = np.arange(x.shape[0])[:, None]
    return affine[rows, cell, 0] * x + affine[rows, cell, 1]


def rk4_flow(x: np.ndarray, affine: np.ndarray, steps: int = 4000) -> np.ndarray:
    h = 1.0 / steps
    for _ in range(steps):
        k1 = affine_velocity(x, affine)
        k2 = affine_velocity(x + h / 2 * k1, affine)
        k3 = affine_velocity(x + h / 2 * k2, affine)
        k4 = affine_velocity(x + h * k3, affine)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def reference_spectrum(sigma: np.ndarray, theta: np.ndarray, cells: int, mode: str,
                       steps: int = 4000):
    """New spectra ``[S, p]`` of one descending spectrum under difw-rref transforms ``theta``."""
    affine = difw_rref_affine(theta, cells)
    p = sigma.shape[0]
    if mode == 'index':
        grid = np.tile(np.linspace(0, 1, p), (theta.shape[0], 1))
        moved = rk4_flow(grid, affine, steps)
        return np.stack([np.interp(m * (p - 1), np.arange(p), sigma) for m in moved])
    moved = rk4_flow(np.tile(sigma / sigma[0], (theta.shape[0], 1)), affine, steps)
    return sigma[0] * moved


def _theta(streams, cells, scale, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    return scale * torch.randn(streams, cells - 1, generator=g, dtype=dtype)


# ----------------------------------------------------------------------------- CPA transform
@pytest.mark.parametrize('cells', [2, 5, 16])
def test_rref_basis_is_difw_basis_and_vertex_basis_is_vertex_values(cells):
    theta = _theta(3, cells, 1.0)
    x = torch.rand(3, 200, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    velocity = vertex_velocities(theta, vertex_velocity_matrix(cells, 'rref'))
    cell = (x * cells).floor().clamp(max=cells - 1).long()
    ours = torch.lerp(velocity.gather(1, cell), velocity.gather(1, cell + 1), x * cells - cell)
    expected = affine_velocity(x.numpy(), difw_rref_affine(theta.numpy(), cells))
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-12, atol=1e-12)
    plain = vertex_velocities(theta, vertex_velocity_matrix(cells, 'vertex'))
    assert torch.equal(plain[:, 1:-1], theta) and not plain[:, [0, -1]].any()


@pytest.mark.parametrize('cells,scale', [(2, 2.0), (5, 2.0), (16, 3.0), (64, 3.0)])
def test_closed_form_matches_rk4_and_is_a_diffeomorphism(cells, scale):
    theta = _theta(4, cells, scale, seed=cells)
    velocity = vertex_velocities(theta, vertex_velocity_matrix(cells, 'rref'))
    x = torch.linspace(0, 1, 301, dtype=torch.float64).expand(4, -1).contiguous()
    phi = cpa_integrate(x, velocity)
    expected = rk4_flow(x.numpy(), difw_rref_affine(theta.numpy(), cells))
    np.testing.assert_allclose(phi.numpy(), expected, atol=1e-6)  # RK4 error at the kinks
    assert (phi.numpy() - x.numpy()).std() > 1e-3  # the points really moved
    assert torch.all(phi[:, 0] == 0) and torch.all(phi[:, -1] == 1)  # endpoints fixed
    assert torch.all(phi[:, 1:] > phi[:, :-1])  # order preserved
    back = cpa_integrate(phi, -velocity)  # the flow of -v undoes the flow of v
    torch.testing.assert_close(back, x, rtol=0, atol=1e-10)


def test_zero_theta_is_exactly_the_identity():
    zero = torch.zeros(2, 7, requires_grad=True)
    velocity = vertex_velocities(zero, vertex_velocity_matrix(8, 'rref'))
    x = torch.rand(2, 50)
    assert torch.equal(cpa_integrate(x, velocity), x)
    sigma = torch.linalg.svdvals(torch.randn(3, 20, 20))
    for mode in ('index', 'value'):
        velocity = vertex_velocities(zero, vertex_velocity_matrix(8, 'rref'))
        delta = spectrum_delta(sigma, velocity, mode)
        assert delta.shape == (2, 3, 20) and not delta.any()
        grad, = torch.autograd.grad(delta.square().sum() + delta.sum(), zero)
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_gradients_match_finite_differences():
    theta = _theta(2, 6, 1.5, seed=3).requires_grad_(True)
    matrix = vertex_velocity_matrix(6, 'rref')
    x = torch.rand(2, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    sigma = torch.linalg.svdvals(torch.randn(2, 12, 9, dtype=torch.float64,
                                             generator=torch.Generator().manual_seed(5)))
    assert torch.autograd.gradcheck(lambda t: cpa_integrate(x, vertex_velocities(t, matrix)),
                                    (theta,))
    for mode in ('index', 'value'):
        assert torch.autograd.gradcheck(
            lambda t: spectrum_delta(sigma, vertex_velocities(t, matrix), mode), (theta,))


@pytest.mark.parametrize('mode', ['index', 'value'])
def test_spectrum_delta_matches_independent_reference(mode):
    cells = 8
    theta = _theta(3, cells, 2.0, seed=7)
    sigma = torch.linalg.svdvals(torch.randn(2, 30, 17, dtype=torch.float64,
                                             generator=torch.Generator().manual_seed(8)))
    velocity = vertex_velocities(theta, vertex_velocity_matrix(cells, 'rref'))
    new = sigma + spectrum_delta(sigma, velocity, mode)
    for b in range(2):
        expected = reference_spectrum(sigma[b].numpy(), theta.numpy(), cells, mode)
        np.testing.assert_allclose(new[:, b].numpy(), expected, atol=1e-8)
    assert torch.all(new[..., 1:] <= new[..., :-1])  # still descending
    torch.testing.assert_close(new[..., 0], sigma[..., 0].expand(3, -1))  # sigma_max kept
    if mode == 'index':
        torch.testing.assert_close(new[..., -1], sigma[..., -1].expand(3, -1))


# ----------------------------------------------------------------------------- the layer
def _reference_weights(weight, bias, blocks, theta_joint, task_thetas, cells, task_cells, mode,
                       combine):
    """Independent float64 ``U diag(f(sigma)) V^T`` per stream (numpy SVD per block)."""
    w = weight.detach().double().numpy()
    rows = np.split(w, blocks, axis=0)
    streams = [[] for _ in range(1 + len(task_thetas))]
    for block in rows:
        u, s, vh = np.linalg.svd(block, full_matrices=False)
        joint = reference_spectrum(s, theta_joint.numpy(), cells, mode, steps=800)[0]
        streams[0].append(u @ np.diag(joint) @ vh)
        for i, theta in enumerate(task_thetas):
            source = s if combine == 'replace' else joint
            spec = reference_spectrum(source, theta.numpy(), task_cells[i], mode, steps=800)[0]
            streams[1 + i].append(u @ np.diag(spec) @ vh)
    return [np.concatenate(s, axis=0) for s in streams]


@pytest.mark.parametrize('mode,combine,blocks,task_input', [
    ('index', 'replace', 3, 'stacked'), ('value', 'compose', 1, 'shared'),
    ('index', 'compose', 1, 'shared'), ('value', 'replace', 3, 'stacked')])
def test_layer_equation_both_compute_paths_and_merge(mode, combine, blocks, task_input):
    torch.manual_seed(0)
    base = nn.Linear(10, 12).double()
    task_cells = {'a': 3, 'b': 5}
    outputs = []
    for compute in ('weight', 'tokens'):
        layer = DiTASKLinear(copy.deepcopy(base), 6, task_cells, blocks=blocks, spectrum=mode,
                             combine=combine, task_input=task_input, compute=compute)
        with torch.no_grad():
            layer.ditask_theta.copy_(_theta(1, 6, 2.0, seed=1))
            for i, t in enumerate(layer.tasks):
                layer.ditask_task_theta[t].copy_(_theta(1, task_cells[t], 2.0, seed=2 + i))
        n = 7
        x = torch.randn(3 * n if task_input == 'stacked' else n, 10, dtype=torch.float64,
                        generator=torch.Generator().manual_seed(9))
        out = layer(x)
        outputs.append(out)
    refs = _reference_weights(base.weight, base.bias, blocks, layer.ditask_theta.detach(),
                              [layer.ditask_task_theta[t].detach() for t in layer.tasks], 6,
                              [3, 5], mode, combine)
    b = base.bias.detach().numpy()
    chunks = x.split(n) if task_input == 'stacked' else [x] * 3
    expected = np.concatenate([c.numpy() @ w.T + b for c, w in zip(chunks, refs)])
    np.testing.assert_allclose(outputs[0].detach().numpy(), expected, atol=1e-6)
    torch.testing.assert_close(outputs[1], outputs[0])
    original = layer.base_layer.weight.detach().clone()
    layer.merge()
    np.testing.assert_allclose(layer.base_layer.weight.detach().numpy(), refs[0], atol=1e-6)
    torch.testing.assert_close(layer(x), outputs[0])
    layer.unmerge()
    assert torch.equal(layer.base_layer.weight, original)


# ----------------------------------------------------------------------------- the method
def _swin_t(tasks, dataset, **method):
    cfg = dict(type='MultiTaskModel', tasks=tasks, dataset=dataset,
               backbone=dict(type='SwinTransformer', arch='tiny', img_size=448),
               decoder=dict(type='HRNetFusionHead', reduce_channels=[18, 36, 72, 144]),
               method=dict(type='DiTASK', **method))
    with torch.device('meta'):
        return build_or_explain(MODELS, cfg)


# Swin-T by hand: patch embedding 3*4*4*96 + 96 (conv) + 2*96 (its LayerNorm) = 4,896;
# block LayerNorms 4*(2*96 + 2*192 + 6*384 + 2*768) = 17,664, merging LayerNorms
# 8*(96 + 192 + 384) = 5,376; rel-pos tables 13*13*(2*3 + 2*6 + 6*12 + 2*24) = 23,322;
# reductions 8*(96^2 + 192^2 + 384^2) = 1,548,288.
PRETRAINED_SWIN_T = 4_896 + 17_664 + 5_376 + 23_322 + 1_548_288
JOINT_64 = 12 * 4 * 63  # every block, qkv/proj/fc1/fc2, 63 parameters each
TASKS_4 = 4 * 3 * 3  # per task: last block of 4 stages, proj/fc1/fc2, 3 parameters each


@pytest.mark.parametrize('tasks,dataset,method,backbone_side', [
    (PASCAL, 'pascal-mt', dict(), PRETRAINED_SWIN_T + JOINT_64 + 4 * TASKS_4),
    (PASCAL, 'pascal-mt', dict(task_cells=None), PRETRAINED_SWIN_T + JOINT_64),
    (PASCAL, 'pascal-mt', dict(cells=32, task_cells=64, trainable_pretrained=()),
     12 * 4 * 31 + 4 * 4 * 3 * 63),
    (['semseg', 'depth', 'normals', 'edge'], 'nyud-mt', dict(),
     PRETRAINED_SWIN_T + JOINT_64 + 4 * TASKS_4),
], ids=['pascal', 'joint-only', 'thetas-only', 'nyud'])
def test_swin_t_448_counts(tasks, dataset, method, backbone_side):
    model = _swin_t(tasks, dataset, **method)
    counts = count_parameters(model)
    assert counts['trainable'] == model.method.num_trainable(model)
    assert counts['trainable'] - counts['decoders'] == backbone_side
    if dataset == 'pascal-mt':
        assert counts['decoders'] == 1_946_624
    if not method:
        assert backbone_side == 1_602_714  # DiTASK's published 1.61M excludes the decoders
        task_part = {t: counts['per_task'][t] - sum(
            p.numel() for p in model.decoders[t].parameters()) for t in tasks}
        assert task_part == {t: TASKS_4 for t in tasks}


def _tiny(method, seed=0):
    torch.manual_seed(seed)
    return build_or_explain(MODELS, tiny_model_cfg(TASKS, method=method))


def _features(model, x):
    model.eval()
    with torch.no_grad():
        return model.backbone(x, list(TASKS))


def test_task_transforms_change_only_their_task_and_full_state_reloads():
    model = _tiny(dict(type='DiTASK', cells=4, task_cells=3, dropout=0.0))
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    before = _features(model, x)
    with torch.no_grad():
        for name, p in model.backbone.named_parameters():
            if name.endswith('ditask_task_theta.saliency'):
                p.normal_(0, 1.0)
    after = _features(model, x)
    for t in TASKS:
        changed = [not torch.equal(a, b) for a, b in zip(before[t], after[t])]
        assert changed == [t == 'saliency'] * 4
    # a full state dict carries no SVD buffers: they are rebuilt from the loaded weights
    other = _tiny(dict(type='DiTASK', cells=4, task_cells=3, dropout=0.0), seed=1)
    other.load_state_dict(model.state_dict())
    for t in TASKS:
        for a, b in zip(_features(other, x)[t], after[t]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_joint_only_shares_features_and_official_init_is_not_identity():
    model = _tiny(dict(type='DiTASK', cells=4, task_cells=None, init='kaiming_uniform'))
    assert model.method.identity_at_init is False and DiTASK.identity_at_init is True
    thetas = [p for n, p in model.backbone.named_parameters() if 'ditask_' in n]
    assert thetas and all(p.abs().max() <= 3 ** -0.5 and p.abs().sum() > 0 for p in thetas)
    feats = _features(model, torch.randn(1, 3, 64, 64))
    for a, b in zip(feats['semseg'], feats['normals']):
        assert torch.equal(a, b)


@pytest.mark.parametrize('method,match', [
    (dict(cells=1), 'cells must be an integer >= 2'),
    (dict(cells=2.5), 'cells'),
    (dict(cells=[4, 4]), 'cells lists 2 stages'),
    (dict(task_cells=1), 'task_cells'),
    (dict(task_cells=dict(semseg=3)), 'task_cells must name exactly'),
    (dict(targets=('qkvv',)), 'targets'),
    (dict(targets=()), 'targets'),
    (dict(spectrum='log'), 'spectrum'),
    (dict(basis='svd'), 'basis'),
    (dict(combine='add'), 'combine'),
    (dict(dropout=1.0), 'dropout'),
    (dict(init='normal'), 'init'),
    (dict(compute='gpu'), 'compute'),
    (dict(trainable_pretrained=('bias',)), 'trainable_pretrained'),
])
def test_bad_hyper_parameters_are_clear_errors(method, match):
    with pytest.raises(ValueError, match=match):
        _tiny(dict(type='DiTASK', **method))
