#!/usr/bin/env python3
"""Float inference of whole networks: qat-mlir's fp32 kernels against
PyTorch 1.13 (issue 17).

Each network (torchvision, random weights, eval mode, 1 x 3 x 224 x 224 by
default) is exported with qat_mlir.export and compiled once in-process
(qat_mlir.compile, kernels=auto: the fp32 kernels of docs/Kernels.md), then
timed against PyTorch's eager fp32 forward (its convolutions run on oneDNN)
in one process, interleaved rounds, medians; one thread unless --threads.
The outputs are compared first (max |ours - PyTorch| relative to max
|PyTorch|). The sum of oneDNN's fp32 conv+fc primitive times per network is
the other peer: `qat-bench-f32-layers --filter resnet18/` (bench/README.md).

Run under the CPU lock: /work/dev/cpu python3 bench/float_networks.py
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def timed(step, min_seconds):
    times = []
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start >= min_seconds and len(times) >= 3:
            return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="resnet18,mobilenet_v2")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--min-seconds", type=float, default=0.5)
    ap.add_argument("--kernels", default="auto")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(os.path.abspath(args.build), "python"))
    import qat_mlir
    import torchvision

    torch.set_num_threads(args.threads)
    failed = False
    for name in args.models.split(","):
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
        for _ in range(args.rounds):
            for k, s in steps.items():
                med[k].append(timed(s, args.min_seconds))
        t = {k: statistics.median(v) * 1e3 for k, v in med.items()}
        print("%s 1x3x%dx%d, %d thread(s): ours %.2f ms, PyTorch 1.13 fp32 %.2f ms, "
              "PyTorch / ours = %.2fx (goal >= 1.5); max rel. difference %.2e %s; "
              "compiled in %.1f s" % (
                  name, args.size, args.size, args.threads, t["ours"], t["PyTorch"],
                  t["PyTorch"] / t["ours"], err, "ok" if ok else "MISMATCH", compile_s),
              flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
