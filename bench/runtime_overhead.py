#!/usr/bin/env python3
"""What a Python call of a compiled model costs on top of the C call.

An int8 torchvision ResNet-50 (random weights, batch-norm statistics
estimated on random data, prepared for x86, calibrated on 2 random images,
frozen, converted; one 1x3x224x224 image) is compiled ONCE with
qat_mlir.compile and called 1,000 times per round from Python. Each Python
call is timed (perf_counter around `f(x, out=y)`), and the extension
records the time spent inside the C API call (qatExecutableCall) of the
same call: their difference is the per-call overhead of Python (argument
checks, buffer views, the GIL release), measured call by call, free of the
model's run-to-run noise. In the same rounds, interleaved, a C loop
(`CompiledFunction.time_c_calls`: 1,000 qatExecutableCall in C++ without
the GIL) gives the peer time per call.

Variants: NumPy in, `out=` NumPy buffer; the same as a bound call
(`f.bind(x, out=y)` once, then `call()`: the buffers checked once); torch
tensor in, `out=` tensor; NumPy in, result allocated by the call. Each
round also times bare Python loops (`for _ in range(n): f(x, out=y)`) for
the loop-level comparison with the C loop, which the model's run-to-run
noise (tens of microseconds on ResNet-50) blurs.

    taskset -c 0 /usr/bin/python3 bench/runtime_overhead.py   # about 5 minutes
    /usr/bin/python3 bench/runtime_overhead.py --quick                      # a toy CNN, seconds

`--int8 FILE` keeps the int8 model: made and written there when FILE does
not exist, read from it otherwise (so that a run under a CPU lock times
only compilation and calls).

Prints the figures; asserts nothing but the outputs' equality across the
variants (bench/ reports, tests assert).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import qat_mlir  # noqa: E402


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def build_int8(quick, seed=0):
    """(int8 MLIR text, input shape) of the model."""
    import torch
    torch.manual_seed(seed)
    if quick:
        net = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            torch.nn.Conv2d(16, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))
        shape = (1, 3, 32, 32)
    else:
        import torchvision
        net = torchvision.models.resnet50(weights=None)
        shape = (1, 3, 224, 224)
    # Batch-norm statistics from random data, so eval mode is not the identity.
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    with torch.no_grad():
        net(torch.randn((4,) + shape[1:]))
    net.eval()
    rng = np.random.default_rng(seed + 1)
    batches = [rng.standard_normal(shape, dtype=np.float32) for _ in range(2)]
    start = time.perf_counter()
    text = qat_mlir.export(net, torch.from_numpy(batches[0]))
    prepared = qat_mlir.prepare(text, "x86")
    frozen = qat_mlir.freeze(qat_mlir.calibrate(prepared, "main", batches, progress=False))
    int8 = qat_mlir.convert(frozen)
    log("int8 model: %.0f s (export, prepare, calibrate, freeze, convert)"
        % (time.perf_counter() - start))
    return int8, shape


def py_round(f, args, out, calls):
    """Per-call Python times and overheads (Python time - C API time)."""
    exe = f._exe
    total, over = [], []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        f(*args, out=out)
        t1 = clock()
        total.append(t1 - t0)
        over.append((t1 - t0) - exe.last_call_seconds)
    return total, over


def py_round_bound(f, call, calls):
    exe = f._exe
    over = []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        call()
        t1 = clock()
        over.append((t1 - t0) - exe.last_call_seconds)
    return over


def bare_loop(fn, calls):
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def py_round_alloc(f, args, calls):
    exe = f._exe
    over = []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        f(*args)
        t1 = clock()
        over.append((t1 - t0) - exe.last_call_seconds)
    return over


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a toy CNN instead of ResNet-50")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--calls", type=int, default=1000, help="calls per round and variant")
    ap.add_argument("--int8", metavar="FILE",
                    help="the int8 model's MLIR: read it if FILE exists, else make and write it")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.calls = 2, 200
    import torch

    if args.int8 and os.path.exists(args.int8):
        with open(args.int8) as f:
            int8 = f.read()
        shape = (1, 3, 32, 32) if args.quick else (1, 3, 224, 224)
        log("int8 model read from %s" % args.int8)
    else:
        int8, shape = build_int8(args.quick)
        if args.int8:
            with open(args.int8, "w") as f:
                f.write(int8)
    start = time.perf_counter()
    f = qat_mlir.compile(int8)
    compile_s = time.perf_counter() - start
    log("compiled once in %.1f s" % compile_s)
    x = np.random.default_rng(7).standard_normal(shape, dtype=np.float32)
    (out_shape, out_dtype), = f.result_types
    y = np.empty(out_shape, out_dtype)
    xt, yt = torch.from_numpy(x.copy()), torch.empty(out_shape)
    ref = f(x)
    f(x, out=y)
    f(xt, out=yt)
    assert np.array_equal(ref, y) and np.array_equal(ref, yt.numpy()), "variants differ"

    bound = f.bind(x, out=y)
    assert bound() is y and np.array_equal(y, ref)
    calls = 0
    py_mean, bound_mean, c_mean = [], [], []
    over_np, over_bound, over_torch, over_alloc = [], [], [], []
    for r in range(args.rounds):
        over_np += py_round(f, (x,), y, args.calls)[1]
        over_bound += py_round_bound(f, bound, args.calls)
        over_torch += py_round(f, (xt,), yt, args.calls)[1]
        over_alloc += py_round_alloc(f, (x,), args.calls)
        py_mean.append(bare_loop(lambda: f(x, out=y), args.calls))
        c_mean.append(f.time_c_calls(x, out=y, repeat=args.calls))
        bound_mean.append(bare_loop(bound, args.calls))
        calls += 6 * args.calls
        log("round %d: Python loop %.3f ms/call, bound %.3f, C loop %.3f"
            % (r + 1, py_mean[-1] * 1e3, bound_mean[-1] * 1e3, c_mean[-1] * 1e3))

    def us(v):
        return v * 1e6

    def q(v, p):
        return sorted(v)[int(p * (len(v) - 1))]
    name = "toy CNN 1x3x32x32" if args.quick else "ResNet-50 int8 1x3x224x224"
    print("%s: compiled once (%.1f s), called %d times from Python in %d rounds"
          % (name, compile_s, calls + 3, args.rounds))
    print("  C loop (qatExecutableCall, no Python): %.3f ms per call (median of rounds; min %.3f)"
          % (statistics.median(c_mean) * 1e3, min(c_mean) * 1e3))
    print("  Python loop f(x, out=y):                %.3f ms per call (median of rounds; min %.3f)"
          % (statistics.median(py_mean) * 1e3, min(py_mean) * 1e3))
    print("  Python loop of the bound call:          %.3f ms per call (median of rounds; min %.3f)"
          % (statistics.median(bound_mean) * 1e3, min(bound_mean) * 1e3))
    for label, v in (("numpy in, out= numpy", over_np), ("bound call f.bind(x, out=y)()", over_bound),
                     ("torch in, out= tensor", over_torch),
                     ("numpy in, result allocated", over_alloc)):
        print("  overhead per call over the C call, %-31s median %.2f us, p90 %.2f us, "
              "max %.1f us (%d calls)" % (label + ":", us(statistics.median(v)), us(q(v, 0.9)),
                                         us(max(v)), len(v)))


if __name__ == "__main__":
    main()
