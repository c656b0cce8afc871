"""The preparation steps, run in-process by the native extension (the
passes of qat-opt): prepare, freeze, convert, verify; and calibrate
(qat-calibrate). Each takes MLIR text or bytecode and returns the same
form. Locations are kept (--mlir-print-debuginfo for text; bytecode always
keeps them), so ops keep the PyTorch module names the exporter gives them
and quantizers theirs.
"""
import os
import re
import sys
import tempfile
import time

import numpy as np

from . import _native


def _apply(mlir, pipeline, debug_info=True, local_scope=False):
    module = _native.parse(mlir)
    _native.run_pipeline(module, pipeline)
    return _native.output_like(module, mlir, debug_info=debug_info, local_scope=local_scope)


def prepare(mlir, target):
    """qat-prepare{target=TARGET}: batch norm folded, fake quantizers and
    observers inserted, placement verified."""
    return _apply(mlir, "qat-prepare{target=%s}" % target)


def freeze(mlir):
    """qat-freeze-qparams, qat-verify-target: observed ranges to constant
    scales and zero points, then the target check."""
    return _apply(mlir, "qat-freeze-qparams,qat-verify-target", local_scope=True)


def verify(mlir, target=None):
    """qat-verify-target: checks a prepared or frozen module against its
    target (the module's qat.target, or `target`); raises CompileError
    naming each violated rule. Returns the text unchanged."""
    _apply(mlir, "qat-verify-target" + ("{target=%s}" % target if target else ""))
    return mlir


def convert(mlir, target=None, simulate=False):
    """qat-convert-to-integer: a frozen module to integer arithmetic
    (simulate=True: its float simulation, bit for bit the same codes).
    target: defaults to the module's qat.target."""
    opts = []
    if simulate:
        opts.append("simulate=true")
    if target:
        opts.append("target=%s" % target)
    return _apply(mlir, "qat-convert-to-integer" + ("{%s}" % " ".join(opts) if opts else ""))


def rebatch(mlir, batch, entry=None):
    """qat-rebatch{batch=N}: the model rewritten for batch size `batch`
    (every function, or `entry`): the arguments' leading dimension becomes
    `batch` and every value derived from them follows; results equal, image
    by image, those of the original (docs/Python.md, "Batch size")."""
    opts = "batch=%d" % int(batch) + (" entry=%s" % entry if entry else "")
    return _apply(mlir, "qat-rebatch{%s}" % opts)


def _batch_arrays(batch, arg_types, transform_fn):
    """The arrays of one calibration batch, one per argument: a DataLoader
    item (x, y) gives x for a one-argument entry; floats are cast to the
    argument's float32."""
    if transform_fn is not None:
        batch = transform_fn(batch)
    parts = list(batch) if isinstance(batch, (tuple, list)) else [batch]
    if len(parts) > len(arg_types):
        parts = parts[:len(arg_types)]  # (inputs..., labels): the labels are not arguments
    arrays = []
    for a, t in zip(parts, arg_types):
        if hasattr(a, "detach"):
            a = a.detach().cpu().numpy()
        a = np.asarray(a)
        if t is not None and t[1] == "float32" and a.dtype.kind == "f" and a.dtype != np.float32:
            a = a.astype(np.float32)
        arrays.append(np.ascontiguousarray(a))
    return arrays


def calibrate(mlir, entry, batches, progress=True, transform_fn=None):
    """qat-calibrate: runs @entry of a prepared module once per batch with
    its observers updating; returns the module with the observed ranges.

    batches: an iterable of batches (a list, a generator, a DataLoader).
    Each is an array or tensor (one-argument entries) or a tuple of them,
    one per argument; extra items (the labels of a DataLoader's (x, y)) are
    ignored. transform_fn(batch), if given, maps each item first (as
    nncf.Dataset's). Float arrays are cast to the argument's float32.
    progress: progress lines on stderr (the tool reports every 10 batches
    and the last one).
    """
    module = _native.parse(mlir)
    funcs = {f[0]: f for f in module.functions()}
    if entry not in funcs:
        raise _native.CompileError("no function @%s in the module (it defines %s)"
                                   % (entry, ", ".join("@" + n for n in funcs) or "none"),
                                   tool="calibrate")
    arg_types = funcs[entry][1]
    with tempfile.TemporaryDirectory(prefix="qat_mlir_") as tmp:
        source = _native.text_of(mlir)
        binary = isinstance(source, bytes)
        model, out = ("model.mlirbc", "out.mlirbc") if binary else ("model.mlir", "out.mlir")
        with open(os.path.join(tmp, model), "wb" if binary else "w") as f:
            f.write(source)
        data = []
        for i, batch in enumerate(batches):
            files = []
            for j, a in enumerate(_batch_arrays(batch, arg_types, transform_fn)):
                p = "b%06d_%d.npy" % (i, j)
                np.save(os.path.join(tmp, p), a)
                files.append(p)
            data += ["--data", ",".join(files)]
        if not data:
            raise ValueError("calibrate: no batches")
        n = len(data) // 2
        start = time.perf_counter()
        progress_re = re.compile(r"qat-calibrate: (\d+)/(\d+) batches")
        compile_re = re.compile(r"qat-calibrate: \[ *[0-9.]+ s\] (.*)")

        def on_line(line):
            c = compile_re.match(line)
            if c:
                if progress:
                    print("calibrate: [%5.1f s] compiling: %s" % (time.perf_counter() - start,
                                                                  c.group(1)),
                          file=sys.stderr, flush=True)
                return True
            m = progress_re.match(line)
            if not m:
                return False
            if progress:
                print("calibrate: %s/%s batches (%.1f s)" % (m.group(1), m.group(2),
                                                              time.perf_counter() - start),
                      file=sys.stderr, flush=True)
            return True
        _native.run_tool("qat-calibrate", [model, "--entry", entry, "-o", out]
                         + (["--emit-bytecode"] if binary else ["--mlir-print-debuginfo"]) + data
                         + ([] if progress else ["--quiet"]),
                         stderr_lines=on_line, cwd=tmp)
        if progress:
            print("calibrate: done, %d batches in %.1f s" % (n, time.perf_counter() - start),
                  file=sys.stderr, flush=True)
        with open(os.path.join(tmp, out), "rb" if binary else "r") as f:
            return f.read()
