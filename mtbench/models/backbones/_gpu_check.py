import time

import torch
from timm.models.swin_transformer import SwinTransformer as TimmSwin

from mtbench.models.backbones import SwinTransformer, convert_swin_state_dict

dev = 'cuda'
torch.manual_seed(0)
ref = TimmSwin(img_size=448, num_classes=0, drop_path_rate=0.0).to(dev).eval()
with torch.no_grad():
    for n, p in ref.named_parameters():
        if 'table' in n:
            p.normal_()
        elif n.endswith('bias'):
            p.normal_(std=0.05)
model = SwinTransformer('tiny', img_size=448, drop_path_rate=0.0).to(dev).eval()
model.load_state_dict(convert_swin_state_dict(ref.state_dict()), strict=True)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
x = torch.randn(4, 3, 448, 448, device=dev)
with torch.no_grad():
    ours = model.forward_stage_tokens(x)
    y, refs = ref.patch_embed(x), []
    for layer in ref.layers:
        y = layer(y)
        refs.append(y)
for a, b in zip(ours, refs):
    print('fp32 max rel err', ((a - b).abs().max() / b.abs().max()).item())


def bench(m, fn, bs=32, steps=5):
    xb = torch.randn(bs, 3, 448, 448, device=dev)
    m.train()
    for i in range(steps + 2):
        if i == 2:
            torch.cuda.synchronize()
            t0 = time.time()
            torch.cuda.reset_peak_memory_stats()
        with torch.autocast('cuda', dtype=torch.float16):
            loss = fn(m, xb)
        loss.backward()
    torch.cuda.synchronize()
    return (time.time() - t0) / steps, torch.cuda.max_memory_allocated() / 2**30


def ours_fn(m, xb):
    return sum(f.float().square().mean() for f in m(xb))


def timm_fn(m, xb):
    return m.forward_features(xb).float().square().mean()


print('ours  s/it, GiB', bench(model, ours_fn))
print('timm  s/it, GiB', bench(ref, timm_fn))
ref.layers[0].blocks[0].attn.fused_attn = True
for layer in ref.layers:
    for b in layer.blocks:
        b.attn.fused_attn = True
print('timm fused s/it, GiB', bench(ref, timm_fn))
model_cp = SwinTransformer('tiny', img_size=448, with_cp=True).to(dev)
print('ours with_cp s/it, GiB', bench(model_cp, ours_fn))
