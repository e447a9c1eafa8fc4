#!/usr/bin/env bash
# The quality benchmark (not a test): a preset over the tuning set (the built-in phantom with
# seeds 777, 778, 779, the 18 / 6-patient phantom with seed 4242, phantom family B) or the
# held-out families C and D, one row per run, resumable, then the table with medians and minima.
# A wall-clock pass is ~15 minutes per run on 2 cores (7 runs: ~105 minutes).
#   scripts/quality.sh [--preset P] [--arm NAME --set TABLE.KEY=VALUE ...] [--steps N]
#                      [--sets tuning|held-out|all] [--out DIR] [--expected-steps N]
# Examples:
#   scripts/quality.sh --steps 800                            # decisions, at fixed steps
#   scripts/quality.sh --steps 800 --arm no-ema --set coin.ema_decay=0
#   scripts/quality.sh --sets all --expected-steps 1600       # the final wall-clock table
# Details (data sets, modes, flags): scripts/quality.py --help.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin train --bin phantom
exec python3 scripts/quality.py "$@"
