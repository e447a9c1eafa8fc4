#!/usr/bin/env bash
# The COIN step, ours against PyTorch, side by side on this host, each in a fresh process:
# 128², widths ×0.25, classifier base 64, batch 16; mean step over three 5-step D:G cycles after
# one warm-up cycle, then the parts of the step. Prints one table with the ratio (PyTorch ÷
# ours), GFLOP/s (PyTorch's FLOP count of the same step) and peak RSS. Shared virtual machines
# drift by ±15 % from run to run, so the two are run alternately --repeat times (default 3)
# and the table shows each one's median.
#
#   scripts/bench-coin-step.sh [--threads N] [--isa avx2|avx512|portable] [--repeat N]
#
# --isa forces our kernels (COIN_CPU_ISA) and PyTorch's (ONEDNN_MAX_CPU_ISA, ATEN_CPU_CAPABILITY)
# to the same instruction set. Needs .venv-pytorch (scripts/setup-pytorch.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
threads=2
isa=""
repeat=3
while [ $# -gt 0 ]; do
  case "$1" in
    --threads) threads=$2; shift 2 ;;
    --isa) isa=$2; shift 2 ;;
    --repeat) repeat=$2; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
py=.venv-pytorch/bin/python
[ -x "$py" ] || { echo "run scripts/setup-pytorch.sh first" >&2; exit 1; }
if [ -n "$isa" ]; then
  export COIN_CPU_ISA=$isa
  case "$isa" in
    avx2) export ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2 ;;
    avx512) export ONEDNN_MAX_CPU_ISA=AVX512_CORE ATEN_CPU_CAPABILITY=avx512 ;;
    portable) export ONEDNN_MAX_CPU_ISA=SSE41 ATEN_CPU_CAPABILITY=default ;;
  esac
fi
out=$(mktemp -d)
cargo bench --bench coin_step --no-run >/dev/null 2>&1
for i in $(seq 1 "$repeat"); do
  COIN_BENCH_THREADS=$threads COIN_STEP_REPORT="$out/ours-$i.json" cargo bench --bench coin_step >/dev/null 2>&1
  "$py" scripts/bench-coin-step.py "$threads" > "$out/torch-$i.json"
done
"$py" - "$out" "$repeat" <<'PY'
import json, statistics, sys
out, n = sys.argv[1], int(sys.argv[2])

def median_of(kind):
    runs = [json.load(open(f"{out}/{kind}-{i}.json")) for i in range(1, n + 1)]
    med = dict(runs[0])
    for k, v in runs[0].items():
        if isinstance(v, float):
            med[k] = statistics.median(r[k] for r in runs)
    med["parts_s"] = {p: statistics.median(r["parts_s"][p] for r in runs) for p in runs[0]["parts_s"]}
    med["runs"] = [round(r["mean_step_s"], 3) for r in runs]
    return med

ours, torch = median_of("ours"), median_of("torch")
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l for l in open("/proc/cpuinfo") if l.startswith("flags")), "")
host_isa = "AVX-512" if " avx512f" in flags else "AVX2" if " avx2" in flags else "no AVX2"
print(f"host: {cpu}, {host_isa}; {ours['threads']} threads; ours: {ours['isa']} kernels; "
      f"{torch['impl']}: {torch['isa']}")
print(f"step: 128², widths x0.25, classifier base 64, batch 16; {torch['flops_per_step'] / 1e9:.1f} GFLOP per mean step")
print(f"medians of {n} alternating runs; mean step per run: ours {ours['runs']}, PyTorch {torch['runs']}\n")
print("| part | ours (s) | PyTorch (s) | PyTorch ÷ ours | ours GFLOP/s | PyTorch GFLOP/s |")
print("|---|---:|---:|---:|---:|---:|")
g = torch["flops_per_step"] / 1e9
for key, name in [("mean_step_s", "mean step"), ("gd_step_s", "G+D step"), ("d_step_s", "D-only step")]:
    o, t = ours[key], torch[key]
    gf = (f"{g / o:.1f}", f"{g / t:.1f}") if key == "mean_step_s" else ("", "")
    print(f"| {name} | {o:.3f} | {t:.3f} | {t / o:.2f} | {gf[0]} | {gf[1]} |")
for name, t in torch["parts_s"].items():
    o = ours["parts_s"][name]
    print(f"| {name} | {o:.3f} | {t:.3f} | {t / o:.2f} | | |")
print(f"| peak RSS (MB) | {ours['peak_rss_mb']:.0f} | {torch['peak_rss_mb']:.0f} | "
      f"{torch['peak_rss_mb'] / ours['peak_rss_mb']:.2f} | | |")
PY
rm -rf "$out"
