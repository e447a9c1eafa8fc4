#!/usr/bin/env bash
# The GPU check for a lent machine (no Rust toolchain there), in two steps (docs/gpu.md):
#
#   scripts/gpu-check.sh prepare    # here: build the test, GPU-benchmark and train binaries
#                                   # (libstdc++ static) into gpu-check/bin with build-info.txt,
#                                   # fail unless nvcc kernels are embedded or the carried tree
#                                   # passes 64 MiB, print the exact device call
#   scripts/gpu-check.sh run [--dry-run]
#                                   # there: the stages below into $OUT (gpu-check/out when
#                                   # unset); --dry-run lists them here and runs nothing
#
# summary.md is written first, then rewritten after every stage: the answers at the top (op
# mismatches, the first failing test, sanitizer errors, ours against PyTorch per shape, seconds
# per COIN step, peak memory, how far training got), then the build and the machine, then the
# stage table and the kernel table. Every stage appends to its file as it runs, so one cut short
# by its time limit keeps what it measured. Without the prepared binaries, or without a GPU and
# driver (probed with nvidia-smi before any test binary starts), `run` stops within seconds
# with a one-line reason, in summary.md too. The stages, most valuable first:
#   probe        nvidia-smi: GPU name, clocks, driver and its CUDA version (stop if none)
#   smoke        kernel table, probe, one kernel, COIN_CUDA_SYNC=1 (stop if the device cannot run them)
#   ops          the whole op table on cuda:0 against the reference, each mismatch named
#   suite        the GPU tests, one thread, COIN_CUDA_SYNC=1 (a fault is pinned to its test)
#   san-*        compute-sanitizer memcheck, racecheck, initcheck, synccheck on kernel tests,
#                COIN_GPU_CACHE=off (exact sizes, nothing reused: overruns are not hidden)
#   bench        benches/gpu.rs (short runs), criterion's files in a scratch folder
#   pytorch      the same shapes in PyTorch/cuDNN, FP32 and TF32
#   step         the COIN step at the paper configuration, each iteration as it finishes
#   step-torch   the same step in PyTorch (scripts/coin_parity.py's networks), FP32 and TF32
#   train        `train --preset gpu-check` (256², widths ×1, a small phantom): into COIN
set -uo pipefail
cd "$(dirname "$0")/.."
bin=${COIN_GPU_CHECK_BIN:-gpu-check/bin} # another folder: for the script's own tests
files=(summary.md smoke.txt suite.txt sanitizer.txt bench.txt pytorch.json step.txt train.txt)
# Seconds outside the stage limits: reading the build, starting python for each summary,
# stopping the memory samplers.
allowance=20
max_total=330
carry_limit=$((64 * 1024 * 1024))

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
  local table
  table=$("$bin/coin-tests" --exact gpu::kernel_table_is_shared_by_emulator_and_loader \
    --nocapture 2>&1)
  if ! grep -q "kernels built by nvcc" <<< "$table"; then
    echo "prepare: FAILED: this build has no CUDA kernels (nvcc not found); run" >&2
    echo "  scripts/install-cuda-toolchain.sh (or set NVCC=/path/to/nvcc) and prepare again" >&2
    exit 1
  fi
  local commit
  commit=$(git rev-parse HEAD 2>/dev/null || echo unknown)
  [ -z "$(git status --porcelain --untracked-files=no 2>/dev/null)" ] || commit="$commit (with uncommitted changes)"
  {
    echo "commit: $commit"
    echo "build: cargo --release, CXXSTDLIB_STATIC=1, RUSTFLAGS=${RUSTFLAGS:-(none)}"
    echo "COIN_CUDA_ARCHS: ${COIN_CUDA_ARCHS:-(unset: SASS sm_80 and sm_90, PTX compute_80)}"
    echo "toolkit: $(grep -m1 -o 'kernels built by nvcc[^;]*' <<< "$table" | sed 's/Some("\([^"]*\)")/\1/g')"
    echo "rustc: $(rustc --version)"
    echo "built on: $(uname -m), $(date -u +%Y-%m-%dT%H:%MZ)"
  } > "$bin/build-info.txt"
  ls -la "$bin"
  # What the device call carries: the working tree as git sees it (tracked and untracked but
  # not ignored files) plus gpu-check/bin.
  local tree bins total
  tree=$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)
  bins=$(du -cb "$bin" | tail -1 | cut -f1)
  total=$((tree + bins))
  echo
  echo "carried: $((total / 1024)) KiB (working tree $((tree / 1024)) KiB + $bin $((bins / 1024)) KiB; limit $((carry_limit / 1024)) KiB)"
  if [ "$total" -gt "$carry_limit" ]; then
    echo "prepare: FAILED: the device call would carry more than 64 MiB" >&2
    exit 1
  fi
  echo
  echo "Ready. On the lent machine, one call:"
  echo "  run(command=\"bash scripts/gpu-check.sh run\", carry=[\"$bin\"], timeout_s=420)"
}

# summary: rewrites $out/summary.md from what the stages wrote (a plain one without python3).
summary() {
  [ "$dry" = 1 ] && return 0
  if command -v python3 >/dev/null &&
    python3 scripts/gpu_summary.py summary "$out" "$scratch" 2>> "$scratch/summary.err"; then
    return 0
  fi
  {
    echo "# GPU check"
    [ -s "$scratch/stop.txt" ] && echo "**Stopped early: $(cat "$scratch/stop.txt")**"
    echo "(python3 could not build the answers: the stage table and the files hold them)"
    echo
    cat "$scratch/facts.txt" 2>/dev/null
    echo
    echo "| stage | exit | seconds | limit | reason |"
    sed 's/\t/ | /g; s/^/| /; s/$/ |/' "$scratch/stages.tsv" 2>/dev/null
  } > "$out/summary.md"
}

# stop REASON CODE: the one-line reason, in summary.md and on stdout; exits.
stop() {
  echo "$1" > "$scratch/stop.txt"
  summary
  echo "gpu-check: $1"
  exit "$2"
}

# stage NAME LIMIT FILE CMD...: runs CMD under LIMIT seconds (listed only, in a dry run),
# appending its output to FILE; records exit code, seconds and a reason; rewrites the summary.
stage() {
  local name=$1 limit=$2 file=$3
  shift 3
  total=$((total + limit))
  if [ "$dry" = 1 ]; then
    printf '%-13s %4ss  %-13s %s\n' "$name" "$limit" "$(basename "$file")" "$*"
    return 0
  fi
  echo "== $name (≤ ${limit}s)" | tee -a "$file"
  local t0 rc why=""
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@" >> "$file" 2>&1
  rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    why="reached its ${limit} s limit"
  elif [ "$rc" != 0 ]; then
    why=$(grep -m1 -iE "panicked|error|not supported|refus|FAILED" "$file" | cut -c1-160)
    [ -n "$why" ] || why=$(grep -v '^$' "$file" | tail -1 | cut -c1-160)
  fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$rc" "$(($(date +%s) - t0))" "$limit" "${why//$'\t'/ }" \
    >> "$scratch/stages.tsv"
  echo "   $name: exit $rc in $(($(date +%s) - t0)) s${why:+ ($why)}"
  summary
  return "$rc"
}

# sample_memory FILE: samples the device's used memory (MiB) every 0.5 s until unsample.
sample_memory() {
  [ "$dry" = 1 ] && return 0
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 500 > "$1" 2>/dev/null &
  sampler=$!
}

# unsample FILE OUTFILE: stops the sampler and appends the peak to OUTFILE.
unsample() {
  [ "$dry" = 1 ] && return 0
  kill "$sampler" 2>/dev/null
  wait "$sampler" 2>/dev/null
  local peak
  peak=$(sort -n "$1" 2>/dev/null | tail -1)
  echo "peak GPU memory used (nvidia-smi): ${peak:-?} MiB" >> "$2"
}

probe() {
  {
    cat "$bin/build-info.txt" 2>/dev/null || echo "build: (no build-info.txt)"
    echo "OUT: $out"
  } > "$scratch/facts.txt"
  if ! command -v nvidia-smi >/dev/null; then
    stop "no NVIDIA driver here (nvidia-smi not found): nothing to check" 1
  fi
  local q
  if ! q=$(timeout 10 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,clocks.mem,power.limit,compute_cap --format=csv,noheader 2>&1) ||
    [ -z "$q" ]; then
    stop "no usable GPU: nvidia-smi says: $(head -1 <<< "$q")" 1
  fi
  local cuda
  cuda=$(timeout 10 nvidia-smi 2>/dev/null | grep -o 'CUDA Version: [0-9.]*' | head -1)
  {
    echo "GPU (name, driver, memory, SM clock, max SM clock, memory clock, power limit, compute capability): $q"
    echo "driver's ${cuda:-CUDA Version: ?}"
    echo "glibc: $(ldd --version 2>/dev/null | head -1)"
  } >> "$scratch/facts.txt"
  { cat "$scratch/facts.txt"; timeout 10 nvidia-smi; } >> "$out/smoke.txt" 2>&1
}

run() {
  dry=0
  [ "${1:-}" = "--dry-run" ] && dry=1
  total=0
  out="${OUT:-gpu-check/out}"
  scratch=/tmp/gpu-check.dry-run # not created in a dry run
  if [ "$dry" = 1 ]; then
    echo "dry run: each stage, its time limit, the file it writes and its command (nothing runs)"
    for b in coin-tests coin-gpu-bench coin-train; do
      [ -x "$bin/$b" ] || echo "  (missing here: $bin/$b — run prepare first; the device call must carry $bin)"
    done
  else
    mkdir -p "$out"
    scratch=$(mktemp -d /tmp/gpu-check.XXXXXX)
    : > "$scratch/stages.tsv"
    summary
    for b in coin-tests coin-gpu-bench coin-train build-info.txt; do
      [ -e "$bin/$b" ] || stop "$bin/$b is missing: run scripts/gpu-check.sh prepare here and carry $bin" 2
    done
    probe
  fi
  total=$((total + 10)) # the probe's nvidia-smi calls
  export COIN_REQUIRE_GPU=1 COIN_GPU_ONLY=1
  local t=$bin/coin-tests
  if ! COIN_CUDA_SYNC=1 stage smoke 15 "$out/smoke.txt" "$t" --exact --nocapture --test-threads=1 \
    gpu::kernel_table_is_shared_by_emulator_and_loader gpu::probe_and_device_messages \
    gpu::block_sum_with_shuffles; then
    stop "smoke failed: the device cannot run the kernels (see smoke.txt)" 1
  fi
  COIN_CUDA_SYNC=1 stage ops 20 "$out/smoke.txt" "$t" --exact --nocapture --test-threads=1 \
    backends::cuda_gpu_ops_match_reference_forward_and_backward
  COIN_CUDA_SYNC=1 stage suite 45 "$out/suite.txt" "$t" gpu:: gpu_train tensor_cores --test-threads=1
  if [ "$dry" = 1 ] || command -v compute-sanitizer >/dev/null; then
    local tool limit
    for tool in memcheck:15 racecheck:12 initcheck:13 synccheck:10; do
      limit=${tool#*:} tool=${tool%:*}
      COIN_GPU_CACHE=off stage "san-$tool" "$limit" "$out/sanitizer.txt" \
        compute-sanitizer --tool "$tool" --print-limit 10 "$t" --exact --test-threads=1 \
        gpu::block_sum_with_shuffles gpu::convolution_passes_match_the_reference \
        tensor_cores::every_gpu_precision_meets_its_rounding_bound
    done
  else
    total=$((total + 50))
    echo "sanitizers skipped: compute-sanitizer not found on this machine" > "$out/sanitizer.txt"
    summary
  fi
  CRITERION_HOME="$scratch/criterion" COIN_GPU_BENCH_QUICK=1 \
    stage bench 50 "$out/bench.txt" "$bin/coin-gpu-bench" --bench
  local torch=1
  [ "$dry" = 1 ] || python3 -c "import torch; assert torch.cuda.is_available()" 2> "$scratch/torch.err" || torch=0
  if [ "$torch" = 1 ]; then
    stage pytorch 25 "$scratch/pytorch.log" python3 scripts/bench-gpu-pytorch.py "$out/pytorch.json"
  else
    total=$((total + 25))
    printf '{"skipped": "import torch with CUDA failed: %s"}\n' "$(tail -1 "$scratch/torch.err" | tr -d '"\\')" > "$out/pytorch.json"
    summary
  fi
  sample_memory "$scratch/memory-step.txt"
  stage step 35 "$out/step.txt" "$t" --exact --nocapture \
    coin_step::paper_config_step_on_cuda_reads_only_what_it_logs
  unsample "$scratch/memory-step.txt" "$out/step.txt"
  if [ "$torch" = 1 ]; then
    stage step-torch 20 "$out/step.txt" python3 scripts/gpu-coin-step.py 12
  else
    total=$((total + 20))
    echo "torch: skipped (no torch with CUDA)" >> "$out/step.txt"
  fi
  sample_memory "$scratch/memory-train.txt"
  stage train 40 "$out/train.txt" "$bin/coin-train" --preset gpu-check --device cuda:0 \
    --out "$scratch/run"
  unsample "$scratch/memory-train.txt" "$out/train.txt"
  total=$((total + allowance))
  if [ "$dry" = 1 ]; then
    echo "allowance     ${allowance}s  (outside the stages: summaries, samplers)"
    echo "total: $total s (limit $max_total)"
    echo "files: ${#files[@]} (${files[*]})"
    [ "$total" -le "$max_total" ] || { echo "over the time limit" >&2; exit 1; }
    [ "${#files[@]}" -le 8 ] || { echo "more than 8 files" >&2; exit 1; }
    return 0
  fi
  python3 scripts/gpu_summary.py train-digest "$scratch/run" >> "$out/train.txt" 2>&1
  summary
  cat "$out/summary.md"
  local extra
  extra=$(cd "$out" && ls -A | grep -vxF -f <(printf '%s\n' "${files[@]}"))
  [ -z "$extra" ] || echo "gpu-check: unexpected files in $out: $extra" >&2
  ! cut -f2 "$scratch/stages.tsv" | grep -qv '^0$'
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
