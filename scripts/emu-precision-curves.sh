#!/usr/bin/env bash
# The evidence for TF32 convolutions as the GPU default: the smoke preset for 200 COIN steps on
# the emulated GPU (which rounds TF32 operands as the tensor cores do) with FP32 and with TF32
# convolutions, side by side, then their loss curves and validation IoUs compared
# (scripts/precision_curves.py). The two runs go in parallel, one thread each; on a 2-core
# machine each takes about 40 minutes (the emulator runs every GPU thread as a fiber).
#   scripts/emu-precision-curves.sh [OUT_DIR]      (default runs/emu-precision)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/emu-precision}
cargo build --release --bin train
mkdir -p "$out"
for p in fp32 tf32; do
  cat > "$out/smoke-200-$p.toml" <<EOF
extends = "smoke"
name = "smoke-200-$p"
[coin]
max_steps = 200
eval_every = 50
checkpoint_every = 50
[precision]
conv = "$p"
EOF
  target/release/train --config "$out/smoke-200-$p.toml" --device emu --threads 1 \
    --out "$out/$p" --force > "$out/$p.log" 2>&1 &
done
wait
python3 scripts/precision_curves.py "$out/fp32" "$out/tf32"
