"""Every registered method trains under mixed precision (bf16 autocast on the CPU here; the
same code path as fp16 autocast with AmpOptimWrapper on a GPU)."""
import pytest
import torch
from test_contracts import CASES, _batch, _build

# One case per method type, the first one of the matrix.
FIRST = list({case[1]['type']: case for case in reversed(CASES)}.values())[::-1]


@pytest.mark.parametrize('case', FIRST, ids=lambda c: c[0])
def test_a_training_step_under_autocast(case):
    _, method, tasks = case
    model = _build(method, tasks)
    data = model.data_preprocessor(_batch(tasks), True)
    model.train()
    with torch.autocast('cpu', dtype=torch.bfloat16):
        losses = model(**data, mode='loss')
    loss = sum(v.float() for v in losses.values())
    assert torch.isfinite(loss)
    loss.backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert any(g is not None for g in grads)
    assert all(g.dtype == torch.float32 for g in grads if g is not None)
