"""Prints the side-by-side table of scripts/bench-compare.sh from criterion's estimates and the
PyTorch timings (JSON written by scripts/bench-pytorch.py)."""
import json
import os
import sys

crit, pt_path = sys.argv[1], sys.argv[2]
pt = json.load(open(pt_path))
meta = pt.pop("_meta", {})
rows = []
for key, pt_s in pt.items():
    group, op, shape = key.split("/")
    est = os.path.join(crit, group, op, shape, "new", "estimates.json")
    bench = os.path.join(crit, group, op, shape, "new", "benchmark.json")
    if not os.path.exists(est):
        continue
    ours = json.load(open(est))["median"]["point_estimate"] / 1e9
    thr = json.load(open(bench)).get("throughput") or {}
    if "Elements" in thr:
        rate = f"{thr['Elements'] / ours / 1e9:7.1f} GFLOP/s"
    elif "Bytes" in thr:
        rate = f"{thr['Bytes'] / ours / 1e9:7.1f} GB/s"
    else:
        rate = ""
    rows.append((group, op, shape, ours, pt_s, rate))
print(f"PyTorch {meta.get('torch')} with {meta.get('threads')} threads; ratio = PyTorch time / ours (> 1: we are faster)")
print(f"| {'op':<26} | {'shape':<28} | {'ours ms':>9} | {'torch ms':>9} | {'ratio':>6} | {'ours':>16} |")
print(f"|{'-'*28}|{'-'*30}|{'-'*11}|{'-'*11}|{'-'*8}|{'-'*18}|")
for group, op, shape, ours, pts, rate in rows:
    print(f"| {group + '/' + op:<26} | {shape:<28} | {ours*1e3:9.3f} | {pts*1e3:9.3f} | {pts/ours:6.2f} | {rate:>16} |")

# Per convolution shape: forward + backward-data + backward-weight together (one training step's
# work for that layer), the yardstick.
conv = {}
for group, op, shape, ours, pts, _ in rows:
    if group == "conv2d":
        o, t = conv.get(shape, (0.0, 0.0))
        conv[shape] = (o + ours, t + pts)
if conv:
    print()
    print(f"| {'conv2d fwd+bwd_data+bwd_weight':<34} | {'ours ms':>9} | {'torch ms':>9} | {'ratio':>6} |")
    print(f"|{'-'*36}|{'-'*11}|{'-'*11}|{'-'*8}|")
    for shape, (o, t) in conv.items():
        print(f"| {shape:<34} | {o*1e3:9.2f} | {t*1e3:9.2f} | {t/o:6.2f} |")
    to, tt = sum(v[0] for v in conv.values()), sum(v[1] for v in conv.values())
    print(f"| {'all shapes':<34} | {to*1e3:9.2f} | {tt*1e3:9.2f} | {tt/to:6.2f} |")
