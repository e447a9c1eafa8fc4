"""The table of scripts/gpu-check.sh: for each benchmark, ours (criterion median) beside
PyTorch/cuDNN, the ratio (PyTorch time / ours: > 1 means we are faster) and our rate as a
fraction of the measured ceiling (copy bandwidth for memory-bound kernels, PyTorch's FP32 GEMM
for the FLOP-counted ones)."""
import json
import os
import sys

crit = sys.argv[1]
try:
    pt = json.load(open(sys.argv[2]))
except (OSError, ValueError) as e:
    print(f"(no PyTorch timings: {e}; see pytorch.err)")
    pt = {}
meta = pt.pop("_meta", {})
bw, flops = pt.pop("_ceiling_bytes_per_s", None), pt.pop("_ceiling_flops", None)
print(f"GPU {meta.get('gpu')}, torch {meta.get('torch')}, cuDNN {meta.get('cudnn')}; FP32, TF32 off")
if bw and flops:
    print(f"ceilings: copy {bw / 1e9:.0f} GB/s, FP32 GEMM {flops / 1e12:.1f} TFLOP/s")
print("| kernel | shape | ours ms | PyTorch ms | ratio | ours | of ceiling |")
print("|---|---|---:|---:|---:|---:|---:|")
keys = list(pt) or sorted(
    f"{g}/{o}/{sh}" for g in os.listdir(crit) if not g.startswith(".") and g != "report"
    for o in os.listdir(os.path.join(crit, g)) if o != "report"
    for sh in os.listdir(os.path.join(crit, g, o)) if sh != "report"
) if os.path.isdir(crit) else list(pt)
for key in keys:
    t = pt.get(key, float("nan"))
    group, op, shape = key.split("/")
    d = os.path.join(crit, group, op, shape, "new")
    if not os.path.exists(os.path.join(d, "estimates.json")):
        print(f"| {group}/{op} | {shape} | — | {t * 1e3:.3f} | — | — | — |")
        continue
    ours = json.load(open(os.path.join(d, "estimates.json")))["median"]["point_estimate"] / 1e9
    thr = json.load(open(os.path.join(d, "benchmark.json"))).get("throughput") or {}
    if "Elements" in thr:
        rate = thr["Elements"] / ours
        txt, frac = f"{rate / 1e12:.2f} TFLOP/s", flops and rate / flops
    else:
        rate = thr.get("Bytes", 0) / ours
        txt, frac = f"{rate / 1e9:.0f} GB/s", bw and rate / bw
    frac_txt = f"{frac:.0%}" if frac else "—"
    print(f"| {group}/{op} | {shape} | {ours * 1e3:.3f} | {t * 1e3:.3f} | {t / ours:.2f} | {txt} | {frac_txt} |")
