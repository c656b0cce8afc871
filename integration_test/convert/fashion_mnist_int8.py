# REQUIRES: numpy, fashion-mnist
# RUN: %python %s %qat_src_root
#
# The bundled Fashion-MNIST CNN, end to end on the 10,000 test images, for
# x86 and bpu: float model; prepared (qat-prepare), calibrated on 20 x 32
# training images, frozen (plain fake quantization); converted to integer
# (qat-convert-to-integer) and its float simulation (simulate=true). Checks:
# every kernel is converted (no float op left but the input quantize and the
# output dequantize); the simulation's logits equal the integer model's bit
# for bit; int8 accuracy within 1 percentage point of float; int8 and
# fake-quant predictions agree on at least 99.5 % of the images; int8
# logits differ from the fake-quant ones by at most 1 output LSB. Prints the
# figures (docs/Conversion.md).
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
sys.path.insert(0, os.path.join(ROOT, "integration_test", "pytorch"))
import evaluate  # noqa: E402
import fmnist  # noqa: E402
from harness import qat_run_path  # noqa: E402

BIN = os.path.dirname(qat_run_path())
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "model.mlir")


def tool(name, *args):
    subprocess.run([os.path.join(BIN, name), *args], check=True)


train, _ = fmnist.load("train")
test, labels = fmnist.load("t10k")
qat_run = os.path.join(BIN, "qat-run")
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    data = []
    for i in range(20):
        p = os.path.join(tmp, "b%02d.npy" % i)
        np.save(p, train[i * 32:(i + 1) * 32])
        data += ["--data", p]
    logits, us = evaluate.run(MODEL, test, qat_run)
    float_acc = np.mean(logits.argmax(1) == labels)
    print("float: accuracy %.2f%%, %.1f us/image" % (100 * float_acc, us))
    for target in ["x86", "bpu"]:
        f = lambda n: os.path.join(tmp, "%s.%s.mlir" % (target, n))  # noqa: E731
        tool("qat-opt", MODEL, "--qat-prepare=target=" + target, "-o", f("prepared"))
        tool("qat-calibrate", f("prepared"), "--entry", "main", *data, "--quiet",
             "-o", f("calibrated"))
        tool("qat-opt", f("calibrated"), "--qat-freeze-qparams", "-o", f("frozen"))
        tool("qat-opt", f("frozen"), "--qat-convert-to-integer", "-o", f("int8"))
        tool("qat-opt", f("frozen"), "--qat-convert-to-integer=simulate=true", "-o",
             f("simulation"))
        text = open(f("int8")).read()
        # Ops on float tensors other than constants: none may be left.
        float_ops = [line.split("=")[1].split()[0] for line in text.splitlines()
                     if re.search(r"= (tosa\.(?!const)\w+|qat\.fake_quant)", line)
                     and "f32" in line]
        fq, _ = evaluate.run(f("frozen"), test, qat_run)
        iq, us8 = evaluate.run(f("int8"), test, qat_run)
        sim, _ = evaluate.run(f("simulation"), test, qat_run)
        sim_mismatches = int(np.sum(sim.view(np.uint32) != iq.view(np.uint32)))
        m = re.search(r"arith.constant dense<([^>]+)> : tensor<f32>\n\s+%\S+ = arith.constant "
                      r"dense<-?\d+> : tensor<i32>\n\s+%\S+ = qat.dequantize", text)
        lsb = np.abs(fq - iq) / np.float32(float(m.group(1)))
        fq_acc, i_acc = np.mean(fq.argmax(1) == labels), np.mean(iq.argmax(1) == labels)
        agree = np.mean(fq.argmax(1) == iq.argmax(1))
        agree_float = np.mean(logits.argmax(1) == iq.argmax(1))
        n_diff = int(np.sum(lsb > 0.5))
        print("%s: fake-quant accuracy %.2f%%, int8 accuracy %.2f%% (float %.2f%%), "
              "int8 vs fake-quant predictions agree on %.2f%%, int8 vs float on %.2f%%; "
              "%d of %d logits differ from fake quant, at most %.0f LSB; int8 vs its float "
              "simulation: %d mismatches; int8 %.1f us/image"
              % (target, 100 * fq_acc, 100 * i_acc, 100 * float_acc, 100 * agree,
                 100 * agree_float, n_diff, lsb.size, lsb.max(), sim_mismatches, us8))
        if float_ops:
            print("  float ops left:", float_ops)
        ok = (sim_mismatches == 0 and abs(i_acc - float_acc) <= 0.01 and agree >= 0.995
              and lsb.max() < 1.5
              and not float_ops and text.count("qat.quantize") == 1
              and text.count("qat.dequantize") == 1)
        if not ok:
            print("  FAILED")
            failures += 1
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
