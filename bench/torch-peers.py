# PyTorch peers for `npm run bench:gpu`, measured on the same GPU in the same call: copy bandwidth,
# bf16 F.linear forward+backward (the frozen base) and eager LoRA (r=16) on the Mistral-7B layer
# shapes at 4096 tokens, causal GQA attention (SDPA) at the 7B step's shapes, fused AdamW, and (with transformers + peft) HF generate and an HF+PEFT
# LoRA training step on Mistral-7B's shapes with random bf16 weights. Prints one JSON object.
import json, os, sys, time
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
g1 = torch.randn(4096, 4096, dtype=torch.bfloat16, device=dev); g2 = torch.randn_like(g1)
ms = timed(lambda: F.linear(g1, g2))
out['gemm_TFLOPs'] = 2 * 4096 ** 3 / ms / 1e9
del g1, g2
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
# causal GQA attention at the Mistral-7B step's shapes (8×512, 32 query / 8 key-value heads of 128), bf16, forward + backward
try:
    Bq, Tq, Hq, Hkv, Dh = 8, 512, 32, 8, 128
    q = torch.randn(Bq, Hq, Tq, Dh, dtype=torch.bfloat16, device=dev, requires_grad=True)
    k = torch.randn(Bq, Hkv, Tq, Dh, dtype=torch.bfloat16, device=dev, requires_grad=True)
    v = torch.randn(Bq, Hkv, Tq, Dh, dtype=torch.bfloat16, device=dev, requires_grad=True)
    go = torch.randn(Bq, Hq, Tq, Dh, dtype=torch.bfloat16, device=dev)
    def sdpa():
        o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True); o.backward(go)
    out['sdpa'] = {'fwd_bwd_ms': timed(sdpa), 'shape': [Bq, Tq, Hq, Hkv, Dh]}
    del q, k, v, go
except Exception as e:  # an older torch without enable_gqa
    out['sdpa'] = {'error': f'{type(e).__name__}: {e}'}
# decoding's attention: one query row against a 1,536-position cache, Mistral-7B's heads, bf16, forward
try:
    Tk = 1536
    q = torch.randn(1, 32, 1, 128, dtype=torch.bfloat16, device=dev)
    k = torch.randn(1, 8, Tk, 128, dtype=torch.bfloat16, device=dev)
    v = torch.randn(1, 8, Tk, 128, dtype=torch.bfloat16, device=dev)
    with torch.no_grad():
        out['sdpa_decode'] = {'ms': timed(lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), 100),
                              'shape': [1, Tk, 32, 8, 128]}
    del q, k, v
except Exception as e:
    out['sdpa_decode'] = {'error': f'{type(e).__name__}: {e}'}
P = 42_000_000
params = [torch.randn(P // 6, device=dev, requires_grad=True) for _ in range(6)]
for p in params: p.grad = torch.randn_like(p)
opt = torch.optim.AdamW(params, lr=1e-4, fused=True)
ms = timed(opt.step)
out['adamw'] = {'params': P, 'ms': ms, 'GBps_28B': P * 28 / ms / 1e6}
del params, opt, a, b

def hf_mistral():
    # Mistral-7B-v0.1's config, random bf16 weights made on the GPU (no download, no checkpoint)
    from transformers import MistralConfig, MistralForCausalLM
    from peft import LoraConfig, get_peft_model
    cfg = MistralConfig(hidden_size=4096, intermediate_size=14336, num_hidden_layers=int(os.environ.get("PLF_PEER_LAYERS", "32")), num_attention_heads=32,
                        num_key_value_heads=8, head_dim=128, vocab_size=32000, sliding_window=4096)
    torch.set_default_dtype(torch.bfloat16)
    with torch.device(dev):
        model = MistralForCausalLM(cfg)
    torch.set_default_dtype(torch.float32)
    model.eval()
    V = cfg.vocab_size
    prompt = (torch.arange(16, device=dev).view(1, 16) * 7919 + 13) % V
    n = 64
    with torch.no_grad():
        model.generate(prompt, max_new_tokens=4, min_new_tokens=4, do_sample=False)
        torch.cuda.synchronize(); t = time.perf_counter()
        model.generate(prompt, max_new_tokens=n, min_new_tokens=n, do_sample=False)
        torch.cuda.synchronize()
    out['hf_generate'] = {'tokens_s': n / (time.perf_counter() - t), 'new_tokens': n}
    model.train()
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, task_type='CAUSAL_LM',
        target_modules=['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj']))
    trainable = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(trainable, lr=1e-4, weight_decay=0.01, fused=True)
    B, T = 8, 512
    ids = (torch.arange(B, device=dev).view(B, 1) * 7919 + torch.arange(T, device=dev).view(1, T) * 104729 + 1) % V
    def step():
        loss = model(input_ids=ids, attention_mask=torch.ones_like(ids), labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)
    torch.cuda.reset_peak_memory_stats()
    step(); step(); torch.cuda.synchronize()
    ts = []
    for _ in range(4):
        t = time.perf_counter(); step(); torch.cuda.synchronize(); ts.append(time.perf_counter() - t)
    ts.sort()
    s = ts[len(ts) // 2]
    out['hf_train'] = {'step_s': s, 'tokens_s': B * T / s, 'peak_GiB': torch.cuda.max_memory_allocated() / 2**30,
                       'reserved_GiB': torch.cuda.max_memory_reserved() / 2**30, 'trainable': sum(p.numel() for p in trainable),
                       'batch': [B, T]}

try:
    hf_mistral()
except Exception as e:  # transformers/peft missing, or out of memory: the kernel peers still stand
    out['hf_error'] = f'{type(e).__name__}: {e}'
torch.cuda.empty_cache()
json.dump(out, sys.stdout)
