#!/usr/bin/env bash
# Installs what is missing (Debian packages), configures and builds qat-mlir.
# Idempotent: with everything present it only runs an incremental build.
# Sourced by scripts/demo.sh and scripts/check.sh; usable alone.
set -euo pipefail
QAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
QAT_BUILD="${QAT_BUILD:-$QAT_ROOT/build}"

PACKAGES=(
  cmake ninja-build clang-22 lld-22
  llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools
  libgtest-dev libdnnl-dev libomp-22-dev pybind11-dev python3-pybind11 python3-dev
  python3 python3-numpy python3-torch python3-torchvision python3-onnx python3-pytest
  python3-matplotlib
  libclang-rt-22-dev
  dataset-fashion-mnist
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "setup: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

LLVM_PREFIX=/usr/lib/llvm-22
if [[ ! -f "$QAT_BUILD/build.ninja" ]]; then
  cmake -G Ninja -S "$QAT_ROOT" -B "$QAT_BUILD" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DLLVM_DIR="$LLVM_PREFIX/lib/cmake/llvm" \
    -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit"
fi
cmake --build "$QAT_BUILD"
export PATH="$QAT_BUILD/bin:$PATH"
export QAT_PYTHON="${QAT_PYTHON:-/usr/bin/python3}"
