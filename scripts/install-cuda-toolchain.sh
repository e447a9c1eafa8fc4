#!/usr/bin/env bash
# Installs a project-local CUDA compiler (no driver, no GPU needed) from PyPI wheels pinned to
# CUDA 13.0.x into .cuda-toolchain/ (git-ignored), for build.rs to find: PTX from a newer nvcc
# would not load on a CUDA 13.0 driver (>= 580). Also cuobjdump and nvdisasm 13.2.x (no 13.0
# wheels exist; they read 13.0's cubins) for scripts/kernel-report.sh, installed beside nvcc.
# Prints the nvcc path. Idempotent.
# To use an installed toolkit instead, set NVCC=/path/to/nvcc (or CUDA_HOME) and skip this.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=.cuda-toolchain
nvcc="$dest/venv/lib/python3*/site-packages/nvidia/cu13/bin/nvcc"
tools() {
  local dir
  dir=$(dirname "$1")
  if [ ! -x "$dir/cuobjdump" ] || [ ! -x "$dir/nvdisasm" ]; then
    "$dest/venv/bin/pip" install -q --disable-pip-version-check \
      nvidia-cuda-cuobjdump==13.2.86 nvidia-cuda-nvdisasm==13.2.86 >&2
    chmod +x "$dir/cuobjdump" "$dir/nvdisasm" 2>/dev/null || true
  fi
}
if compgen -G "$nvcc" >/dev/null && $(compgen -G "$nvcc" | head -1) --version >/dev/null 2>&1; then
  tools "$(compgen -G "$nvcc" | head -1)"
  compgen -G "$nvcc" | head -1
  exit 0
fi
python3 -m venv "$dest/venv"
"$dest/venv/bin/pip" install -q --disable-pip-version-check \
  nvidia-cuda-nvcc==13.0.88 nvidia-cuda-crt==13.0.88 nvidia-cuda-runtime==13.0.96 \
  nvidia-cuda-cccl==13.0.85 nvidia-nvvm==13.0.88
found=$(compgen -G "$nvcc" | head -1 || true)
if [ -z "$found" ]; then
  found=$(find "$dest/venv" -type f -name nvcc -path '*bin*' | head -1)
fi
[ -n "$found" ] || { echo "install-cuda-toolchain: no nvcc in the wheels" >&2; exit 1; }
chmod +x "$found"
tools "$found"
"$found" --version | tail -2 >&2
echo "$found"
