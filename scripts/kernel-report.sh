#!/usr/bin/env bash
# The kernel report: what the compiled CUDA kernels do (registers, spills, shared memory,
# occupancy, and their main loops' instruction mix from the SASS), read from the fatbins the
# last `cargo build --release` embedded, with `cuobjdump` and `nvdisasm` from the PyPI wheels
# that scripts/install-cuda-toolchain.sh installs. Prints a Markdown table; exits 1 when a
# kernel the report lists as tensor-core has no MMA in its main loop, or one listed as
# division-free has regained an integer division there (scripts/kernel_report.py).
#
#   scripts/kernel-report.sh [TARGET_DIR]     # default: target
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-target}
bin=$(dirname "$(bash scripts/install-cuda-toolchain.sh)")
for tool in cuobjdump nvdisasm; do
  [ -x "$bin/$tool" ] || { echo "kernel-report: no $tool in $bin" >&2; exit 1; }
done
# The newest build folder whose nvcc report exists (a build with real kernels).
out=$(ls -td "$target"/release/build/coin-*/out 2>/dev/null | while read -r d; do
  [ -f "$d/selftest.ptxas.txt" ] && { echo "$d"; break; }
done)
[ -n "$out" ] || { echo "kernel-report: no nvcc-built kernels under $target/release (build with nvcc first)" >&2; exit 1; }
PATH="$bin:$PATH" python3 scripts/kernel_report.py "$out" "$bin/cuobjdump"
