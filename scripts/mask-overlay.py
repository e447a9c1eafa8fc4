#!/usr/bin/env python3
"""A PNG of one axial slice with a `segment` mask over it (red), and optionally the ground truth
(green outline) and the difference map beside it. Needs nibabel, numpy and pillow
(scripts/setup-pytorch.sh installs them in .venv-pytorch).

  python scripts/mask-overlay.py CT.nii.gz MASK.nii.gz OUT.png --slice K [--window LO,HI]
      [--truth LABELS.nii.gz --truth-id 2] [--difference DIFF.nii.gz] [--axis 2] [--zoom 2]
"""
import argparse
import nibabel as nib
import numpy as np
from PIL import Image


def plane(path, axis, k):
    v = np.asanyarray(nib.load(path).dataobj).astype(np.float32)
    return np.take(v, k, axis=axis).T[::-1]  # rows = anterior up, as viewers draw RAS data


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ct"), ap.add_argument("mask"), ap.add_argument("out")
    ap.add_argument("--slice", type=int, required=True)
    ap.add_argument("--axis", type=int, default=2)
    ap.add_argument("--window", default="-160,240")
    ap.add_argument("--truth"), ap.add_argument("--truth-id", type=int, default=2)
    ap.add_argument("--difference")
    ap.add_argument("--zoom", type=int, default=2)
    a = ap.parse_args()
    lo, hi = map(float, a.window.split(","))
    ct = np.clip((plane(a.ct, a.axis, a.slice) - lo) / (hi - lo), 0, 1)
    grey = np.stack([ct] * 3, -1)
    over = grey.copy()
    m = plane(a.mask, a.axis, a.slice) > 0
    over[m] = 0.45 * over[m] + 0.55 * np.array([1.0, 0.1, 0.1])
    if a.truth:
        t = plane(a.truth, a.axis, a.slice) == a.truth_id
        edge = t & ~(np.roll(t, 1, 0) & np.roll(t, -1, 0) & np.roll(t, 1, 1) & np.roll(t, -1, 1))
        over[edge] = [0.1, 1.0, 0.1]
    panels = [grey, over]
    if a.difference:
        d = np.clip(plane(a.difference, a.axis, a.slice) / 0.5, 0, 1)
        panels.insert(1, np.stack([d, d * 0.6, 1 - d], -1))
    img = np.concatenate(panels, 1)
    img = np.kron(img, np.ones((a.zoom, a.zoom, 1)))
    Image.fromarray((img * 255).astype(np.uint8)).save(a.out)
    print(f"{a.out}: slice {a.slice} along axis {a.axis}, {int(m.sum())} mask pixels")


main()
