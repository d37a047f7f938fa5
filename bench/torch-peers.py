# PyTorch peers for `npm run bench:gpu`, measured on the same GPU in the same call: copy bandwidth,
# bf16 F.linear forward+backward (the frozen base) and eager LoRA (r=16) on the Mistral-7B layer
# shapes at 4096 tokens, and fused AdamW. Prints one JSON object.
import json, sys, time
import torch
import torch.nn.functional as F

def timed(fn, reps=20):
    fn(); torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        s = torch.cuda.Event(enable_timing=True); e = torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); torch.cuda.synchronize()
        ts.append(s.elapsed_time(e))
    ts.sort()
    return ts[len(ts) // 2]

dev = 'cuda'
out = {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__}
n = 14336 * 4096
a = torch.empty(n, dtype=torch.bfloat16, device=dev); b = torch.empty_like(a)
ms = timed(lambda: b.copy_(a))
out['copy_GBps'] = 2 * n * 2 / ms / 1e6
T, r, s = 4096, 16, 2.0
shapes = [(4096, 4096), (4096, 14336), (14336, 4096), (4096, 1024)]
out['linear'] = {}
for K, N in shapes:
    x = torch.randn(T, K, dtype=torch.bfloat16, device=dev, requires_grad=True)
    W = torch.randn(N, K, dtype=torch.bfloat16, device=dev) * 0.02
    A = (torch.randn(r, K, dtype=torch.bfloat16, device=dev) * 0.01).requires_grad_()
    B = (torch.randn(N, r, dtype=torch.bfloat16, device=dev) * 0.01).requires_grad_()
    g = torch.randn(T, N, dtype=torch.bfloat16, device=dev)
    def base():
        y = F.linear(x, W); y.backward(g)
    def lora():
        y = F.linear(x, W) + s * F.linear(F.linear(F.dropout(x, 0.05), A), B); y.backward(g)
    out['linear'][f'{K}x{N}'] = {'base_ms': timed(base), 'lora_ms': timed(lora)}
P = 42_000_000
params = [torch.randn(P // 6, device=dev, requires_grad=True) for _ in range(6)]
for p in params: p.grad = torch.randn_like(p)
opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
ms = timed(opt.step)
out['adamw'] = {'params': P, 'ms': ms, 'GBps_28B': P * 28 / ms / 1e6}
json.dump(out, sys.stdout)
