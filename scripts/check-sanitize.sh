#!/usr/bin/env bash
# The sanitizer stage of CI (docs/Robustness.md): builds qat-mlir with
# AddressSanitizer + UndefinedBehaviorSanitizer and the libFuzzer targets in
# a build directory of its own ($QAT_BUILD_ASAN, default build-asan), runs
# the lit suites under them (any report fails the test) and a bounded run of
# each fuzz target over its seed corpus (ninja check-fuzz). Needs what
# scripts/setup.sh installs (clang-22, libclang-rt-22-dev).
set -euo pipefail
QAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$QAT_ROOT/scripts/setup.sh"
ASAN_BUILD="${QAT_BUILD_ASAN:-$QAT_ROOT/build-asan}"
LLVM_PREFIX=/usr/lib/llvm-22
if [[ ! -f "$ASAN_BUILD/build.ninja" ]]; then
  cmake -G Ninja -S "$QAT_ROOT" -B "$ASAN_BUILD" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_COMPILER=clang-22 -DCMAKE_CXX_COMPILER=clang++-22 \
    -DLLVM_USE_LINKER=lld \
    -DMLIR_DIR="$LLVM_PREFIX/lib/cmake/mlir" \
    -DLLVM_DIR="$LLVM_PREFIX/lib/cmake/llvm" \
    -DLLVM_EXTERNAL_LIT="$LLVM_PREFIX/bin/lit" \
    -DQAT_SANITIZE=address,undefined -DQAT_FUZZ=ON
fi
start=$(date +%s)
cmake --build "$ASAN_BUILD"
cmake --build "$ASAN_BUILD" --target check-fuzz
"$LLVM_PREFIX/bin/lit" -sv --time-tests \
  "$ASAN_BUILD/test" "$ASAN_BUILD/unittests" "$ASAN_BUILD/integration_test"
echo "check-sanitize: $(( $(date +%s) - start )) s"
