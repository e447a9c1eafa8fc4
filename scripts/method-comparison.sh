#!/usr/bin/env bash
# The method comparison of docs/results.md: for each seed, COIN (cpu-default), Singla et al.
# (cpu-singla) on COIN's classifier with the same counterfactual seconds, then one `evaluate`
# report of both with RISE, LayerCAM and ScoreCAM on the same slices; finally the table
# (median and range over the seeds) from scripts/method_comparison.py.
# About 40 minutes per seed on 2 cores; nothing else should run meanwhile (the budgets are
# wall-clock).
#   scripts/method-comparison.sh [OUT_DIR] [SEEDS...]     (default: runs/methods 777 778 779)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/methods}
if [ $# -gt 0 ]; then shift; fi
seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(777 778 779)
cargo build --release --bin train --bin evaluate
mkdir -p "$out"
for s in "${seeds[@]}"; do
  target/release/train --preset cpu-default --seed "$s" --out "$out/coin-$s" --force
  target/release/train --preset cpu-singla --seed "$s" --stage counterfactual \
    --classifier "$out/coin-$s" --out "$out/singla-$s" --force
  target/release/evaluate --model "$out/coin-$s" --compare "$out/singla-$s" \
    --out "$out/report-$s" --force
done
python3 scripts/method_comparison.py "$out" "${seeds[@]}"
