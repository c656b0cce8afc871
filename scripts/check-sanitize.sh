#!/usr/bin/env bash
# The sanitizer check (docs/Robustness.md, "Sanitizers"). Not part of CI
# (scripts/check.sh): a second, instrumented build of everything and the whole
# suite under it take about an hour on two cores. It builds qat-mlir with
# AddressSanitizer + UndefinedBehaviorSanitizer and the libFuzzer targets in a
# build directory of its own ($QAT_BUILD_ASAN, default build-asan), runs a
# bounded run of each fuzz target over its seed corpus (ninja check-fuzz) and
# the lit suites under the sanitizers (any report fails the test), printing
# the time of each step. Needs what scripts/setup.sh installs (clang-22,
# libclang-rt-22-dev).
#
#   bash scripts/check-sanitize.sh                 # everything
#   bash scripts/check-sanitize.sh test unittests  # only these lit suites
#
# QAT_SANITIZE_JOBS=N limits the build and lit to N jobs (default: all cores).
# On a shared machine run it at low priority: nice -n 19 bash scripts/...
set -euo pipefail
QAT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$QAT_ROOT/scripts/setup.sh"
ASAN_BUILD="${QAT_BUILD_ASAN:-$QAT_ROOT/build-asan}"
LLVM_PREFIX=/usr/lib/llvm-22
jobs=()
if [[ -n "${QAT_SANITIZE_JOBS:-}" ]]; then
  jobs=(-j "$QAT_SANITIZE_JOBS")
fi
suites=("$@")
if ((${#suites[@]} == 0)); then
  suites=(test unittests integration_test)
fi
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
step() { echo "check-sanitize: $1: $(( $(date +%s) - $2 )) s"; }
start=$(date +%s)
t=$start
cmake --build "$ASAN_BUILD" -- "${jobs[@]}"
step build "$t"
t=$(date +%s)
cmake --build "$ASAN_BUILD" --target check-fuzz
step check-fuzz "$t"
t=$(date +%s)
paths=()
for s in "${suites[@]}"; do
  paths+=("$ASAN_BUILD/$s")
done
"$LLVM_PREFIX/bin/lit" -sv --time-tests "${jobs[@]}" "${paths[@]}"
step lit "$t"
step total "$start"
