"""The kernel table of scripts/gpu-check.sh: for each benchmark, ours (criterion median; the
convolutions at each of our precisions, `fwd`, `fwd-tf32`, `fwd-3xtf32`) beside
PyTorch/cuDNN in FP32 (TF32 off, as our kernels) and with TF32 on (PyTorch's default for
convolutions), the ratios (PyTorch time / ours: > 1 means we are faster) and our rate as a
fraction of the measured ceiling (copy bandwidth for memory-bound kernels, PyTorch's FP32 GEMM
for the FLOP-counted ones). Reads whatever has been measured so far.

  python3 scripts/gpu_table.py CRITERION_DIR PYTORCH_JSON
"""
import json
import os
import sys


def load_pytorch(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def ours_keys(crit):
    if not os.path.isdir(crit):
        return []
    keys = []
    for g in sorted(os.listdir(crit)):
        if g.startswith(".") or g == "report" or not os.path.isdir(os.path.join(crit, g)):
            continue
        for o in sorted(os.listdir(os.path.join(crit, g))):
            if o == "report" or not os.path.isdir(os.path.join(crit, g, o)):
                continue
            for sh in sorted(os.listdir(os.path.join(crit, g, o))):
                if sh != "report":
                    keys.append(f"{g}/{o}/{sh}")
    return keys


def ours(crit, key):
    """(seconds, throughput dict) of our median, or None when not measured."""
    d = os.path.join(crit, *key.split("/"), "new")
    try:
        with open(os.path.join(d, "estimates.json")) as f:
            secs = json.load(f)["median"]["point_estimate"] / 1e9
        with open(os.path.join(d, "benchmark.json")) as f:
            thr = json.load(f).get("throughput") or {}
    except (OSError, ValueError, KeyError):
        return None
    return secs, thr


def rows(crit, pt):
    """One dict per benchmark measured by either side, in benches/gpu.rs order."""
    fp32, tf32 = pt.get("fp32", {}), pt.get("tf32", {})
    bw, flops = pt.get("_ceiling_bytes_per_s"), pt.get("_ceiling_flops")
    keys = list(fp32) + [k for k in ours_keys(crit) if k not in fp32]
    out = []
    for key in keys:
        group, op, shape = key.split("/")
        # Our precision variants (`fwd-tf32`, `fwd-3xtf32`) sit beside PyTorch's same pass; the
        # degenerate layers' bandwidth rows (`gpu_degenerate`) beside the same convolution pass.
        torch_group = "gpu_conv2d" if group == "gpu_degenerate" else group
        base = f"{torch_group}/{op.split('-')[0]}/{shape}"
        r = {"kernel": f"{group}/{op}", "shape": shape, "torch_fp32": fp32.get(base),
             "torch_tf32": tf32.get(base), "ours": None, "rate": None, "of_ceiling": None}
        o = ours(crit, key)
        if o:
            secs, thr = o
            r["ours"] = secs
            if "Elements" in thr:
                rate = thr["Elements"] / secs
                r["rate"], r["of_ceiling"] = f"{rate / 1e12:.2f} TFLOP/s", flops and rate / flops
            elif "Bytes" in thr:
                rate = thr["Bytes"] / secs
                r["rate"], r["of_ceiling"] = f"{rate / 1e9:.0f} GB/s", bw and rate / bw
        out.append(r)
    return out


def ms(t):
    return "—" if t is None else f"{t * 1e3:.3f}"


def ratio(t, o):
    return "—" if t is None or o is None else f"{t / o:.2f}"


def markdown(crit, pt):
    measured = rows(crit, pt)
    if not measured:
        return "(not measured)"
    meta = pt.get("_meta", {})
    lines = [f"GPU {meta.get('gpu', '?')}, torch {meta.get('torch', '?')}, "
             f"cuDNN {meta.get('cudnn', '?')}"]
    bw, flops = pt.get("_ceiling_bytes_per_s"), pt.get("_ceiling_flops")
    if bw and flops:
        lines.append(f"ceilings: copy {bw / 1e9:.0f} GB/s, FP32 GEMM {flops / 1e12:.1f} TFLOP/s")
    lines += ["",
              "| kernel | shape | ours ms | PyTorch FP32 ms | FP32 ratio | PyTorch TF32 ms | "
              "TF32 ratio | ours | of ceiling |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in measured:
        frac = f"{r['of_ceiling']:.0%}" if r["of_ceiling"] else "—"
        lines.append(
            f"| {r['kernel']} | {r['shape']} | {ms(r['ours'])} | {ms(r['torch_fp32'])} | "
            f"{ratio(r['torch_fp32'], r['ours'])} | {ms(r['torch_tf32'])} | "
            f"{ratio(r['torch_tf32'], r['ours'])} | {r['rate'] or '—'} | {frac} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(sys.argv[1], load_pytorch(sys.argv[2])))
