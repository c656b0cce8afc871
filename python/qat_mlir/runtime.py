"""compile(): functions of an MLIR module (or of a torch.nn.Module, exported
first) JIT-compiled once, in-process, by the native extension, and called on
NumPy arrays and torch tensors without copies.

    f = compile(mlir)                       # @main
    y = f(x)                                # a new array (a tensor for tensor inputs)
    f(x, out=y)                             # into a caller-provided buffer
    m = compile(mlir, entry=["fwd", "bwd"]) # several functions, one compilation
    m.fwd(x), m["bwd"](x, g)

Calls may run concurrently from several threads (the GIL is released around
the compiled code while other Python threads exist).
"""
import re
import sys
import time

import numpy as np

from . import _native

# Progress lines are printed by default for modules larger than this (text
# bytes): real networks, whose compilation takes seconds.
_PROGRESS_BYTES = 4 << 20


def _dtype(name):
    return np.dtype(name)


class _FunctionMethods:
    """The Python side of CompiledFunction: attributes, split=, and the
    general call path (`_call_slow`) that the native call falls back to for
    anything but exact NumPy arrays and plain CPU tensors."""

    def __init__(self, executable, index):
        pass  # the native type holds them

    def _setup(self, name, mlir, options, rebatch):
        exe, index = self._exe, self._index
        self.entry = name
        self.mlir = mlir
        self._options = options
        self._rebatch = rebatch
        self.arg_types = [(tuple(s), _dtype(d)) for s, d in exe.argument_types(index)]
        self.result_types = [(tuple(s), _dtype(d)) for s, d in exe.result_types(index)]
        return self

    def __repr__(self):
        return "<qat_mlir.CompiledFunction @%s %s -> %s>" % (
            self.entry, [t[0] for t in self.arg_types], [t[0] for t in self.result_types])

    def _call_slow(self, *inputs, out=None, split=False):
        if split:
            return self._split(inputs, out)
        batch = self._other_batch(inputs)
        if batch is not None:
            return self.at_batch(batch)(*inputs, out=out)
        return self._exe.call(self._index, inputs, out)

    @property
    def batch(self):
        """The batch size compiled for: the leading dimension shared by the
        arguments, or None."""
        sizes = {s[0] for s, _ in self.arg_types if s}
        return sizes.pop() if len(sizes) == 1 and len(self.arg_types) and \
            all(s for s, _ in self.arg_types) and None not in sizes else None

    def _other_batch(self, inputs):
        """N when every input matches its argument but for a leading
        dimension N shared by all of them (another batch size)."""
        if not self._rebatch or self.batch is None or len(inputs) != len(self.arg_types):
            return None
        sizes = set()
        for x, (shape, _) in zip(inputs, self.arg_types):
            xs = tuple(getattr(x, "shape", ()))
            if len(xs) != len(shape) or xs[1:] != tuple(shape[1:]):
                return None
            sizes.add(xs[0])
        n = sizes.pop() if len(sizes) == 1 else None
        return n if n and n != self.batch else None

    def at_batch(self, batch):
        """This function compiled for batch size `batch` (qat-rebatch, then
        compile with the same options), compiled once and cached. Calls with
        inputs of another batch size use it."""
        batch = int(batch)
        if batch == self.batch:
            return self
        cache = self.__dict__.setdefault("_batches", {})
        f = cache.get(batch)
        if f is None:
            text = self.mlir
            if _native.is_bytecode(text):
                text = _native.parse(text).to_text()
            if re.search(r"ml_program\.global\s+(?:private\s+)?mutable", text):
                raise ValueError("@%s keeps state in mutable globals (observers of a prepared "
                                 "model): it runs at its batch %s only; freeze it first"
                                 % (self.entry, self.batch))
            from .passes import rebatch
            f = compile(rebatch(self.mlir, batch, entry=self.entry), entry=self.entry,
                        **self._options)
            cache[batch] = f
        return f

    def bind(self, *inputs, out=None):
        """A call with its buffers checked once: `call = f.bind(x, out=y)`,
        then `call()` runs f on them and returns `out` (or result arrays
        made once by bind and overwritten by every call). The leanest call
        from Python, for loops over the same buffers. The buffers must pass
        as they are: exact dtype and shape (this batch size), C-contiguous,
        aligned; the bound call keeps them alive. Do not resize a bound
        torch tensor in place (resize_, set_)."""
        return _native.native().bind(self, inputs, out)

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


_DOC = """One compiled function: f(*inputs, out=None, split=False).

    Inputs are NumPy arrays or torch tensors (CPU, C-contiguous, of the
    argument's dtype; a float array of another precision for a float32
    argument is converted, the one copy). They are read in place, never
    written. Results are new arrays, or torch tensors when an input was a
    tensor; with `out=` (one buffer, or a tuple, one per result: exact
    dtype and shape, C-contiguous, writable) they are written there and
    `out` is returned. One result is returned as is, several as a tuple.
    ValueError names the argument and what is wrong.

    arg_types / result_types: [(shape, numpy dtype)], None in a shape for a
    dynamic size. last_time: wall time of the compiled code's last call, in
    seconds.
    """

_function_class = None


def function_class():
    """CompiledFunction: the native extension's Function (whose call checks
    NumPy arrays and tensors in C) with the methods above."""
    global _function_class
    if _function_class is None:
        n = _native.native()
        cls = type("CompiledFunction", (_FunctionMethods, n.Function),
                   {"__module__": "qat_mlir", "__doc__": _DOC})
        n.enable_vectorcall(cls)
        _function_class = cls
    return _function_class


def __getattr__(name):
    if name == "CompiledFunction":
        return function_class()
    raise AttributeError(name)


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


def _progress_printer(label, offset=0.0):
    """Prints each step as it starts: "compile: [ 2.1 s] translating ..."."""
    def show(what, seconds):
        print("%s: [%5.1f s] %s" % (label, offset + seconds, what), file=sys.stderr, flush=True)
    return show


def compile(model, entry="main", example_input=None, target=None, *, opt_level=3,
            kernels="auto", threads=1, arena="static", parallel_min_macs=None, progress=None,
            rebatch=True):
    """Compiles @entry of MLIR text (or of a torch.nn.Module, exported first
    with `example_input`, or of a QuantizedModel) once, in-process, and
    returns a CompiledFunction.
    With `entry` a list of names, compiles them together and returns a
    CompiledModule.

    target: where it runs; None or "host" (this CPU), or "npu" for a
    QuantizedModel of the bpu target (an NPUFunction). Options as qat-run's:
    opt_level 0-3, kernels auto|vnni|portable|none, threads (int8 kernels on
    OpenMP threads), arena static|call|none, parallel_min_macs. progress:
    print the compilation steps on stderr (default: for modules over 4 MB
    of text). rebatch: a call with inputs of another batch size (the
    leading dimension the arguments share) compiles the function for that
    size (qat-rebatch) on first use; False makes such calls a ValueError.
    Raises CompileError with the compiler's diagnostics.
    """
    options = dict(opt_level=opt_level, kernels=kernels, threads=threads, arena=arena,
                   parallel_min_macs=parallel_min_macs, progress=progress, rebatch=rebatch)
    from .workflow import QuantizedModel
    if isinstance(model, QuantizedModel):
        if target in (None, "host"):
            entry = model.entry
        else:
            return model.compile(target)
    if target not in (None, "host"):
        raise ValueError("target=%r: MLIR text and torch modules compile for the host (None or "
                         "'host'); for the NPU, quantize the model for 'bpu' first "
                         "(qat_mlir.quantize) and compile the QuantizedModel" % (target,))
    if isinstance(model, QuantizedModel):
        model = model._source  # text, or bytecode from quantize
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
    native_options = n.CompileOptions()
    native_options.opt_level = opt_level
    native_options.kernels = kernels
    native_options.threads = threads
    native_options.arena = arena
    if parallel_min_macs is not None:
        native_options.parallel_min_macs = parallel_min_macs
    if progress is None:
        progress = len(mlir) > _PROGRESS_BYTES
    start = time.perf_counter()
    if progress:
        print("compile: [%5.1f s] parsing %.1f MB of MLIR" % (0.0, len(mlir) / 1e6),
              file=sys.stderr, flush=True)
    module = _native.parse(mlir)
    if progress:
        native_options.progress = _progress_printer("compile", time.perf_counter() - start)
    try:
        exe = n.Executable(module, names, native_options)
    except n.NativeError as e:
        raise _native.compile_error(e, "compile") from None
    del module
    cls = function_class()
    functions = {name: cls(exe, i)._setup(name, mlir, options, rebatch)
                 for i, name in enumerate(names)}
    if isinstance(entry, str):
        return functions[entry]
    return CompiledModule(functions, mlir)
