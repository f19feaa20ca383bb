import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

dev = 'cuda'
B, nW, h, N, d = 32, 256, 3, 49, 32
q, k, v = (torch.randn(B * nW, h, N, d, device=dev, dtype=torch.half, requires_grad=True)
           for _ in range(3))
bias = torch.randn(1, h, N, N, device=dev, dtype=torch.half)
mask = torch.randn(nW, 1, N, N, device=dev, dtype=torch.half)


def folded():
    m = (bias + mask).reshape(1, nW * h, N, N)
    qq, kk, vv = (t.reshape(B, nW * h, N, d) for t in (q, k, v))
    return F.scaled_dot_product_attention(qq, kk, vv, attn_mask=m)


def expanded():
    m = (bias + mask).unsqueeze(0).expand(B, nW, h, N, N).reshape(B * nW, h, N, N)
    return F.scaled_dot_product_attention(q, k, v, attn_mask=m)


def nomask():
    return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)


def bench(fn, backend=None):
    try:
        for i in range(13):
            if i == 3:
                torch.cuda.synchronize()
                t0 = time.time()
            if backend is None:
                out = fn()
            else:
                with sdpa_kernel(backend):
                    out = fn()
            out.float().sum().backward()
        torch.cuda.synchronize()
        return round((time.time() - t0) / 10 * 1000, 3)
    except RuntimeError as e:
        return 'ERR ' + str(e)[:80]


for name, fn in [('folded', folded), ('expanded', expanded), ('nomask', nomask)]:
    print(name, 'default', bench(fn), 'efficient', bench(fn, SDPBackend.EFFICIENT_ATTENTION),
          'math', bench(fn, SDPBackend.MATH), 'cudnn', bench(fn, SDPBackend.CUDNN_ATTENTION))
