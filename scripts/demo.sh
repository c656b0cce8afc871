#!/usr/bin/env bash
# The main job: set up, build, then
#  1. compile the bundled QAT-step example with qat-opt and run it with
#     qat-run, printing what it computed;
#  2. prepare the bundled Fashion-MNIST CNN for the x86 and bpu targets,
#     calibrate it on real training images, freeze and verify it, and print
#     its quantizers.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
example="$QAT_ROOT/examples/qat_linear.mlir"
out="$QAT_BUILD/examples"
mkdir -p "$out"
compiled="$out/qat_linear.linalg.mlir"
echo "== qat-opt: fold and lower the qat ops of $example"
qat-opt "$example" --canonicalize --convert-qat-to-linalg -o "$compiled"
echo "== qat-run: JIT-compile and run @main"
echo "results: y, activation scale, activation zero point, weight scales,"
echo "         dL/dx through the activation STE, dL/d(weight scale) (LSQ)"
qat-run "$compiled" --entry main

fm="$QAT_ROOT/examples/fashion_mnist"
"$QAT_PYTHON" "$fm/write_batches.py" "$out/fmnist-batches" 10 32
for target in x86 bpu; do
  echo "== Fashion-MNIST CNN for $target: qat-prepare, qat-calibrate (10 x 32 images), qat-freeze-qparams, qat-verify-target"
  qat-opt "$fm/model.mlir" --qat-prepare=target=$target --mlir-print-debuginfo \
    --remarks-filter='qat-.*' -o "$out/fmnist.$target.prepared.mlir" 2> "$out/fmnist.$target.remarks.txt"
  echo "   $(grep -c 'remark:' "$out/fmnist.$target.remarks.txt") remarks in $out/fmnist.$target.remarks.txt"
  qat-calibrate "$out/fmnist.$target.prepared.mlir" --entry main --data "$out/fmnist-batches" \
    --mlir-print-debuginfo -o "$out/fmnist.$target.calibrated.mlir"
  qat-opt "$out/fmnist.$target.calibrated.mlir" --qat-freeze-qparams --qat-verify-target \
    --mlir-print-debuginfo --mlir-print-local-scope -o "$out/fmnist.$target.frozen.mlir"
  "$QAT_PYTHON" "$fm/summarize.py" "$out/fmnist.$target.frozen.mlir"
done
