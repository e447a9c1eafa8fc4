"""The PyTorch/cuDNN side of scripts/gpu-check.sh: the shapes of benches/gpu.rs, FP32 with TF32
off (as our kernels), timed with CUDA events (median). Also measures the ceilings the table
divides by: device-to-device copy bandwidth and FP32 GEMM throughput. Prints JSON."""
import json
import re
import statistics

import torch
import torch.nn.functional as F

torch.backends.cudnn.allow_tf32 = False
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.benchmark = True
dev = "cuda"


def timed(f, reps=20):
    f()
    torch.cuda.synchronize()
    ts = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        f()
        b.record()
        torch.cuda.synchronize()
        ts.append(a.elapsed_time(b) / 1e3)
    return statistics.median(ts)


# The conv table of benches/gpu.rs, parsed so the two never drift apart.
src = open("benches/gpu.rs").read()
convs = re.findall(r'\("(\w+)", (\d+), (\d+), (\d+), (\d+), (\d+), (\d+), (\d+)\)', src)
res = {}
for name, n, cin, cout, h, k, s, p in convs:
    n, cin, cout, h, k, s, p = map(int, (n, cin, cout, h, k, s, p))
    x = torch.full((n, cin, h, h), 0.5, device=dev)
    w = torch.full((cout, cin, k, k), 0.01, device=dev)
    y = F.conv2d(x, w, stride=s, padding=p)
    gy = torch.full_like(y, 0.1)
    res[f"gpu_conv2d/fwd/{name}"] = timed(lambda: F.conv2d(x, w, stride=s, padding=p))
    res[f"gpu_conv2d/bwd_data/{name}"] = timed(
        lambda: torch.nn.grad.conv2d_input(x.shape, w, gy, stride=s, padding=p))
    res[f"gpu_conv2d/bwd_weight/{name}"] = timed(
        lambda: torch.nn.grad.conv2d_weight(x, w.shape, gy, stride=s, padding=p))
    del x, w, y, gy
shape = "16x64x256x256"
x = torch.full((16, 64, 256, 256), 0.5, device=dev)
res[f"gpu_memory/relu/{shape}"] = timed(lambda: F.relu(x))
res[f"gpu_memory/batch_norm_fwd/{shape}"] = timed(
    lambda: F.batch_norm(x, None, None, training=True, eps=1e-5))
xr = x.clone().requires_grad_(True)


def bn_fwd_bwd():
    # As benches/gpu.rs: forward in training mode, then the gradient of the sum.
    yb = F.batch_norm(xr, None, None, training=True, eps=1e-5)
    return torch.autograd.grad(yb.sum(), xr)


res[f"gpu_memory/batch_norm_fwd_bwd/{shape}"] = timed(bn_fwd_bwd)
row = torch.full((40_000_000,), 0.01, device=dev)
res["gpu_memory/sum_row/40M"] = timed(lambda: row.sum())
rm, rv = torch.zeros(64, device=dev), torch.ones(64, device=dev)
res[f"gpu_memory/batch_norm_eval_fwd/{shape}"] = timed(
    lambda: F.batch_norm(x, rm, rv, training=False, eps=1e-5))
small = torch.full((16, 64, 128, 128), 0.5, device=dev)
res["gpu_memory/upsample_nearest_x2/16x64x128x128"] = timed(
    lambda: F.interpolate(small, scale_factor=2, mode="nearest"))
prm = torch.nn.Parameter(torch.full((40_000_000,), 0.1, device=dev))
prm.grad = torch.full_like(prm, 0.01)
opt = torch.optim.Adam([prm], lr=1e-4, betas=(0.0, 0.9), fused=True)
res["gpu_memory/adam/40M"] = timed(lambda: opt.step())
a = torch.full((4096, 4096), 0.01, device=dev)
res["gpu_memory/gemm/4096^3"] = timed(lambda: a @ a)
# Ceilings: copy bandwidth (bytes read + written per second) and FP32 GEMM FLOP/s.
big = torch.empty(1 << 28, device=dev)
dst = torch.empty_like(big)
t = timed(lambda: dst.copy_(big))
res["_ceiling_bytes_per_s"] = 2 * big.numel() * 4 / t
res["_ceiling_flops"] = 2 * 4096 ** 3 / res["gpu_memory/gemm/4096^3"]
res["_meta"] = {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                "gpu": torch.cuda.get_device_name()}
print(json.dumps(res, indent=1))
