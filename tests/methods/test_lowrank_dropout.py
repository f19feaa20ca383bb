"""Dropout on a low-rank projection's input drawn as sparse dropped positions (LowRankDropout)."""
import math

import pytest
import torch
import torch.nn.functional as F

from mtbench.methods.lowrank_dropout import LowRankDropout, dropout_lowrank, dropped_positions


def test_positions_are_sorted_unique_and_in_range():
    pos = dropped_positions(10_007, 0.3, generator=torch.Generator().manual_seed(0))
    assert pos.dtype == torch.long
    assert bool((pos[1:] > pos[:-1]).all())
    assert int(pos[0]) >= 0 and int(pos[-1]) < 10_007


@pytest.mark.parametrize('p', [0.05, 0.5, 0.9])
def test_mask_is_iid_bernoulli(p):
    """Per-position drop frequency, the count's mean and variance, and pairwise independence
    (neighbours and far pairs) match i.i.d. Bernoulli(p) within 5 standard errors."""
    n, draws = 64, 4000
    g = torch.Generator().manual_seed(1)
    masks = torch.zeros(draws, n)
    for i in range(draws):
        masks[i, dropped_positions(n, p, generator=g)] = 1.0
    se = math.sqrt(p * (1 - p) / draws)
    assert (masks.mean(0) - p).abs().max() < 5 * se
    counts = masks.sum(1)
    assert abs(counts.mean() - n * p) < 5 * math.sqrt(n * p * (1 - p) / draws)
    assert abs(counts.var() / (n * p * (1 - p)) - 1) < 5 * math.sqrt(2 / draws)
    pair_se = math.sqrt(p * p * (1 - p * p) / draws)
    for lag in (1, 2, 31):
        joint = (masks[:, :-lag] * masks[:, lag:]).mean()
        assert abs(joint - p * p) < 5 * pair_se, lag
    first = masks.argmax(1)[masks.sum(1) > 0].double()  # first drop: Geometric(p) - 1 (< n)
    expected = sum(k * p * (1 - p)**k for k in range(n)) / (1 - (1 - p)**n)
    assert abs(first.mean() - expected) < 5 * math.sqrt((1 - p) / p**2 / first.numel())


def test_large_mask_rate():
    n, p = 3_000_000, 0.05
    count = dropped_positions(n, p, generator=torch.Generator().manual_seed(2)).numel()
    assert abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p))


@pytest.mark.parametrize('shape', [(37, 13), (3, 5, 16)])
def test_forward_and_gradients_equal_dense_dropout_with_the_same_mask(shape):
    p, rank = 0.3, 4
    x = torch.randn(*shape, dtype=torch.float64)
    if len(shape) == 3:
        x = x.transpose(0, 1).contiguous().transpose(0, 1)  # non-contiguous input
    x.requires_grad_()
    w = torch.randn(rank, shape[-1], dtype=torch.float64, requires_grad=True)
    out = dropout_lowrank(x, w, p, generator=torch.Generator().manual_seed(3))
    grad = torch.randn_like(out)
    out.backward(grad)

    pos = dropped_positions(x.numel(), p, generator=torch.Generator().manual_seed(3))
    keep = torch.ones(x.numel(), dtype=torch.float64)
    keep[pos] = 0.0
    keep = keep.view(-1, shape[-1]).view(x.contiguous().shape)
    x_ref, w_ref = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    ref = F.linear(x_ref * keep / (1 - p), w_ref)
    ref.backward(grad)
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(x.grad, x_ref.grad)
    torch.testing.assert_close(w.grad, w_ref.grad)


def test_eval_and_zero_probability_are_the_plain_projection():
    x, w = torch.randn(6, 8), torch.randn(2, 8)
    drop = LowRankDropout(0.5).eval()
    torch.testing.assert_close(drop(x, w), F.linear(x, w))
    torch.testing.assert_close(LowRankDropout(0.0).train()(x, w), F.linear(x, w))
    assert not torch.equal(LowRankDropout(0.5).train()(x, w), F.linear(x, w))


@pytest.mark.parametrize('p', [-0.1, 1.0])
def test_bad_probability_is_a_clear_error(p):
    with pytest.raises(ValueError, match='probability'):
        LowRankDropout(p)


def test_sparse_dropout_equals_dense_dropout_with_the_same_mask():
    from mtbench.methods.lowrank_dropout import sparse_dropout
    p = 0.4
    x = torch.randn(5, 7, 3, dtype=torch.float64).transpose(0, 1).requires_grad_()
    out = sparse_dropout(x, p, generator=torch.Generator().manual_seed(4))
    grad = torch.randn_like(out)
    out.backward(grad)
    pos = dropped_positions(x.numel(), p, generator=torch.Generator().manual_seed(4))
    keep = torch.ones(x.numel(), dtype=torch.float64)
    keep[pos] = 0.0
    keep = keep.view(x.contiguous().shape) / (1 - p)
    torch.testing.assert_close(out, x.detach() * keep)
    torch.testing.assert_close(x.grad, grad * keep)
    assert sparse_dropout(x, p, training=False) is x


def test_forward_is_bit_equal_to_dense_dropout_and_backward_keeps_only_the_positions():
    """The forward is ``F.linear(F.dropout(x))`` with the drawn mask bit for bit (float32), and
    besides ``x`` and ``A`` the backward pass keeps only the int64 positions (about ``p`` of
    ``x``'s elements), no full-size mask or dropped copy."""
    p, n, d, rank = 0.05, 4096, 96, 8
    x = torch.randn(n, d, requires_grad=True)
    w = torch.randn(rank, d, requires_grad=True)
    saved = []

    def pack(t):
        saved.append(t)
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = dropout_lowrank(x, w, p, generator=torch.Generator().manual_seed(5))
    pos = dropped_positions(x.numel(), p, generator=torch.Generator().manual_seed(5))
    dense = x.detach().mul(1.0 / (1.0 - p))
    dense.view(-1)[pos] = 0.0
    assert torch.equal(out, F.linear(dense, w.detach()))
    others = [t for t in saved if t.data_ptr() not in (x.data_ptr(), w.data_ptr())]
    assert [t.dtype for t in others] == [torch.long]
    assert others[0].numel() == pos.numel() < 2 * p * x.numel()
