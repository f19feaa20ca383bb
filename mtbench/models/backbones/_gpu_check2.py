import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from mtbench.models.backbones import SwinTransformer, WindowAttention

PRIO = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.CUDNN_ATTENTION,
        SDPBackend.MATH]
orig = WindowAttention.forward


def expanded(self, x, mask=None, prompts=None, prio=False):
    bw, n, c = x.shape
    heads = self.num_heads
    qkv = self.qkv(x).reshape(bw, n, 3, heads, c // heads)
    q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
    bias = self.relative_position_bias().unsqueeze(0)
    if mask is not None:
        nw = mask.shape[0]
        bias = (bias + mask.unsqueeze(1)).unsqueeze(0).expand(bw // nw, nw, heads, n, n)
        bias = bias.reshape(bw, heads, n, n)
    bias = bias.to(q.dtype)
    if prio:
        with sdpa_kernel(PRIO, set_priority=True):
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    else:
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    out = out.transpose(1, 2).reshape(bw, n, c)
    return self.proj(out)


def folded_prio(self, x, mask=None, prompts=None):
    with sdpa_kernel(PRIO, set_priority=True):
        return orig(self, x, mask, prompts)


variants = {'folded': orig, 'folded_prio': folded_prio, 'expanded': expanded,
            'expanded_prio': lambda s, x, mask=None, prompts=None: expanded(s, x, mask, prompts,
                                                                             True)}
dev = 'cuda'
model = SwinTransformer('tiny', img_size=448, drop_path_rate=0.0).to(dev).train()
xb = torch.randn(32, 3, 448, 448, device=dev)
for name, fwd in variants.items():
    WindowAttention.forward = fwd
    for i in range(8):
        if i == 3:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            t0 = time.time()
        with torch.autocast('cuda', dtype=torch.float16):
            loss = sum(f.float().square().mean() for f in model(xb))
        loss.backward()
    torch.cuda.synchronize()
    print(name, round((time.time() - t0) / 5 * 1000, 2), 'ms',
          round(torch.cuda.max_memory_allocated() / 2**30, 2), 'GiB')
