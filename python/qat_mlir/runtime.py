"""compile(): functions of an MLIR module (or of a torch.nn.Module, exported
first) JIT-compiled once, in-process, by the native extension, and called on
NumPy arrays and torch tensors without copies.

    f = compile(mlir)                       # @main
    y = f(x)                                # a new array (a tensor for tensor inputs)
    f(x, out=y)                             # into a caller-provided buffer
    m = compile(mlir, entry=["fwd", "bwd"]) # several functions, one compilation
    m.fwd(x), m["bwd"](x, g)

Calls release the GIL and may run concurrently from several threads.
"""
import sys
import time

import numpy as np

from . import _native

# Progress lines are printed by default for modules larger than this (text
# bytes): real networks, whose compilation takes seconds.
_PROGRESS_BYTES = 4 << 20


def _dtype(name):
    return np.dtype(name)


class CompiledFunction:
    """One compiled function: f(*inputs, out=None, split=False).

    Inputs are NumPy arrays or torch tensors (CPU, C-contiguous, of the
    argument's dtype; a float array of another precision for a float32
    argument is converted, the one copy). They are read in place, never
    written. Results are new arrays, or torch tensors when an input was a
    tensor; with `out=` (one buffer, or a tuple, one per result: exact
    dtype and shape, C-contiguous, writable) they are written there and
    `out` is returned. One result is returned as is, several as a tuple.
    ValueError names the argument and what is wrong.

    arg_types / result_types: [(shape, numpy dtype)], None in a shape for a
    dynamic size. last_time: wall time of the last call in seconds.
    """

    def __init__(self, executable, index, name, mlir):
        self._exe, self._index = executable, index
        self.entry = name
        self.mlir = mlir
        self.arg_types = [(tuple(s), _dtype(d)) for s, d in executable.argument_types(index)]
        self.result_types = [(tuple(s), _dtype(d)) for s, d in executable.result_types(index)]
        self.last_time = None

    def __repr__(self):
        return "<qat_mlir.CompiledFunction @%s %s -> %s>" % (
            self.entry, [t[0] for t in self.arg_types], [t[0] for t in self.result_types])

    def __call__(self, *inputs, out=None, split=False):
        start = time.perf_counter()
        if split:
            result = self._split(inputs, out)
        else:
            result = self._exe.call(self._index, inputs, out)
        self.last_time = time.perf_counter() - start
        return result

    def time_c_calls(self, *inputs, out, repeat=1000):
        """Seconds per call of `repeat` calls of the C API
        (qatExecutableCall) on the same buffers, in one C loop: the peer of
        a Python call (bench/runtime_overhead.py)."""
        return self._exe.time_calls(self._index, inputs, out, repeat)

    def _split(self, inputs, out):
        """Inputs holding n batches along dimension 0: n calls, results
        written into slices of one array per result."""
        if len(inputs) != len(self.arg_types):
            raise ValueError("@%s takes %d argument(s), got %d"
                             % (self.entry, len(self.arg_types), len(inputs)))
        calls, is_torch = None, False
        for i, (x, (shape, _)) in enumerate(zip(inputs, self.arg_types)):
            is_torch = is_torch or type(x).__module__.startswith("torch")
            n = len(x) // shape[0] if shape and shape[0] else 0
            if (not shape or not shape[0] or len(getattr(x, "shape", ())) != len(shape)
                    or tuple(x.shape[1:]) != tuple(shape[1:]) or len(x) != n * shape[0]):
                raise ValueError("argument #%d: shape %s is not a whole number of batches of %s"
                                 % (i, tuple(getattr(x, "shape", ())), shape))
            if calls is None:
                calls = n
            elif n != calls:
                raise ValueError("argument #%d holds %d batches, argument #0 %d" % (i, n, calls))
        for shape, _ in self.result_types:
            if not shape:
                raise ValueError("split=True: @%s has a rank-0 result" % self.entry)
        if out is None:
            outs = tuple(np.empty((calls * s[0],) + tuple(s[1:]), d) for s, d in self.result_types)
        else:
            outs = out if isinstance(out, (tuple, list)) else (out,)
        for c in range(calls):
            args = tuple(x[c * s[0]:(c + 1) * s[0]] for x, (s, _) in zip(inputs, self.arg_types))
            chunk = tuple(o[c * s[0]:(c + 1) * s[0]] for o, (s, _) in zip(outs, self.result_types))
            self._exe.call(self._index, args, chunk)
        if out is not None:
            return out
        if is_torch:
            import torch
            outs = tuple(torch.from_numpy(o) for o in outs)
        return outs[0] if len(outs) == 1 else outs


class CompiledModule:
    """Several functions of one module, compiled together once: m.name or
    m["name"] is each one's CompiledFunction."""

    def __init__(self, functions, mlir):
        self.functions = functions
        self.mlir = mlir

    @property
    def names(self):
        return list(self.functions)

    def __getitem__(self, name):
        return self.functions[name]

    def __getattr__(self, name):
        functions = self.__dict__.get("functions", {})
        if name in functions:
            return functions[name]
        raise AttributeError(name)

    def __repr__(self):
        return "<qat_mlir.CompiledModule %s>" % ", ".join("@" + n for n in self.functions)


def _progress_printer(label):
    def show(what, seconds):
        print("%s: %s (%.1f s)" % (label, what, seconds), file=sys.stderr, flush=True)
    return show


def compile(model, entry="main", example_input=None, target=None, *, opt_level=3,
            kernels="auto", threads=1, arena="static", parallel_min_macs=None, progress=None):
    """Compiles @entry of MLIR text (or of a torch.nn.Module, exported first
    with `example_input`) once, in-process, and returns a CompiledFunction.
    With `entry` a list of names, compiles them together and returns a
    CompiledModule.

    target: where it runs; None or "host" (this CPU). Options as qat-run's:
    opt_level 0-3, kernels auto|vnni|portable|none, threads (int8 kernels on
    OpenMP threads), arena static|call|none, parallel_min_macs. progress:
    print the compilation steps on stderr (default: for modules over 4 MB
    of text). Raises CompileError with the compiler's diagnostics.
    """
    if target not in (None, "host"):
        raise ValueError("target=%r: only the host (None or 'host') is available; "
                         "quantization targets go to prepare() and convert()" % (target,))
    mlir = model
    names = [entry] if isinstance(entry, str) else list(entry)
    if not isinstance(mlir, (str, bytes)):
        if example_input is None:
            raise ValueError("compiling a torch module needs example_input")
        if len(names) != 1:
            raise ValueError("a torch module exports one function; entry=%r" % (entry,))
        from .frontends.pytorch import export
        mlir = export(mlir, example_input, name=names[0])
    mlir = _native.text_of(mlir)
    n = _native.native()
    options = n.CompileOptions()
    options.opt_level = opt_level
    options.kernels = kernels
    options.threads = threads
    options.arena = arena
    if parallel_min_macs is not None:
        options.parallel_min_macs = parallel_min_macs
    if progress is None:
        progress = len(mlir) > _PROGRESS_BYTES
    if progress:
        options.progress = _progress_printer("compile")
    start = time.perf_counter()
    module = _native.parse(mlir)
    if progress:
        print("compile: parsed %.1f MB of MLIR (%.1f s)" % (len(mlir) / 1e6,
                                                            time.perf_counter() - start),
              file=sys.stderr, flush=True)
    try:
        exe = n.Executable(module, names, options)
    except n.NativeError as e:
        raise _native.compile_error(e, "compile") from None
    del module
    functions = {name: CompiledFunction(exe, i, name, mlir) for i, name in enumerate(names)}
    if isinstance(entry, str):
        return functions[entry]
    return CompiledModule(functions, mlir)
