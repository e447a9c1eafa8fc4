#!/usr/bin/env bash
# Runs the criterion benchmarks and the same shapes in PyTorch on this machine, one after the
# other, and prints one table: op, shape, ours, PyTorch, ratio (PyTorch time / ours: > 1 means
# we are faster), and our throughput. Usage: scripts/bench-compare.sh [criterion filter]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-pytorch/bin/python ] || scripts/setup-pytorch.sh
filter="${1:-}"
cargo bench --bench ops -- ${filter:+"$filter"} >/dev/null
.venv-pytorch/bin/python scripts/bench-pytorch.py 2>/dev/null > target/pytorch-bench.json
python3 scripts/bench_table.py target/criterion target/pytorch-bench.json
