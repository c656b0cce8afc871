#!/usr/bin/env python3
"""Float inference of whole networks: qat-mlir's fp32 kernels against
PyTorch 1.13 (issue 17).

Each network (torchvision, random weights, eval mode, 1 x 3 x 224 x 224 by
default) is exported with qat_mlir.export and compiled once in-process
(qat_mlir.compile, kernels=auto: the fp32 kernels of docs/Kernels.md), then
timed against PyTorch's eager fp32 forward (its convolutions run on oneDNN)
in one process, interleaved rounds, medians (and the best call of each:
the median doubles whenever another process shares the timed core); one
thread unless --threads.
The outputs are compared first (max |ours - PyTorch| relative to max
|PyTorch|). The other peer, in the same job, is the sum of oneDNN's fp32
conv+fc primitive times (NHWC, one thread) over the network's layers at
224 x 224: `qat-bench-f32-layers --filter NET/ --passes fwd`, run first
(it also times our layers one by one, next to oneDNN's, and prints the
measured FMA peak); the ratio of our whole network to that sum is printed
(goal <= 1.1). --no-onednn skips it.

Run on an otherwise idle machine: python3 bench/float_networks.py
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from timing import timed_best

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


ONEDNN_NAMES = {"resnet18": "resnet18", "mobilenet_v2": "mobilenetv2", "resnet50": "resnet50"}


def onednn_sum(build, name, rounds, min_seconds):
    """(ours, oneDNN) conv+fc sums in ms from qat-bench-f32-layers, and the
    FMA peak line."""
    net = ONEDNN_NAMES.get(name)
    if net is None:
        return None
    cmd = [os.path.join(build, "bin", "qat-bench-f32-layers"), "--filter", net + "/",
           "--passes", "fwd", "--rounds", str(rounds), "--min-seconds", str(min_seconds)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("%s failed:\n%s%s" % (" ".join(cmd), r.stdout[-2000:], r.stderr[-2000:]))
    peak = next((l for l in r.stdout.splitlines() if "best of all" in l), "")
    m = re.search(r"#\s+%s fwd\s+ours\s+([0-9.]+) ms, oneDNN\s+([0-9.]+) ms" % net, r.stdout)
    if not m:
        raise RuntimeError("no %s fwd sum in:\n%s" % (net, r.stdout[-2000:]))
    return float(m.group(1)), float(m.group(2)), peak


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="resnet18,mobilenet_v2")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--no-onednn", action="store_true",
                    help="skip the oneDNN conv+fc sum (qat-bench-f32-layers)")
    ap.add_argument("--layer-seconds", type=float, default=0.1,
                    help="qat-bench-f32-layers --min-seconds")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
    import qat_mlir
    import torchvision

    torch.set_num_threads(args.threads)
    failed = False
    for name in args.models.split(","):
        sums = None
        if not args.no_onednn and args.size == 224 and args.threads == 1:
            sums = onednn_sum(os.path.abspath(args.build), name, 3, args.layer_seconds)
        torch.manual_seed(0)
        net = getattr(torchvision.models, name)().eval()
        for m in net.modules():  # non-trivial batch-norm statistics
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
        x = torch.randn(1, 3, args.size, args.size)
        text = qat_mlir.export(net, x, name="main")
        t0 = time.perf_counter()
        f = qat_mlir.compile(text, kernels=args.kernels, threads=args.threads, progress=False)
        compile_s = time.perf_counter() - t0
        xn = x.numpy()
        with torch.no_grad():
            ref = net(x).numpy()
        ours = np.asarray(f(xn))
        err = float(np.abs(ours - ref).max() / max(np.abs(ref).max(), 1e-30))
        ok = err < 1e-4
        failed |= not ok
        steps = {"ours": lambda: f(xn)}

        def torch_fwd():
            with torch.no_grad():
                net(x)
        steps["PyTorch"] = torch_fwd
        for s in steps.values():
            s()
        med = {k: [] for k in steps}
        best = {k: float("inf") for k in steps}
        for _ in range(args.rounds):
            for k, s in steps.items():
                m, b = timed_best(s, args.min_seconds)
                med[k].append(m)
                best[k] = min(best[k], b)
        t = {k: statistics.median(v) * 1e3 for k, v in med.items()}
        b = {k: v * 1e3 for k, v in best.items()}
        print("%s 1x3x%dx%d, %d thread(s): ours %.2f ms, PyTorch 1.13 fp32 %.2f ms, "
              "PyTorch / ours = %.2fx (goal >= 1.5); best calls: ours %.2f ms, PyTorch "
              "%.2f ms (%.2fx); max rel. difference %.2e %s; compiled in %.1f s" % (
                  name, args.size, args.size, args.threads, t["ours"], t["PyTorch"],
                  t["PyTorch"] / t["ours"], b["ours"], b["PyTorch"],
                  b["PyTorch"] / b["ours"], err, "ok" if ok else "MISMATCH", compile_s),
              flush=True)
        if sums:
            print("  oneDNN 2.6.3 fp32 conv+fc sum (NHWC) %.2f ms, our layers' sum %.2f ms; "
                  "ours whole network / oneDNN sum = %.2f (goal <= 1.1; best call %.2f); %s" % (
                      sums[1], sums[0], t["ours"] / sums[1], b["ours"] / sums[1],
                      sums[2].lstrip("# ")),
                  flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
