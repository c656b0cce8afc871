#!/usr/bin/env python3
"""What a Python call of a compiled model costs on top of the C call.

An int8 torchvision ResNet-50 (random weights, batch-norm statistics
estimated on random data, prepared for x86, calibrated on 2 random images,
frozen, converted; one 1x3x224x224 image) is compiled ONCE with
qat_mlir.compile and called from Python 1,000 times (--rounds x --calls,
5 x 200), each round beside a C loop of as many calls of the same function
on the same buffers (qatExecutableCall, the C API, without Python: what a
C program embedding libQATCAPI does).

Both loops are timed alike, call by call: the extension records when each
call enters it and how long its C API call takes (only while the bench
traces the function), the C loop records the same around each of its
calls. Per loop, the time per call is the period between two entries and
the overhead is that period minus the C call's own time, call by call,
which keeps the model's run-to-run noise (tens of microseconds on
ResNet-50) out of it. Python's overhead over the C call = the Python
loop's overhead - the C loop's. Medians over the calls of a round, then
over the rounds.

Variants (each --calls per round): `f(x, out=y)` (the main figure); a
bound call (`f.bind(x, out=y)` once, then `call()`); torch tensors in and
out; NumPy in with the result allocated by the call; `f(x, out=y)` while a
second Python thread is alive (the GIL is then released around the C call
and re-acquired); perf_counter around each `f(x, out=y)` (the bracket of
earlier versions, the timer's own cost included); `f(x, out=y)` without
the prefetching of the way back (docs/Python.md, "Per-call overhead").

    taskset -c 0 /usr/bin/python3 bench/runtime_overhead.py --int8 R50.mlir   # minutes
    /usr/bin/python3 bench/runtime_overhead.py --quick                        # a toy CNN, seconds

`--int8 FILE` keeps the int8 model: made and written there when FILE does
not exist, read from it otherwise (so that a timed run does only
compilation and calls). `--float FILE` also times the float ResNet-50 in
the same way.

Prints the figures; asserts nothing but the outputs' equality across the
variants (bench/ reports, tests assert).
"""
import argparse
import os
import statistics
import sys
import threading
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


def traced(f, run, calls):
    """(Python call times, overheads, breakdown) of `calls` calls made by
    run(calls): the call time is the period between the extension's entries
    of two successive calls (the whole loop iteration: Python's loop and
    call, the checks, the GIL, the C call, the return), the overhead is that
    period minus the C API call's own time, call by call. The breakdown
    splits the overhead: from the entry to the C call (the checks; the GIL
    release when other threads exist), from the C call's end to the GIL
    held (its re-acquisition when it was released), and the rest (the
    return to Python, its loop and the next call into the extension)."""
    native = qat_mlir._native.native()
    native.trace_start(f, calls + 1)
    run(calls + 1)
    t = native.trace_take(f)
    period = np.diff(t["entry"])
    inner = t["inner"][:-1]
    parts = {"checks": (t["start"] - t["entry"])[:-1],
             "gil": (t["resumed"] - t["start"] - t["inner"])[:-1],
             "rest": t["entry"][1:] - t["resumed"][:-1]}
    return period, period - inner, parts


def c_loop(f, args, out, calls):
    """The same figures for a C loop (qatExecutableCall on the same
    buffers, a timestamp before and after each call, no Python)."""
    entry, inner = f._exe.trace_calls(f._index, args, out, calls + 1)
    period = np.diff(entry)
    return period, period - inner[:-1]


def bracket_round(f, args, out, calls):
    """Overheads as perf_counter brackets each call from Python (the
    timer's own cost included) minus the C API call's time."""
    over = []
    clock = time.perf_counter
    for _ in range(calls):
        t0 = clock()
        f(*args, out=out)
        t1 = clock()
        over.append((t1 - t0) - f.last_time)
    return np.array(over)


def build_float(quick, seed=0):
    """(float MLIR text, input shape): the model of build_int8 before
    quantization."""
    import torch
    torch.manual_seed(seed)
    import torchvision
    net = torchvision.models.resnet50(weights=None).eval()
    shape = (1, 3, 224, 224)
    start = time.perf_counter()
    text = qat_mlir.export(net, torch.randn(shape))
    log("float model: %.0f s (export)" % (time.perf_counter() - start))
    return text, shape


def load_or_make(path, make):
    if path and os.path.exists(path):
        with open(path) as f:
            text = f.read()
        log("model read from %s" % path)
        return text
    text = make()
    if path:
        with open(path, "w") as f:
            f.write(text)
    return text


def measure(name, text, shape, args):
    """Compiles `text` once and prints the figures of `args.rounds` rounds."""
    import torch
    start = time.perf_counter()
    f = qat_mlir.compile(text)
    compile_s = time.perf_counter() - start
    log("%s: compiled once in %.1f s" % (name, compile_s))
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
    calls = 4

    def loop_np(n):
        for _ in range(n):
            f(x, out=y)

    def loop_bound(n):
        for _ in range(n):
            bound()

    def loop_torch(n):
        for _ in range(n):
            f(xt, out=yt)

    def loop_alloc(n):
        for _ in range(n):
            f(x)

    rows = {k: [] for k in ("py", "c", "py_over", "c_over", "bound", "torch", "alloc",
                            "threads", "bracket", "noprefetch")}
    native = qat_mlir._native.native()
    for r in range(args.rounds):
        # Interleaved: the Python loop, the C loop, then the variants.
        py, py_over, parts = traced(f, loop_np, args.calls)
        c, c_over = c_loop(f, (x,), y, args.calls)
        rows["py"].append(np.median(py))
        rows["c"].append(np.median(c))
        rows["py_over"].append(np.median(py_over))
        rows["c_over"].append(np.median(c_over))
        for k, v in parts.items():
            rows.setdefault(k, []).append(np.median(v))
        calls += args.calls + 1
        if args.variants:
            for k, run in (("bound", loop_bound), ("torch", loop_torch), ("alloc", loop_alloc)):
                rows[k].append(np.median(traced(f, run, args.calls)[1]))
            # With a second Python thread alive (waiting), calls release the
            # GIL around the compiled code and re-acquire it after.
            done = threading.Event()
            other = threading.Thread(target=done.wait)
            other.start()
            rows["threads"].append(np.median(traced(f, loop_np, args.calls)[1]))
            done.set()
            other.join()
            rows["bracket"].append(np.median(bracket_round(f, (x,), y, args.calls)))
            # The call path without its prefetching of the way back.
            mask = native.set_prefetch(0)
            rows["noprefetch"].append(np.median(traced(f, loop_np, args.calls)[1]))
            native.set_prefetch(mask)
            calls += 5 * (args.calls + 1) + args.calls
        log("round %d: Python %.3f ms/call (overhead %.2f us), C %.3f ms/call (%.2f us)"
            % (r + 1, rows["py"][-1] * 1e3, rows["py_over"][-1] * 1e6, rows["c"][-1] * 1e3,
               rows["c_over"][-1] * 1e6))

    def med(k):
        return statistics.median(rows[k])

    print("%s: compiled once (%.1f s), called %d times from Python, %d rounds of %d calls"
          " (medians over calls, then over rounds)"
          % (name, compile_s, calls, args.rounds, args.calls))
    print("  Python call, f(x, out=y) in a loop:  %10.3f us per call" % (med("py") * 1e6))
    print("  C call, qatExecutableCall in a loop: %10.3f us per call" % (med("c") * 1e6))
    print("  difference:                          %10.2f us (the model's run-to-run noise "
          "included)" % ((med("py") - med("c")) * 1e6))
    print("  per call, loop period minus the C call's own time, call by call:")
    print("    Python %.2f us, C %.2f us: Python's overhead over the C call %.2f us"
          % (med("py_over") * 1e6, med("c_over") * 1e6, (med("py_over") - med("c_over")) * 1e6))
    print("    Python's part by part: entry to the C call (checks) %.2f us, C call's end to the "
          "GIL held (and the prefetching) %.2f us, return, loop and next call %.2f us"
          % (med("checks") * 1e6, med("gil") * 1e6, med("rest") * 1e6))
    if args.variants:
        for k, label in (("bound", "bound call f.bind(x, out=y)()"),
                         ("torch", "torch tensors, f(xt, out=yt)"),
                         ("alloc", "result allocated, f(x)"),
                         ("threads", "f(x, out=y), another thread alive"),
                         ("bracket", "perf_counter around f(x, out=y)"),
                         ("noprefetch", "f(x, out=y) without prefetching")):
            print("    %-34s %.2f us over the C call (period or bracket minus C call)"
                  % (label + ":", (med(k) - med("c_over")) * 1e6))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a toy CNN instead of ResNet-50")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--calls", type=int, default=200, help="Python calls per round")
    ap.add_argument("--no-variants", dest="variants", action="store_false",
                    help="time only f(x, out=y), not the bound, torch and allocating calls")
    ap.add_argument("--int8", metavar="FILE",
                    help="the int8 model's MLIR: read it if FILE exists, else make and write it")
    ap.add_argument("--float", metavar="FILE", dest="float_file",
                    help="also time the float ResNet-50 (its MLIR read from FILE if it exists, "
                    "else exported and written there)")
    args = ap.parse_args()
    if args.quick:
        args.rounds, args.calls = 3, 300
    shape = (1, 3, 32, 32) if args.quick else (1, 3, 224, 224)
    int8 = load_or_make(args.int8, lambda: build_int8(args.quick)[0])
    name = "toy CNN int8 1x3x32x32" if args.quick else "ResNet-50 int8 1x3x224x224"
    measure(name, int8, shape, args)
    if args.float_file and not args.quick:
        text = load_or_make(args.float_file, lambda: build_float(False)[0])
        measure("ResNet-50 float 1x3x224x224", text, shape, args)


if __name__ == "__main__":
    main()
