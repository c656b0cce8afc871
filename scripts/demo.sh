#!/usr/bin/env bash
# The main job: set up, build, then
#  1. compile the bundled QAT-step example with qat-opt and run it with
#     qat-run, printing what it computed;
#  2. run the bundled Fashion-MNIST CNN on the 10,000 test images in float;
#     then for the x86 and bpu targets prepare it, calibrate it on real
#     training images, freeze and verify it, print its quantizers, convert it
#     to integer arithmetic and run it on the test images: accuracy,
#     agreement with the float predictions and time per image;
#  3. compile the bpu int8 model for the NPU and run the test images in the
#     NPU simulator: accuracy, mismatches against the CPU int8 model (0),
#     per-layer cycles and GEMM utilization.
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
"$QAT_PYTHON" "$fm/write_batches.py" "$out/fmnist-batches" 20 32
echo "== Fashion-MNIST CNN, float: qat-run on the 10,000 test images"
"$QAT_PYTHON" "$fm/evaluate.py" "$fm/model.mlir" --label "float" --logits "$out/fmnist.float.logits.npy"
for target in x86 bpu; do
  echo "== Fashion-MNIST CNN for $target: qat-prepare, qat-calibrate (20 x 32 training images),"
  echo "   qat-freeze-qparams, qat-verify-target, qat-convert-to-integer, qat-run on the test images"
  qat-opt "$fm/model.mlir" --qat-prepare=target=$target --mlir-print-debuginfo \
    --remarks-filter='qat-.*' -o "$out/fmnist.$target.prepared.mlir" 2> "$out/fmnist.$target.remarks.txt"
  echo "   $(grep -c 'remark:' "$out/fmnist.$target.remarks.txt") remarks in $out/fmnist.$target.remarks.txt"
  qat-calibrate "$out/fmnist.$target.prepared.mlir" --entry main --data "$out/fmnist-batches" \
    --mlir-print-debuginfo --quiet -o "$out/fmnist.$target.calibrated.mlir"
  qat-opt "$out/fmnist.$target.calibrated.mlir" --qat-freeze-qparams --qat-verify-target \
    --mlir-print-debuginfo --mlir-print-local-scope -o "$out/fmnist.$target.frozen.mlir"
  "$QAT_PYTHON" "$fm/summarize.py" "$out/fmnist.$target.frozen.mlir"
  qat-opt "$out/fmnist.$target.frozen.mlir" --qat-convert-to-integer -o "$out/fmnist.$target.int8.mlir"
  "$QAT_PYTHON" "$fm/evaluate.py" "$out/fmnist.$target.int8.mlir" --label "int8 ($target)" \
    --compare-with "$out/fmnist.float.logits.npy" --logits "$out/fmnist.$target.int8.logits.npy"
done
echo "== Fashion-MNIST CNN for bpu on the NPU (docs/NPU.md): qat-npu-check compiles the bpu int8"
echo "   model (qat-lower-to-npu), runs the test images in the NPU simulator and compares every"
echo "   logit with the CPU int8 model"
"$QAT_PYTHON" "$fm/npu_evaluate.py" "$out/fmnist.bpu.int8.mlir" \
  --compare-with "$out/fmnist.bpu.int8.logits.npy"
