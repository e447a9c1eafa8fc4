"""The PyTorch/cuDNN side of scripts/gpu-check.sh: the shapes of benches/gpu.rs timed with CUDA
events (median), FP32 with TF32 off (as our kernels) under "fp32", and the convolutions and the
GEMM again with TF32 on under "tf32" (PyTorch's default for convolutions). Also measures the
ceilings the table divides by: device-to-device copy bandwidth and FP32 GEMM throughput.
Writes JSON to OUT after every measurement, so a run cut short keeps what it measured.

  python3 scripts/bench-gpu-pytorch.py OUT.json
"""
import json
import os
import re
import statistics
import sys

import torch
import torch.nn.functional as F

torch.backends.cudnn.benchmark = True
dev = "cuda"
out_path = sys.argv[1]
res = {"_meta": {"torch": torch.__version__, "cudnn": torch.backends.cudnn.version(),
                 "gpu": torch.cuda.get_device_name()}, "fp32": {}, "tf32": {}}


def save():
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(res, f, indent=1)
    os.replace(tmp, out_path)


def tf32(on):
    torch.backends.cudnn.allow_tf32 = on
    torch.backends.cuda.matmul.allow_tf32 = on


def record(mode, key, seconds):
    res[mode][key] = seconds
    save()


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
for name, n, cin, cout, h, k, s, p in convs:
    n, cin, cout, h, k, s, p = map(int, (n, cin, cout, h, k, s, p))
    x = torch.full((n, cin, h, h), 0.5, device=dev)
    w = torch.full((cout, cin, k, k), 0.01, device=dev)
    y = F.conv2d(x, w, stride=s, padding=p)
    gy = torch.full_like(y, 0.1)
    for mode in ("fp32", "tf32"):
        tf32(mode == "tf32")
        record(mode, f"gpu_conv2d/fwd/{name}", timed(lambda: F.conv2d(x, w, stride=s, padding=p)))
        record(mode, f"gpu_conv2d/bwd_data/{name}", timed(
            lambda: torch.nn.grad.conv2d_input(x.shape, w, gy, stride=s, padding=p)))
        record(mode, f"gpu_conv2d/bwd_weight/{name}", timed(
            lambda: torch.nn.grad.conv2d_weight(x, w.shape, gy, stride=s, padding=p)))
    del x, w, y, gy
tf32(False)
shape = "16x64x256x256"
x = torch.full((16, 64, 256, 256), 0.5, device=dev)
record("fp32", f"gpu_memory/relu/{shape}", timed(lambda: F.relu(x)))
record("fp32", f"gpu_memory/batch_norm_fwd/{shape}", timed(
    lambda: F.batch_norm(x, None, None, training=True, eps=1e-5)))
xr = x.clone().requires_grad_(True)


def bn_fwd_bwd():
    # As benches/gpu.rs: forward in training mode, then the gradient of the sum.
    yb = F.batch_norm(xr, None, None, training=True, eps=1e-5)
    return torch.autograd.grad(yb.sum(), xr)


record("fp32", f"gpu_memory/batch_norm_fwd_bwd/{shape}", timed(bn_fwd_bwd))
row = torch.full((40_000_000,), 0.01, device=dev)
record("fp32", "gpu_memory/sum_row/40M", timed(lambda: row.sum()))
rm, rv = torch.zeros(64, device=dev), torch.ones(64, device=dev)
record("fp32", f"gpu_memory/batch_norm_eval_fwd/{shape}", timed(
    lambda: F.batch_norm(x, rm, rv, training=False, eps=1e-5)))
small = torch.full((16, 64, 128, 128), 0.5, device=dev)
record("fp32", "gpu_memory/upsample_nearest_x2/16x64x128x128", timed(
    lambda: F.interpolate(small, scale_factor=2, mode="nearest")))
prm = torch.nn.Parameter(torch.full((40_000_000,), 0.1, device=dev))
prm.grad = torch.full_like(prm, 0.01)
opt = torch.optim.Adam([prm], lr=1e-4, betas=(0.0, 0.9), fused=True)
record("fp32", "gpu_memory/adam/40M", timed(lambda: opt.step()))
a = torch.full((4096, 4096), 0.01, device=dev)
for mode in ("fp32", "tf32"):
    tf32(mode == "tf32")
    record(mode, "gpu_memory/gemm/4096^3", timed(lambda: a @ a))
tf32(False)
# Ceilings: copy bandwidth (bytes read + written per second) and FP32 GEMM FLOP/s.
big = torch.empty(1 << 28, device=dev)
dst = torch.empty_like(big)
t = timed(lambda: dst.copy_(big))
res["_ceiling_bytes_per_s"] = 2 * big.numel() * 4 / t
res["_ceiling_flops"] = 2 * 4096 ** 3 / res["fp32"]["gpu_memory/gemm/4096^3"]
save()
