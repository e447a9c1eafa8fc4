#!/usr/bin/env bash
# Installs the pinned PyTorch used to make the golden fixtures and to run the PyTorch side of
# the benchmarks, into a git-ignored venv (.venv-pytorch). The wheel is large: never run in CI.
set -euo pipefail
cd "$(dirname "$0")/.."
TORCH_VERSION="${TORCH_VERSION:-2.15.0}"
python3 -m venv .venv-pytorch
.venv-pytorch/bin/pip install -q "torch==${TORCH_VERSION}" numpy safetensors
.venv-pytorch/bin/python -c "import torch; print('torch', torch.__version__, 'ready in .venv-pytorch')"
