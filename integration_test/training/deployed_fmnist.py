# REQUIRES: numpy, fashion-mnist
# RUN: %python %s --steps 30 --npu-images 320
#
# Deployed numerics (issue 18, docs/Deployed.md) on the bundled
# Fashion-MNIST CNN, x86 and bpu: prepared, calibrated on 20 x 32 training
# images, frozen, made trainable; trained for --steps SGD steps (batch 32,
# lr 0.01, momentum 0.9, the same batches) once with
# numerics=fake-quant and once with numerics=deployed. For each, the
# deployed int8 model of the trained parameters (qat-convert-to-integer of
# the frozen model with the parameters as constants) runs on the 10,000 test
# images beside @main_eval. Checks: deployed mode's eval logits equal the
# int8 model's bit for bit (0 mismatches); on bpu also the int8 model in the
# NPU simulator (qat-npu-check, --npu-images images) equals them, and the
# int8 model compiled ahead of time (qat-compile, called from C through its
# header) equals the JIT-compiled one and so @main_eval. Prints the
# fake-quant mode's mismatch counts and both accuracies. The full figures of
# docs/Deployed.md: --steps 1875 (one epoch) --npu-images 10000, seeds
# (--seed: the order of the training batches) 0-4.
import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deployed_common as dc  # noqa: E402

sys.path.insert(0, os.path.join(dc.ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--steps", type=int, default=30)
ap.add_argument("--lr", type=float, default=0.01)
ap.add_argument("--npu-images", type=int, default=320)
ap.add_argument("--targets", default="x86,bpu")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                help="learning rate per step: --lr, or cosine from --lr to 0")
ap.add_argument("--aot", type=int, default=1, help="also run the int8 model compiled AOT")
args = ap.parse_args()


def lr_at(step):
    """The learning rate of step `step` (the same in both modes)."""
    if args.schedule == "cosine":
        return 0.5 * args.lr * (1 + np.cos(np.pi * step / max(args.steps, 1)))
    return args.lr

MODEL = os.path.join(dc.ROOT, "examples", "fashion_mnist", "model.mlir")
train, train_labels = fmnist.load("train")
test, labels = fmnist.load("t10k")
B = 32
rng = np.random.default_rng(args.seed)
order = np.concatenate([rng.permutation(len(train)) for _ in range(
    (args.steps * B + len(train) - 1) // len(train) + 1)])

failures = 0
with tempfile.TemporaryDirectory() as tmp:
    data = []
    for i in range(20):
        p = os.path.join(tmp, "b%02d.npy" % i)
        np.save(p, train[i * B:(i + 1) * B])
        data.append(p)
    for target in args.targets.split(","):
        trainable = dc.frozen_trainable(MODEL, target, data, tmp)
        for numerics in ["fake-quant", "deployed"]:
            module = dc.train_module(trainable, numerics)
            m = dc.compile_train(module)
            names = dc.parameter_names(module)
            start = time.perf_counter()
            for s in range(args.steps):
                idx = order[s * B:(s + 1) * B]
                m.main_train_step(train[idx], train_labels[idx].astype(np.int32),
                                  np.array(lr_at(s), np.float64))
            ms = (time.perf_counter() - start) * 1e3 / max(args.steps, 1)
            ev = dc.run_batches(m.main_eval, test, B)
            params = dict(zip(names, [np.array(p) for p in m.main_get_parameters()]))
            frozen = dc.with_parameters(trainable, params)
            int8 = dc.tool("qat-opt", "-", "--qat-convert-to-integer", stdin=frozen)
            iq = dc.run_batches(dc.qat_mlir.compile(int8), test, B)
            differ = int(np.sum(ev.view(np.uint32) != iq.view(np.uint32)))
            acc_ev, acc_iq = np.mean(ev.argmax(1) == labels), np.mean(iq.argmax(1) == labels)
            line = ("seed %d %s %s: %d steps (%.1f ms/step); eval accuracy %.2f%%, int8 %.2f%%; "
                    "eval vs int8 (CPU): %d of %d logits differ"
                    % (args.seed, target, numerics, args.steps, ms, 100 * acc_ev, 100 * acc_iq,
                       differ, ev.size))
            ok = numerics != "deployed" or differ == 0
            if args.aot:
                aot = dc.run_aot(int8, test, B, iq.shape[1], tmp, "%s.%s" % (target, numerics))
                aot_jit = int(np.sum(aot.view(np.uint32) != iq.view(np.uint32)))
                aot_ev = int(np.sum(aot.view(np.uint32) != ev.view(np.uint32)))
                line += "; AOT vs JIT int8: %d differ, AOT vs eval: %d differ" % (aot_jit, aot_ev)
                ok = ok and aot_jit == 0 and (numerics != "deployed" or aot_ev == 0)
            if target == "bpu" and args.npu_images:
                n = args.npu_images
                int8_path = os.path.join(tmp, "%s.%s.int8.mlir" % (target, numerics))
                with open(int8_path, "w") as f:
                    f.write(int8)
                x = np.zeros(((n + B - 1) // B * B,) + test.shape[1:], np.float32)
                x[:n] = test[:n]
                xp, yp = os.path.join(tmp, "x.npy"), os.path.join(tmp, "npu.npy")
                np.save(xp, x)
                dc.tool("qat-npu-check", int8_path, "--input", xp, "--split", "--output", yp)
                npu = np.load(yp)[:n]
                npu_differ = int(np.sum(npu.view(np.uint32) != ev[:n].view(np.uint32)))
                line += "; eval vs NPU simulator: %d of %d differ (%d images)" % (
                    npu_differ, npu.size, n)
                ok = ok and (numerics != "deployed" or npu_differ == 0)
            print(line + ("" if ok else "  FAILED"), flush=True)
            failures += not ok
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
