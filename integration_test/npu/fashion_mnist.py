# REQUIRES: numpy, fashion-mnist
# RUN: %python %s %qat_src_root --images 2048
#
# The bundled Fashion-MNIST CNN on the NPU: prepared for bpu, calibrated on
# 20 x 32 training images, frozen, verified and converted to integer as in
# integration_test/convert/fashion_mnist_int8.py; then qat-npu-check
# compiles it for the NPU, runs the test images in the simulator (batches of
# 32) and compares every logit code with the integer model on the CPU.
# Checks: 0 mismatching codes; the NPU's dequantized logits equal qat-run's
# bit for bit; hence the same accuracy. Prints both accuracies and the
# per-layer report (docs/NPU.md). `--images 10000` (scripts/npu.sh) runs the
# whole test set.
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("root")
ap.add_argument("--images", type=int, default=10000)
args = ap.parse_args()
sys.path.insert(0, os.path.join(args.root, "examples", "fashion_mnist"))
sys.path.insert(0, os.path.join(args.root, "integration_test", "pytorch"))
import evaluate  # noqa: E402
import fmnist  # noqa: E402
from harness import qat_run_path  # noqa: E402

BIN = os.path.dirname(qat_run_path())
MODEL = os.path.join(args.root, "examples", "fashion_mnist", "model.mlir")


def tool(name, *a):
    return subprocess.run([os.path.join(BIN, name), *a], check=True, capture_output=True,
                          text=True)


train, _ = fmnist.load("train")
test, labels = fmnist.load("t10k")
test, labels = test[:args.images], labels[:args.images]
with tempfile.TemporaryDirectory() as tmp:
    f = lambda n: os.path.join(tmp, n)  # noqa: E731
    data = []
    for i in range(20):
        np.save(f("b%02d.npy" % i), train[i * 32:(i + 1) * 32])
        data += ["--data", f("b%02d.npy" % i)]
    tool("qat-opt", MODEL, "--qat-prepare=target=bpu", "-o", f("prepared.mlir"))
    tool("qat-calibrate", f("prepared.mlir"), "--entry", "main", *data, "--quiet",
         "-o", f("calibrated.mlir"))
    tool("qat-opt", f("calibrated.mlir"), "--qat-freeze-qparams", "--qat-verify-target",
         "-o", f("frozen.mlir"))
    tool("qat-opt", f("frozen.mlir"), "--qat-convert-to-integer", "-o", f("int8.mlir"))
    cpu, _ = evaluate.run(f("int8.mlir"), test, os.path.join(BIN, "qat-run"))
    n = len(test)
    padded = np.zeros(((n + 31) // 32 * 32,) + test.shape[1:], test.dtype)
    padded[:n] = test
    np.save(f("x.npy"), padded)
    r = subprocess.run([os.path.join(BIN, "qat-npu-check"), f("int8.mlir"), "--input", f("x.npy"),
                        "--split", "--output", f("npu.npy")], capture_output=True, text=True)
    print(r.stdout + r.stderr)
    npu = np.load(f("npu.npy"))[:n] if r.returncode == 0 else None
ok = npu is not None
if ok:
    differ = int(np.sum(npu.view(np.uint32) != cpu.view(np.uint32)))
    acc_cpu = np.mean(cpu.argmax(1) == labels)
    acc_npu = np.mean(npu.argmax(1) == labels)
    print("%d test images: int8 accuracy %.2f%% on the CPU, %.2f%% on the NPU simulator; "
          "%d of %d logits differ" % (n, 100 * acc_cpu, 100 * acc_npu, differ, npu.size))
    ok = differ == 0 and acc_cpu == acc_npu and "0 of %d elements differ" % (
        (n + 31) // 32 * 320) in r.stdout
print("OK" if ok else "FAILED")
sys.exit(0 if ok else 1)
