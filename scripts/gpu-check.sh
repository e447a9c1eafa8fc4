#!/usr/bin/env bash
# The GPU check for a lent machine (no Rust toolchain there), in two steps:
#
#   scripts/gpu-check.sh prepare        # here: build the test, GPU-benchmark and train binaries
#                                       # (libstdc++ static), strip them into gpu-check/bin,
#                                       # fail unless nvcc kernels are embedded, and print the
#                                       # exact device call (gpu-check/bin is git-ignored, so the
#                                       # call must carry it)
#   scripts/gpu-check.sh run [--dry-run]
#                                       # there: the stages below; --dry-run walks them here,
#                                       # printing each command and its timeout, running none
#
# Stages of `run` (timeouts sum to ≤ 300 s, so one 15-minute lease leaves room for a second try):
#   smoke      30 s  driver, GPU, glibc, the kernel table, one kernel with COIN_CUDA_SYNC=1;
#                    a mismatch stops the check here
#   suite      75 s  the GPU tests with COIN_REQUIRE_GPU=1, emulator schedules off (CI has them)
#   sanitizer  40 s  compute-sanitizer memcheck, racecheck, initcheck, synccheck on named kernel
#                    tests (skipped with the reason when the tool is missing or refuses)
#   bench      60 s  benches/gpu.rs, short warm-up and measurement
#   pytorch    30 s  the same shapes in PyTorch/cuDNN, when `import torch` works there
#   step       25 s  the COIN step at the paper configuration (256², widths ×1, batch 16): after
#                    warm-up only the logged scalars come back — no fallback, copy-in or driver
#                    allocation (asserted) — and the seconds of a G+D and a D-only step
#   train      40 s  COIN at the paper configuration on cuda:0: steps/s, GPU memory, checkpoint
# $OUT gets 9 files: summary.md, smoke.txt, suite.txt, sanitizer.txt, bench.txt, pytorch.json,
# step.txt, train.txt, nvidia-smi.txt; criterion's folders and raw logs stay in a scratch folder.
set -uo pipefail
cd "$(dirname "$0")/.."
bin=gpu-check/bin

prepare() {
  set -e
  export CXXSTDLIB_STATIC=1 CARGO_TARGET_DIR=target/gpu-check
  cargo build --release --tests --benches --bin train
  mkdir -p "$bin"
  local deps=target/gpu-check/release/deps
  strip -o "$bin/coin-tests" "$(ls -t $deps/engine-* | grep -v '\.d$' | head -1)"
  strip -o "$bin/coin-gpu-bench" "$(ls -t $deps/gpu-* | grep -v '\.d$' | head -1)"
  strip -o "$bin/coin-train" target/gpu-check/release/train
  set +e
  if ! "$bin/coin-tests" --exact gpu::kernel_table_is_shared_by_emulator_and_loader --nocapture \
    2>&1 | grep -q "kernels built by nvcc"; then
    echo "prepare: FAILED: this build has no CUDA kernels (nvcc not found); run" >&2
    echo "  scripts/install-cuda-toolchain.sh (or set NVCC=/path/to/nvcc) and prepare again" >&2
    exit 1
  fi
  ls -la "$bin"
  echo
  echo "Ready. On the lent machine, one call:"
  echo "  run(command=\"bash scripts/gpu-check.sh run\", carry=[\"$bin\"], timeout_s=420)"
}

# run_stage NAME TIMEOUT OUTFILE CMD...: runs CMD under TIMEOUT (or prints it in a dry run) and
# appends a line to the summary.
run_stage() {
  local name=$1 limit=$2 file=$3
  shift 3
  budget=$((budget + limit))
  if [ "$dry" = 1 ]; then
    printf '%-10s %4ss  %s\n' "$name" "$limit" "$*"
    return 0
  fi
  echo "== $name (≤ ${limit}s)"
  local t0 rc
  t0=$(date +%s)
  timeout "$limit" "$@" >> "$file" 2>&1
  rc=$?
  echo "$name rc=$rc in $(( $(date +%s) - t0 ))s" | tee -a "$file" >> "$summary"
  # A failed or refused stage (a sanitizer that does not support the device, say) leaves its
  # reason in the summary: the last line it printed.
  if [ "$rc" != 0 ]; then
    local why
    why=$(grep -m1 -iE "panicked|error|not supported|refus" "$file" || grep -v '^$' "$file" | tail -1)
    echo "  $name: $why" >> "$summary"
  fi
  tail -3 "$file"
  return $rc
}

run() {
  dry=0
  [ "${1:-}" = "--dry-run" ] && dry=1
  budget=0
  out="${OUT:-gpu-check/out}"
  scratch=/tmp/gpu-check.dry-run
  [ "$dry" = 1 ] || scratch=$(mktemp -d /tmp/gpu-check.XXXXXX)
  summary="$out/summary.md"
  if [ "$dry" = 1 ]; then
    echo "dry run: the stages, their timeouts and commands (nothing runs)"
    for b in coin-tests coin-gpu-bench coin-train; do
      [ -x "$bin/$b" ] || echo "  (missing here: $bin/$b — run prepare first; the device call must carry $bin)"
    done
  else
    for b in coin-tests coin-gpu-bench coin-train; do
      if [ ! -x "$bin/$b" ]; then
        echo "gpu-check: $bin/$b is missing: run scripts/gpu-check.sh prepare here and carry $bin" >&2
        exit 2
      fi
    done
    mkdir -p "$out"
    : > "$summary"
    (nvidia-smi || echo "nvidia-smi failed") > "$out/nvidia-smi.txt" 2>&1
  fi
  export COIN_REQUIRE_GPU=1 COIN_GPU_ONLY=1
  # 1. smoke: stop here on a mismatch.
  if ! run_stage smoke 30 "$out/smoke.txt" bash -c "
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
      ldd --version | head -1
      COIN_CUDA_SYNC=1 $bin/coin-tests --exact gpu::kernel_table_is_shared_by_emulator_and_loader \
        gpu::probe_and_device_messages gpu::block_sum_with_shuffles --nocapture"; then
    [ "$dry" = 1 ] || { echo "smoke failed: see smoke.txt (driver, GPU, kernels)" | tee -a "$summary"; exit 1; }
  fi
  # 2. the GPU suite.
  run_stage suite 75 "$out/suite.txt" "$bin/coin-tests" gpu:: backends::cuda gpu_train \
    --test-threads=2
  # 3. compute-sanitizer.
  if [ "$dry" = 1 ] || command -v compute-sanitizer >/dev/null; then
    for tool in memcheck racecheck initcheck synccheck; do
      run_stage "san-$tool" 10 "$out/sanitizer.txt" compute-sanitizer --tool "$tool" \
        --print-limit 10 "$bin/coin-tests" --exact gpu::block_sum_with_shuffles \
        gpu::convolution_at_every_forced_tile --test-threads=1
    done
  else
    budget=$((budget + 40))
    echo "sanitizer: skipped (compute-sanitizer not found)" | tee "$out/sanitizer.txt" >> "$summary"
  fi
  # 4. benchmarks (criterion's files in scratch).
  CRITERION_HOME="$scratch/criterion" COIN_GPU_BENCH_QUICK=1 \
    run_stage bench 60 "$out/bench.txt" "$bin/coin-gpu-bench" --bench
  # 5. PyTorch on the same shapes.
  if [ "$dry" = 1 ] || python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    run_stage pytorch 30 "$scratch/pytorch.err" bash -c \
      "python3 scripts/bench-gpu-pytorch.py > '$out/pytorch.json'"
  else
    budget=$((budget + 30))
    echo '{"skipped": "import torch with CUDA failed"}' > "$out/pytorch.json"
    echo "pytorch: skipped (no torch with CUDA)" >> "$summary"
  fi
  # 6. The COIN step at the paper configuration: what it reads back, and its time.
  run_stage step 25 "$out/step.txt" "$bin/coin-tests" --exact \
    coin_step::paper_config_step_on_cuda_reads_only_what_it_logs --nocapture
  [ "$dry" = 1 ] || grep "paper-config" "$out/step.txt" >> "$summary"
  # 7. COIN at the paper configuration for 40 s.
  if [ "$dry" != 1 ]; then
    (while sleep 5; do nvidia-smi --query-gpu=memory.used --format=csv,noheader; done) \
      > "$scratch/memory.txt" 2>&1 &
    mem_pid=$!
  fi
  run_stage train 40 "$out/train.txt" "$bin/coin-train" --preset paper-synthetic \
    --device cuda:0 --out "$scratch/run"
  if [ "$dry" = 1 ]; then
    echo "total timeouts: ${budget}s (must be ≤ 300)"
    [ "$budget" -le 300 ] || { echo "over budget" >&2; exit 1; }
    return 0
  fi
  kill "$mem_pid" 2>/dev/null
  {
    echo "GPU memory used (MiB, every 5 s): $(tr '\n' ' ' < "$scratch/memory.txt")"
    echo "checkpoints: $(find "$scratch/run" -name '*.safetensors' 2>/dev/null | wc -l)"
  } | tee -a "$out/train.txt" >> "$summary"
  {
    echo
    python3 scripts/gpu_table.py "$scratch/criterion" "$out/pytorch.json" 2>&1
  } >> "$summary"
  cat "$summary"
}

case "${1:-}" in
prepare) prepare ;;
run)
  shift
  run "$@"
  ;;
*)
  echo "usage: scripts/gpu-check.sh prepare | run [--dry-run]" >&2
  exit 2
  ;;
esac
