"""Shared helpers for the golden-model tests (fixtures in ../shared/golden/models/)."""
import os.path as osp

import pytest
import torch

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
