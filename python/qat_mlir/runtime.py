"""The runtime API: compile MLIR to a Python callable over NumPy arrays, and
thin wrappers over the preparation tools. Everything runs the command-line
tools (qat-opt, qat-run, qat-calibrate) on files in a temporary directory;
a failing tool raises CompileError with its diagnostics.

Tools are found in $QAT_BIN, else on PATH, else in build/bin of the source
tree this package sits in.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import weakref

import numpy as np

from .errors import CompileError

_HERE = os.path.dirname(os.path.abspath(__file__))


def tool_path(name):
    """Absolute path of a qat-mlir tool (qat-opt, qat-run, ...)."""
    env = os.environ.get("QAT_BIN")
    if env:
        path = os.path.join(env, name)
        if os.access(path, os.X_OK):
            return path
        raise CompileError("QAT_BIN=%s has no executable %s" % (env, name), tool=name)
    found = shutil.which(name)
    if found:
        return found
    for rel in (("..", "build", "bin"), ("..", "..", "build", "bin")):
        path = os.path.normpath(os.path.join(_HERE, *rel, name))
        if os.access(path, os.X_OK):
            return path
    raise CompileError("cannot find %s: set QAT_BIN to the directory of the qat-mlir tools, "
                       "put it on PATH, or build the source tree (build/bin)" % name, tool=name)


def _run(name, args, stderr_lines=None, cwd=None):
    """Runs a tool; returns its stdout. stderr_lines(line) sees stderr as it
    arrives (for progress); CompileError on failure."""
    cmd = [tool_path(name)] + [str(a) for a in args]
    if stderr_lines is None:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=cwd)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=cwd)
        kept = []

        def pump():
            for line in proc.stderr:
                if not stderr_lines(line.rstrip("\n")):
                    kept.append(line)
        reader = threading.Thread(target=pump)
        reader.start()
        out = proc.stdout.read()
        rc = proc.wait()
        reader.join()
        err = "".join(kept)
    if rc != 0:
        shown = " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))
        raise CompileError("%s failed (exit code %d):\n  %s\n%s" % (name, rc, shown, err.rstrip()),
                           tool=name, returncode=rc, diagnostics=err)
    return out


def _text(mlir):
    if isinstance(mlir, bytes):
        return mlir.decode()
    if not isinstance(mlir, str):
        raise TypeError("expected MLIR text (str), got %s" % type(mlir).__name__)
    return mlir


class _Workdir:
    """A temporary directory removed with its owner."""

    def __init__(self, owner, prefix="qat_mlir_"):
        self.path = tempfile.mkdtemp(prefix=prefix)
        self._finalizer = weakref.finalize(owner, shutil.rmtree, self.path, True)

    def join(self, *parts):
        return os.path.join(self.path, *parts)


def _opt(mlir, passes):
    # Relative file names: locations in the result read "model.mlir":L:C.
    with tempfile.TemporaryDirectory(prefix="qat_mlir_") as tmp:
        with open(os.path.join(tmp, "model.mlir"), "w") as f:
            f.write(_text(mlir))
        _run("qat-opt", ["model.mlir"] + passes + ["-o", "out.mlir"], cwd=tmp)
        with open(os.path.join(tmp, "out.mlir")) as f:
            return f.read()


# ---------------------------------------------------------------------------
# Signature of the entry


_FUNC = re.compile(r"func\.func\s+(?:(?:public|private|nested)\s+)?@(\"[^\"]*\"|[\w$.]+)\s*\(")
_TENSOR = re.compile(r"tensor<([^>]*)>")
_DTYPES = {"f32": np.float32, "f64": np.float64, "i8": np.int8, "ui8": np.uint8,
           "i16": np.int16, "i32": np.int32, "i64": np.int64}


def _split_top(s):
    """Splits at commas outside <>, (), [] and {}."""
    parts, depth, cur = [], 0, []
    for ch in s:
        if ch in "<([{":
            depth += 1
        elif ch in ">)]}":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        parts.append("".join(cur).strip())
    return parts


def _balanced(text, start):
    """Index after the parenthesis closing the one at text[start]."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _parse_type(t):
    """(shape, dtype) of 'tensor<2x3xf32>', None when not a static tensor."""
    m = _TENSOR.match(t.strip())  # may be followed by attributes or a loc(...)
    if not m:
        return None
    parts = m.group(1).split("x")
    dtype = _DTYPES.get(parts[-1])
    try:
        shape = tuple(int(d) for d in parts[:-1])
    except ValueError:
        return None
    return (shape, dtype) if dtype else None


def signature(mlir, entry):
    """(argument types, result types) of func.func @entry, each a list of
    (shape, numpy dtype) or None for types that are not static tensors."""
    for m in _FUNC.finditer(mlir):
        if m.group(1).strip('"') != entry:
            continue
        open_paren = m.end() - 1
        close = _balanced(mlir, open_paren)
        args = []
        for a in _split_top(mlir[open_paren + 1:close - 1]):
            t = a.split(":", 1)[1] if ":" in a else a
            args.append(_parse_type(t.strip()))
        rest = mlir[close:].lstrip()
        results = []
        if rest.startswith("->"):
            rest = rest[2:].lstrip()
            if rest.startswith("("):
                end = _balanced(rest, 0)
                results = [_parse_type(r) for r in _split_top(rest[1:end - 1])]
            else:
                m2 = re.match(r"tensor<[^>]*>|[\w.!]+", rest)
                results = [_parse_type(m2.group(0))] if m2 else [None]
        return args, results
    raise CompileError("no func.func @%s in the module" % entry)


# ---------------------------------------------------------------------------
# compile


class CompiledFunction:
    """@entry of a module, callable on NumPy arrays through qat-run.

    f(*inputs) returns one array (or a tuple for several results). Each call
    JIT-compiles the module again (qat-run is a separate process): call it
    with many batches at once and split=True to compile once.
    """

    def __init__(self, mlir, entry="main"):
        self.mlir = _text(mlir)
        self.entry = entry
        self.arg_types, self.result_types = signature(self.mlir, entry)
        self._dir = _Workdir(self)
        self.path = self._dir.join("model.mlir")
        with open(self.path, "w") as f:
            f.write(self.mlir)
        _run("qat-opt", [self.path, "-o", os.devnull])  # parse and verify now
        self.last_time = None

    def _inputs(self, inputs, split):
        if len(inputs) != len(self.arg_types):
            raise ValueError("@%s takes %d argument(s), got %d"
                             % (self.entry, len(self.arg_types), len(inputs)))
        arrays = []
        for i, (x, t) in enumerate(zip(inputs, self.arg_types)):
            if hasattr(x, "detach"):  # a torch tensor
                x = x.detach().cpu().numpy()
            x = np.asarray(x)
            if t is not None:
                shape, dtype = t
                if x.dtype != dtype:
                    if x.dtype.kind == "f" and dtype == np.float32:
                        x = x.astype(dtype)
                    else:
                        raise ValueError("argument #%d: %s array for %s" % (i, x.dtype,
                                                                             np.dtype(dtype)))
                ok = x.shape == shape
                if split and shape and x.ndim == len(shape):
                    ok = x.shape[1:] == shape[1:] and shape[0] and x.shape[0] % shape[0] == 0
                if not ok:
                    raise ValueError("argument #%d: shape %s, @%s takes %s%s"
                                     % (i, x.shape, self.entry, shape,
                                        " (or a multiple along dim 0 with split=True)"
                                        if split else ""))
            arrays.append(np.ascontiguousarray(x))
        return arrays

    def __call__(self, *inputs, split=False):
        arrays = self._inputs(inputs, split)
        with tempfile.TemporaryDirectory(dir=self._dir.path) as tmp:
            args = [self.path, "--entry", self.entry]
            for i, a in enumerate(arrays):
                p = os.path.join(tmp, "in%d.npy" % i)
                np.save(p, a)
                args += ["--input", p]
            outs = [os.path.join(tmp, "out%d.npy" % i) for i in range(len(self.result_types))]
            for o in outs:
                args += ["--output", o]
            if split:
                args.append("--split")
            start = time.perf_counter()
            _run("qat-run", args)
            self.last_time = time.perf_counter() - start
            results = [np.load(o) for o in outs]
        return results[0] if len(results) == 1 else tuple(results)


def compile(mlir_text_or_module, entry="main", example_input=None, target=None):
    """A callable running @entry of MLIR text (or of a torch.nn.Module,
    exported first with `example_input`) on NumPy arrays.

    target: where it runs; None or "host" (the JIT of qat-run on this CPU)
    is the only one so far. To quantize, use prepare/calibrate/freeze/convert
    and compile the result.
    """
    if target not in (None, "host"):
        raise ValueError("target=%r: only the host JIT (None or 'host') is available; "
                         "quantization targets go to prepare() and convert()" % (target,))
    mlir = mlir_text_or_module
    if not isinstance(mlir, (str, bytes)):
        if example_input is None:
            raise ValueError("compiling a torch module needs example_input")
        from .exporter import export
        mlir = export(mlir, example_input, name=entry)
    return CompiledFunction(mlir, entry)


# ---------------------------------------------------------------------------
# Preparation wrappers (what scripts/demo.sh runs)


def prepare(mlir, target):
    """qat-opt --qat-prepare=target=TARGET: batch norm folded, fake
    quantizers and observers inserted, placement verified. Locations (the
    quantizer names act<N>) are kept."""
    return _opt(mlir, ["--qat-prepare=target=%s" % target, "--mlir-print-debuginfo"])


def calibrate(mlir, entry, batches, progress=True):
    """qat-calibrate: runs @entry of a prepared module once per batch with
    its observers updating; returns the module with the observed ranges.

    batches: an iterable of batches, each an array (one-argument entries) or
    a tuple of arrays (one per argument). progress: progress lines on stderr
    (the tool reports every 10 batches and the last one).
    """
    with tempfile.TemporaryDirectory(prefix="qat_mlir_") as tmp:
        with open(os.path.join(tmp, "model.mlir"), "w") as f:
            f.write(_text(mlir))
        data = []
        for i, batch in enumerate(batches):
            parts = batch if isinstance(batch, (tuple, list)) else (batch,)
            files = []
            for j, a in enumerate(parts):
                if hasattr(a, "detach"):
                    a = a.detach().cpu().numpy()
                p = "b%06d_%d.npy" % (i, j)
                np.save(os.path.join(tmp, p), np.ascontiguousarray(a))
                files.append(p)
            data += ["--data", ",".join(files)]
        if not data:
            raise ValueError("calibrate: no batches")
        n = len(data) // 2
        start = time.perf_counter()
        progress_re = re.compile(r"qat-calibrate: (\d+)/(\d+) batches")

        def on_line(line):
            m = progress_re.match(line)
            if not m:
                return False
            if progress:
                print("calibrate: %s/%s batches (%.1f s)" % (m.group(1), m.group(2),
                                                              time.perf_counter() - start),
                      file=sys.stderr, flush=True)
            return True
        _run("qat-calibrate", ["model.mlir", "--entry", entry, "--mlir-print-debuginfo",
                               "-o", "out.mlir"] + data, stderr_lines=on_line, cwd=tmp)
        if progress:
            print("calibrate: done, %d batches in %.1f s" % (n, time.perf_counter() - start),
                  file=sys.stderr, flush=True)
        with open(os.path.join(tmp, "out.mlir")) as f:
            return f.read()


def freeze(mlir):
    """qat-opt --qat-freeze-qparams --qat-verify-target: observed ranges to
    constant scales and zero points, then the target check."""
    return _opt(mlir, ["--qat-freeze-qparams", "--qat-verify-target", "--mlir-print-debuginfo",
                       "--mlir-print-local-scope"])


def verify(mlir, target=None):
    """qat-opt --qat-verify-target: checks a prepared or frozen module
    against its target (the module's qat.target, or `target`); raises
    CompileError naming each violated rule. Returns the text unchanged."""
    flag = "--qat-verify-target" + ("=target=%s" % target if target else "")
    _opt(mlir, [flag])
    return mlir


def convert(mlir, target=None, simulate=False):
    """qat-opt --qat-convert-to-integer: a frozen module to integer
    arithmetic (simulate=True: its float simulation, bit for bit the same
    codes). target: defaults to the module's qat.target."""
    opts = []
    if simulate:
        opts.append("simulate=true")
    if target:
        opts.append("target=%s" % target)
    flag = "--qat-convert-to-integer" + ("=" + " ".join(opts) if opts else "")
    return _opt(mlir, [flag])
