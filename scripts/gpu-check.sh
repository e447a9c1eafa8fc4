#!/usr/bin/env bash
# The GPU check for a lent machine (no Rust toolchain there), in two steps:
#
#   scripts/gpu-check.sh prepare   # here: build the test and benchmark binaries with libstdc++
#                                  # linked statically, strip them into gpu-check/bin (~10 MB)
#   scripts/gpu-check.sh run       # there (the device tool carries gpu-check/bin): the GPU test
#                                  # suite with COIN_REQUIRE_GPU=1, compute-sanitizer on the
#                                  # kernel tests when present, the kernel benchmarks, the same
#                                  # shapes through PyTorch/cuDNN, and one table; results as
#                                  # plain files under $OUT. Budget: about 6 minutes.
set -uo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in
prepare)
  set -e
  export CXXSTDLIB_STATIC=1 CARGO_TARGET_DIR=target/gpu-check
  cargo build --release --tests --benches
  mkdir -p gpu-check/bin
  deps=target/gpu-check/release/deps
  strip -o gpu-check/bin/coin-tests "$(ls -t $deps/engine-* | grep -v '\.d$' | head -1)"
  strip -o gpu-check/bin/coin-gpu-bench "$(ls -t $deps/gpu-* | grep -v '\.d$' | head -1)"
  ls -la gpu-check/bin
  ;;
run)
  out="${OUT:-gpu-check/out}"
  mkdir -p "$out"
  bin=gpu-check/bin
  t0=$(date +%s)
  (nvidia-smi || true) > "$out/nvidia-smi.txt" 2>&1
  echo "== GPU test suite (COIN_REQUIRE_GPU=1)"
  COIN_REQUIRE_GPU=1 timeout 150 "$bin/coin-tests" gpu --test-threads=4 > "$out/gpu-tests.txt" 2>&1
  echo "tests rc=$?" | tee -a "$out/gpu-tests.txt"; tail -3 "$out/gpu-tests.txt"
  if command -v compute-sanitizer >/dev/null; then
    echo "== compute-sanitizer memcheck on the kernel tests"
    COIN_REQUIRE_GPU=1 timeout 90 compute-sanitizer --tool memcheck --print-limit 20 \
      "$bin/coin-tests" gpu:: --test-threads=1 > "$out/sanitizer.txt" 2>&1
    echo "sanitizer rc=$?" | tee -a "$out/sanitizer.txt"; tail -3 "$out/sanitizer.txt"
  else
    echo "compute-sanitizer not found" > "$out/sanitizer.txt"
  fi
  echo "== kernel benchmarks"
  CRITERION_HOME="$out/criterion" timeout 200 "$bin/coin-gpu-bench" --bench > "$out/bench.txt" 2>&1
  echo "bench rc=$?"
  echo "== PyTorch/cuDNN, same shapes"
  timeout 120 python3 scripts/bench-gpu-pytorch.py > "$out/pytorch.json" 2> "$out/pytorch.err"
  echo "pytorch rc=$?"
  python3 scripts/gpu_table.py "$out/criterion" "$out/pytorch.json" | tee "$out/table.md"
  echo "gpu-check took $(( $(date +%s) - t0 )) s"
  ;;
*)
  echo "usage: scripts/gpu-check.sh prepare|run" >&2
  exit 2
  ;;
esac
