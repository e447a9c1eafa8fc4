#!/usr/bin/env python3
"""Two runs' curves side by side (scripts/emu-precision-curves.sh: FP32 and TF32 convolutions
on the emulated GPU): the classifier's training loss and the counterfactual stage's g_loss and
d_loss averaged over windows of steps, each validation's IoU, and the largest relative
difference of the per-step losses. Reads each run folder's log.jsonl, so a run cut short shows
the steps it took.

  python3 scripts/precision_curves.py RUN_A RUN_B [WINDOW]
"""
import json
import sys
from pathlib import Path


def read(run):
    lines = [json.loads(line) for line in (Path(run) / "log.jsonl").read_text().splitlines() if line.strip()]
    cls = {r["step"]: r["loss"] for r in lines if r.get("stage") == "classifier" and "loss" in r}
    steps = {r["step"]: r for r in lines if r.get("stage") == "counterfactual" and "d_loss" in r}
    vals = {r["step"]: r["val_iou"] for r in lines if r.get("event") == "validation" and "val_iou" in r}
    return cls, steps, vals


def mean(v):
    return sum(v) / len(v) if v else float("nan")


def main(a, b, window=50):
    (ca, sa, va), (cb, sb, vb) = read(a), read(b)
    na, nb = Path(a).name, Path(b).name
    print(f"classifier steps {len(ca)} / {len(cb)}; counterfactual steps {len(sa)} / {len(sb)} ({na} / {nb})\n")
    print(f"| steps | classifier loss {na} | {nb} | g_loss {na} | {nb} | d_loss {na} | {nb} |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    last = max(list(sa) + list(sb) + list(ca) + list(cb) + [0])
    for lo in range(1, last + 1, window):
        hi = lo + window - 1
        def w(d, key=None):
            v = [(r[key] if key else r) for s, r in d.items() if lo <= s <= hi and (key is None or key in r)]
            return f"{mean(v):.4f}" if v else "–"
        print(f"| {lo}–{hi} | {w(ca)} | {w(cb)} | {w(sa, 'g_loss')} | {w(sb, 'g_loss')} | {w(sa, 'd_loss')} | {w(sb, 'd_loss')} |")
    print(f"\n| validation step | IoU {na} | IoU {nb} |\n|---:|---:|---:|")
    for s in sorted(set(va) | set(vb)):
        fa = f"{va[s]:.4f}" if s in va else "–"
        fb = f"{vb[s]:.4f}" if s in vb else "–"
        print(f"| {s} | {fa} | {fb} |")
    common = sorted(set(sa) & set(sb))
    rel = [abs(sa[s]["d_loss"] - sb[s]["d_loss"]) / max(abs(sb[s]["d_loss"]), 1e-12) for s in common]
    first = next((s for s, r in zip(common, rel) if r > 1e-3), None)
    print(f"\nd_loss: largest relative difference {max(rel, default=0):.2e} over {len(common)} common steps; "
          f"first step differing by more than 0.1 %: {first}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 50)
