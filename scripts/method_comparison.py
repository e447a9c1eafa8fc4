#!/usr/bin/env python3
"""The method-comparison table (markdown) from scripts/method-comparison.sh's folders:
OUT/coin-SEED, OUT/singla-SEED (summary.json) and OUT/report-SEED (report.json, evaluate of
the COIN run with the Singla run compared). Each cell: the median over the seeds and the range.

  python3 scripts/method_comparison.py OUT SEED [SEED ...]
"""
import json
import statistics
import sys
from pathlib import Path


def cell(values, fmt="{:.3f}"):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    med = fmt.format(statistics.median(values))
    if len(values) == 1:
        return med
    return f"{med} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def main(out, seeds):
    out = Path(out)
    rows = {}  # name -> column -> [values]
    order = []

    def add(name, **cols):
        if name not in rows:
            rows[name] = {}
            order.append(name)
        for k, v in cols.items():
            rows[name].setdefault(k, []).append(v)

    for s in seeds:
        coin = json.loads((out / f"coin-{s}" / "summary.json").read_text())
        singla = json.loads((out / f"singla-{s}" / "summary.json").read_text())
        report = json.loads((out / f"report-{s}" / "report.json").read_text())
        for r in report:
            m = r["method"]
            if r["kind"] == "ceiling" or m.endswith("post-processing"):
                continue
            name = m.split(" (")[0] + (", authors' protocol" if m.endswith("authors' protocol") else "")
            cols = dict(iou=r["iou"], dice=r["dice"], validity=r.get("validity"), seconds=r["seconds"])
            if name == "COIN":
                cols.update(changed=coin["changed_pixels_normal"], steps=coin["coin_steps"],
                            train_s=coin["seconds"]["counterfactual"])
            elif name == "Singla et al.":
                cols.update(changed=singla["changed_pixels_normal"], steps=singla["coin_steps"],
                            train_s=singla["seconds"]["counterfactual"])
            elif name.endswith("authors' protocol"):
                cols.update(changed=r["settings"].get("changed_pixels_normal"), slices=r["slices"])
            add(name, **cols)
    print(f"{len(seeds)} seeds ({', '.join(seeds)}): median (range)\n")
    print("| method | IoU | Dice | validity | changed pixels, normal slices | counterfactual stage: steps, seconds |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in order:
        c = rows[name]
        steps = (f"{cell(c['steps'], '{:.0f}')}, {cell(c['train_s'], '{:.0f}')} s" if "steps" in c else "–")
        changed = cell(c["changed"], "{:.2%}") if "changed" in c else "–"
        print(f"| {name} | {cell(c['iou'])} | {cell(c['dice'])} | {cell(c.get('validity', []))} | {changed} | {steps} |")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
