#!/usr/bin/env bash
# The main job: set up, build, compile the bundled example with qat-opt and
# run it with qat-run, printing what it computed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
example="$QAT_ROOT/examples/qat_linear.mlir"
compiled="$QAT_BUILD/examples/qat_linear.linalg.mlir"
mkdir -p "$(dirname "$compiled")"
echo "== qat-opt: fold and lower the qat ops of $example"
qat-opt "$example" --canonicalize --convert-qat-to-linalg -o "$compiled"
echo "== qat-run: JIT-compile and run @main"
echo "results: y, activation scale, activation zero point, weight scales,"
echo "         dL/dx through the activation STE, dL/d(weight scale) (LSQ)"
qat-run "$compiled" --entry main
