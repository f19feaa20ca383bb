"""project_normalized: the plain expression's values and gradients, one full-size tensor less
kept for the backward pass (measured as the step's live-tensor peak)."""
import torch
import torch.nn.functional as F

from mtbench.engine.tensor_memory import cpu_step_peak_bytes
from mtbench.methods.recompute import project_normalized


def _setup(dtype=torch.float64):
    g = torch.Generator().manual_seed(0)
    norm = torch.nn.LayerNorm(32).to(dtype)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(32, generator=g))
        norm.bias.copy_(torch.randn(32, generator=g))
    a = torch.randn(3, 32, generator=g, dtype=dtype, requires_grad=True)
    x = torch.randn(4, 50, 32, generator=g, dtype=dtype, requires_grad=True)
    return norm, a, x


def test_values_and_gradients_are_the_plain_expression_bit_for_bit():
    norm, a, x = _setup()
    weights = torch.linspace(-1, 1, 4 * 50 * 3, dtype=x.dtype).view(4, 50, 3)
    results = []
    for fn in (lambda: F.linear(norm(x), a),
               lambda: project_normalized(x, norm, lambda z: F.linear(z, a))):
        out = fn()
        grads = torch.autograd.grad((out * weights).sum(), [x, a, norm.weight, norm.bias])
        results.append((out.detach(), grads))
    (out_ref, grads_ref), (out, grads) = results
    assert torch.equal(out, out_ref)
    for g, g_ref in zip(grads, grads_ref):
        assert torch.equal(g, g_ref)


def test_without_autograd_it_is_the_plain_call():
    norm, a, x = _setup()
    with torch.no_grad():
        assert torch.equal(project_normalized(x, norm, lambda z: z @ a.t()), norm(x) @ a.t())


def test_the_normalized_input_is_not_kept_for_backward():
    """Four sites, as in a network: plain autograd keeps every site's LayerNorm output until the
    backward pass reaches it; recomputing keeps none, and holds one at a time in the backward
    pass, so the step's peak is three ``[16384, 64]`` float tensors (4 MiB each) lower."""
    norm = torch.nn.LayerNorm(64)
    a = torch.randn(4, 64, requires_grad=True)
    xs = [torch.randn(16384, 64) for _ in range(4)]
    params = [a, norm.weight, norm.bias]
    peaks = []
    for fn in (lambda x: F.linear(norm(x), a),
               lambda x: project_normalized(x, norm, lambda z: F.linear(z, a))):
        def step(fn=fn):
            torch.autograd.grad(sum(fn(x).square().sum() for x in xs), params)
        peaks.append(cpu_step_peak_bytes(step))
    assert peaks[0] - peaks[1] >= 3 * 0.95 * xs[0].numel() * 4
