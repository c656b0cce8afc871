"""Compile time of the int8 flow on one torchvision network (random
weights), stage by stage, from the float MLIR that qat_mlir.export wrote
(not timed) to an int8 object: prepare (x86) -> calibrate (--batches
random images) -> freeze + verify -> convert -> int8 object (qat-compile's
code path, in-process, kernels auto). Issue 19's goal: ResNet-50 in < 10 s
on one core.

The model goes from step to step as MLIR bytecode (export(binary=True), as
quantize does), or as MLIR text with --text.

    taskset -c 0 /usr/bin/python3 bench/compile_stages.py [resnet50] [--batches 1] [--size 224] [--text]
"""
import argparse
import os
import resource
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
import qat_mlir  # noqa: E402
from qat_mlir import _native  # noqa: E402


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("name", nargs="?", default="resnet50")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--batches", type=int, default=1)
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--text", action="store_true",
                    help="pass MLIR text between the steps instead of bytecode")
    args = ap.parse_args(argv)
    import torchvision
    torch.manual_seed(0)
    net = getattr(torchvision.models, args.name)().eval()
    shape = (1, 3, args.size, args.size)
    g = torch.Generator().manual_seed(0)
    text = qat_mlir.export(net, torch.randn(shape, generator=g), binary=not args.text)
    data = [torch.randn(shape, generator=g).numpy() for _ in range(args.batches)]
    times = []

    def cpu():
        # This process's CPU time and its finished children's (qat-calibrate).
        c = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.process_time() + c.ru_utime + c.ru_stime

    def stage(name, fn, *a, **k):
        t0, c0 = time.perf_counter(), cpu()
        r = fn(*a, **k)
        times.append((name, time.perf_counter() - t0, cpu() - c0))
        return r

    prepared = stage("prepare", qat_mlir.prepare, text, "x86")
    calibrated = stage("calibrate (%d batch)" % args.batches, qat_mlir.calibrate, prepared,
                       "main", data, progress=False)
    frozen = stage("freeze + verify", qat_mlir.freeze, calibrated)
    int8 = stage("convert", qat_mlir.convert, frozen)
    n = _native.native()
    options = n.CompileOptions()
    options.kernels = args.kernels
    with tempfile.TemporaryDirectory() as tmp:
        obj = os.path.join(tmp, "model.o")

        def aot():
            module = _native.parse(int8)
            n.compile_to_object(module, "main", obj, os.path.join(tmp, "model.h"), options)
        stage("int8 object (qat-compile)", aot)
        size = os.path.getsize(obj)
    total = sum(t for _, t, _ in times)
    total_cpu = sum(c for _, _, c in times)
    form = "text" if args.text else "bytecode"
    print("%s 1x3x%dx%d, MLIR %s: float %.0f MB, int8 %.0f MB, object %.0f MB"
          % (args.name, args.size, args.size, form, len(text) / 1e6, len(int8) / 1e6,
             size / 1e6))
    # Wall time, and the process's CPU time (user + system), which a loaded
    # machine inflates less.
    print("  %-28s %8s %8s" % ("stage", "wall", "CPU"))
    for name, t, c in times:
        print("  %-28s %6.2f s %6.2f s" % (name, t, c))
    print("  %-28s %6.2f s %6.2f s" % ("total", total, total_cpu))


if __name__ == "__main__":
    main(sys.argv[1:])
