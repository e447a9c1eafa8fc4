#!/usr/bin/env bash
# The classifier's stopping rule, replayed (not a test): classifier-only runs without a
# stopping rule on the quality benchmark's data sets, every validation's checkpoint scored on
# the validation and test splits, rules replayed over the scores (~10 minutes per data set at
# one thread). Details and flags: scripts/classifier_replay.py --help.
#   scripts/classifier-replay.sh --datasets builtin-777,small-4242,family-b --budgets 640,840,1080
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin train --bin phantom --example score_classifier_checkpoints
exec python3 scripts/classifier_replay.py "$@"
