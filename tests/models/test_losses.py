"""Per-task losses against independent boolean-mask formulas (values and gradients)."""
import pytest
import torch
import torch.nn.functional as F

from mtbench.models.losses import BalancedBCELoss, CrossEntropyLoss, DepthL1Loss, NormalsL1Loss


def _check(loss, reference, pred, target):
    a = pred.clone().requires_grad_(True)
    b = pred.clone().requires_grad_(True)
    got, want = loss(a, target), reference(b, target)
    got.backward()
    want.backward()
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.grad, b.grad, rtol=1e-5, atol=1e-7)


def _labels(shape, classes, g):
    target = torch.randint(0, classes, shape, generator=g)
    target[torch.rand(shape, generator=g) < 0.2] = 255
    return target


def test_cross_entropy_ignores_255():
    g = torch.Generator().manual_seed(0)
    logits, target = torch.randn(2, 5, 6, 7, generator=g), _labels((2, 6, 7), 5, g)

    def reference(x, t):
        valid = t != 255
        return -F.log_softmax(x, 1).permute(0, 2, 3, 1)[valid].gather(
            1, t[valid].unsqueeze(1)).mean()
    _check(CrossEntropyLoss(), reference, logits, target)


@pytest.mark.parametrize('pos_weight', [None, 0.95])
def test_balanced_bce_weights_and_ignores(pos_weight):
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(2, 1, 6, 7, generator=g), _labels((2, 6, 7), 2, g)

    def reference(x, t):
        x = x.squeeze(1)
        pos, neg = x[t == 1], x[t == 0]
        w = (neg.numel() / (pos.numel() + neg.numel()) if pos_weight is None else pos_weight)
        total = (w * F.softplus(-pos).sum() + (1 - w) * F.softplus(neg).sum())
        return total / (pos.numel() + neg.numel())
    _check(BalancedBCELoss(pos_weight), reference, logits, target)


def test_normals_l1_on_valid_pixels_only():
    g = torch.Generator().manual_seed(2)
    pred = torch.randn(2, 3, 6, 7, generator=g)
    target = F.normalize(torch.randn(2, 3, 6, 7, generator=g), dim=1)
    target[:, :, :2] = 0  # invalid rows

    def reference(x, t):
        x = x / x.norm(dim=1, keepdim=True)
        valid = t.abs().sum(1) > 0
        return (x.permute(0, 2, 3, 1)[valid] - t.permute(0, 2, 3, 1)[valid]).abs().mean()
    _check(NormalsL1Loss(), reference, pred, target)


def test_depth_l1_on_positive_depth_only():
    g = torch.Generator().manual_seed(3)
    pred, target = torch.randn(2, 1, 6, 7, generator=g), torch.rand(2, 6, 7, generator=g)
    target[target < 0.3] = 0

    def reference(x, t):
        return (x.squeeze(1)[t > 0] - t[t > 0]).abs().mean()
    _check(DepthL1Loss(), reference, pred, target)


def test_nothing_valid_gives_zero_with_a_graph():
    pred = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = NormalsL1Loss()(pred, torch.zeros(1, 3, 4, 4))
    loss.backward()
    assert loss.item() == 0 and torch.all(pred.grad == 0)
