#!/usr/bin/env python3
"""IoU against wall-clock seconds: each run's validation IoU at every evaluation of its
counterfactual stage (x = the classifier stage's seconds + the COIN stage's), beside the
anchor's curve (the authors' code on a comparable phantom, quality issue: classifier 360 s,
then test IoU every 150 s of COIN). Writes one SVG; needs only the standard library.

    scripts/iou_curve.py OUT.svg LABEL=RUN_DIR [LABEL=RUN_DIR …]
"""
import json
import sys
from pathlib import Path

ANCHOR = [(360 + s, iou) for s, iou in
          [(150, 0.007), (300, 0.049), (450, 0.059), (600, 0.111), (750, 0.144), (900, 0.174)]]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]


def run_curve(run: Path):
    log = [json.loads(l) for l in open(run / "log.jsonl")]
    summary = json.load(open(run / "summary.json")) if (run / "summary.json").exists() else {}
    cls_s = summary.get("seconds", {}).get("classifier")
    if cls_s is None:  # a run still going, or one with a borrowed classifier
        cls = [l["t"] for l in log if l.get("stage") == "classifier" and "t" in l]
        cls_s = max(cls) if cls else 0.0
    pts = [(cls_s + l["t"], l["val_iou"]) for l in log
           if l.get("event") == "validation" and l.get("stage") == "counterfactual"]
    return [(0.0, 0.0), (cls_s, 0.0)] + pts, summary.get("test_iou")


def main():
    out, specs = sys.argv[1], sys.argv[2:]
    if not specs:
        sys.exit(__doc__)
    curves = []
    for spec in specs:
        label, _, path = spec.partition("=")
        pts, test = run_curve(Path(path))
        if test is not None:
            label += f" (test IoU {test:.3f})"
        curves.append((label, pts, False))
    curves.append(("anchor: the authors' code (test IoU)", [(0.0, 0.0), (360.0, 0.0)] + ANCHOR, True))
    w, l, r, t = 720, 60, 20, 20
    b = 60 + 16 * len(curves)  # axis labels, then one legend line per curve
    h = t + 290 + b
    xmax = max(1260.0, max(x for _, p, _ in curves for x, _ in p))
    ymax = max(0.3, max(y for _, p, _ in curves for _, y in p) * 1.1)
    X = lambda x: l + (w - l - r) * x / xmax
    Y = lambda y: h - b - (h - t - b) * y / ymax
    s = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="12">',
         f'<rect width="{w}" height="{h}" fill="white"/>']
    for i in range(0, int(xmax) + 1, 150):
        s.append(f'<line x1="{X(i):.1f}" y1="{Y(0):.1f}" x2="{X(i):.1f}" y2="{Y(ymax):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{X(i):.1f}" y="{Y(0) + 15:.1f}" text-anchor="middle">{i}</text>')
    yt = 0.0
    while yt <= ymax + 1e-9:
        s.append(f'<line x1="{X(0):.1f}" y1="{Y(yt):.1f}" x2="{X(xmax):.1f}" y2="{Y(yt):.1f}" stroke="#eee"/>')
        s.append(f'<text x="{X(0) - 6:.1f}" y="{Y(yt) + 4:.1f}" text-anchor="end">{yt:.2f}</text>')
        yt += 0.05
    s.append(f'<text x="{(l + w - r) / 2:.0f}" y="{h - b + 34}" text-anchor="middle">wall-clock seconds '
             '(classifier, then COIN)</text>')
    s.append(f'<text transform="translate(16,{(t + h - b) / 2:.0f}) rotate(-90)" text-anchor="middle">IoU</text>')
    for i, (label, pts, dashed) in enumerate(curves):
        c = "#555" if dashed else COLOURS[i % len(COLOURS)]
        d = " ".join(f"{X(x):.1f},{Y(y):.1f}" for x, y in pts)
        dash = ' stroke-dasharray="6,4"' if dashed else ""
        s.append(f'<polyline points="{d}" fill="none" stroke="{c}" stroke-width="2"{dash}/>')
        for x, y in pts[2:]:
            s.append(f'<circle cx="{X(x):.1f}" cy="{Y(y):.1f}" r="2.5" fill="{c}"/>')
        ly = h - b + 52 + 16 * i
        s.append(f'<line x1="{l}" y1="{ly - 4}" x2="{l + 24}" y2="{ly - 4}" stroke="{c}" stroke-width="2"{dash}/>')
        s.append(f'<text x="{l + 30}" y="{ly}">{label}</text>')
    s.append("</svg>")
    Path(out).write_text("\n".join(s) + "\n")


if __name__ == "__main__":
    main()
