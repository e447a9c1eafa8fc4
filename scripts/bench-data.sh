#!/usr/bin/env bash
# The data path's throughput side by side: benches/data.rs (ours) and scripts/bench-data.py
# (nibabel + NumPy + OpenCV, the paper's tools) on the same files, in one run; prints slices/s
# and the ratio. Needs scripts/fetch-sample-data.sh for the real CT (the phantom is built here)
# and scripts/setup-pytorch.sh's venv (nibabel and opencv-python-headless are added to it).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-pytorch/bin/python ] || scripts/setup-pytorch.sh
.venv-pytorch/bin/python -c "import nibabel, cv2" 2>/dev/null ||
  .venv-pytorch/bin/pip install -q nibabel==5.4.2 opencv-python-headless==5.0.0.93
cargo bench --bench data >/dev/null
.venv-pytorch/bin/python scripts/bench-data.py > target/bench-data/python.json
python3 - target/criterion target/bench-data/python.json <<'PY'
import json, os, sys
crit, py = sys.argv[1], json.load(open(sys.argv[2]))
meta = py.pop("_meta")
print(f"ours (1 thread) vs nibabel {meta['nibabel']} + numpy {meta['numpy']} + opencv {meta['opencv']} (1 thread); 256² output")
print(f"| {'path':<8} | {'case':<13} | {'slices':>6} | {'ours slices/s':>13} | {'python slices/s':>15} | {'ratio':>6} |")
print(f"|{'-'*10}|{'-'*15}|{'-'*8}|{'-'*15}|{'-'*17}|{'-'*8}|")
for key, t_py in py.items():
    if key.startswith("_"):
        continue
    _, path, case = key.split("/")
    est = os.path.join(crit, "data", path, case, "new", "estimates.json")
    if not os.path.exists(est):
        continue
    ours = json.load(open(est))["median"]["point_estimate"] / 1e9
    n = py[f"_slices/{case}"]
    print(f"| {path:<8} | {case:<13} | {n:6d} | {n/ours:13.0f} | {n/t_py:15.0f} | {t_py/ours:6.2f} |")
PY
