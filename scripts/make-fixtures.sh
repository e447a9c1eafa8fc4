#!/usr/bin/env bash
# Regenerates tests/fixtures/ with the pinned PyTorch (installs it first if needed).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-pytorch/bin/python ] || scripts/setup-pytorch.sh
.venv-pytorch/bin/python scripts/make_fixtures.py
