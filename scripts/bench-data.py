"""The Python side of scripts/bench-data.sh: the same work as benches/data.rs with the paper's
tools — nibabel to decode, NumPy to filter/window, OpenCV INTER_LINEAR to resize, and for the
cached path a memory-mapped .npy (the paper's cache). Prints JSON {"data/<path>/<case>": seconds
per run (median)} and a _meta entry with the versions."""
import json
import os
import statistics
import sys
import time

import cv2
import nibabel as nib
import numpy as np

cv2.setNumThreads(1)
root = os.path.join(os.path.dirname(__file__), "..")
SIZE, LO, HI = 256, -100.0, 300.0
cases = []
ts = os.path.join(root, ".sample-data/totalsegmentator")
if os.path.exists(os.path.join(ts, "example_ct_sm.nii.gz")):
    cases.append(("example_ct_sm", os.path.join(ts, "example_ct_sm.nii.gz"),
                  os.path.join(ts, "example_seg.nii.gz"), [2, 3]))
ph = os.path.join(root, "target/bench-data/phantom")
cases.append(("phantom", os.path.join(ph, "train/patient_000.nii.gz"),
              os.path.join(ph, "nnUNet_predictions/patient_000.nii.gz"), [1]))


def window(x):
    return 2.0 * (np.clip(x, LO, HI) - LO) / (HI - LO) - 1.0


def threshold(img):
    sp = min(img.header.get_zooms()[:2])
    return round(32 * (1.5 / sp) ** 2)


def decode(img_path, lab_path, kidney):
    img, lab = nib.load(img_path), nib.load(lab_path)
    x = img.get_fdata(dtype=np.float32).astype(np.int16)
    seg = lab.get_fdata(dtype=np.float32).astype(np.uint8)
    keep = np.isin(seg, kidney).sum(axis=(0, 1)) > threshold(img)
    out = []
    for k in np.nonzero(keep)[0]:
        s = window(x[:, :, k].astype(np.float32))
        out.append(cv2.resize(s, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR))
    return out


def cached(npy, keep):
    x = np.load(npy, mmap_mode="r")
    out = []
    for k in keep:
        s = window(np.asarray(x[:, :, k], dtype=np.float32))
        out.append(cv2.resize(s, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR))
    return out


def timeit(f, reps=10):
    f()
    ts = []
    for _ in range(reps):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


res = {}
for name, img, lab, kidney in cases:
    res[f"data/decode/{name}"] = timeit(lambda: decode(img, lab, kidney))
    n = len(decode(img, lab, kidney))
    npy = os.path.join(root, f"target/bench-data/{name}.npy")
    vol = nib.load(img)
    np.save(npy, vol.get_fdata(dtype=np.float32).astype(np.int16))
    seg = nib.load(lab).get_fdata(dtype=np.float32).astype(np.uint8)
    keep = np.nonzero(np.isin(seg, kidney).sum(axis=(0, 1)) > threshold(vol))[0]
    assert len(keep) == n
    res[f"data/cached/{name}"] = timeit(lambda: cached(npy, keep))
    res[f"_slices/{name}"] = n
res["_meta"] = {"nibabel": nib.__version__, "numpy": np.__version__, "opencv": cv2.__version__,
                "threads": 1}
json.dump(res, sys.stdout, indent=1)
