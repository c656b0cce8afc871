"""The PyTorch user's workflow: quantize a torch.nn.Module in one call, save
and load the result, compile it for the host or the NPU, export it as a
library.

    qm = quantize(model, data_loader, "x86")      # export, prepare, calibrate, freeze, convert
    y = qm(x)                                     # the int8 model on this CPU (compiled once)
    qm.save("model.qat.mlir"); qm = load("model.qat.mlir")
    npu = qm.compile("npu"); y = npu(x)           # bpu models: the NPU simulator
    qm.export_library("libmodel.so")              # + libmodel.h

A saved model is one MLIR file: the integer model, with its metadata (target,
input and output quantization, the PyTorch module names, the batch size, the
float model's class) as a JSON string in the module attribute `qat.model`.
qat-compile, qat-run and qat-npu-check read it as any other MLIR file.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from . import _native, passes, runtime

FORMAT = 1
_ATTR = "qat.model"


def _is_torch(x):
    return type(x).__module__.startswith("torch")


def _first_arrays(item, transform_fn):
    """The model inputs of one data item: transform_fn applied, the labels
    of an (x, y) item dropped later by the argument count."""
    if transform_fn is not None:
        item = transform_fn(item)
    return list(item) if isinstance(item, (tuple, list)) else [item]


def _as_float32_tensor(x):
    import torch
    if not isinstance(x, torch.Tensor):
        x = torch.from_numpy(np.asarray(x))
    if x.dtype.is_floating_point and x.dtype != torch.float32:
        x = x.to(torch.float32)
    return x.detach().cpu().contiguous()


def _forward_arity(model):
    import inspect
    try:
        params = [p for p in inspect.signature(model.forward).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
                  and p.default is p.empty]
        return max(1, len(params))
    except (TypeError, ValueError):
        return 1


def _module_names(model):
    """Qualified names of the model's leaf modules with their class, in
    definition order: what locations and reports name."""
    names = {}
    for name, m in model.named_modules():
        if name and not list(m.children()):
            names[name] = type(m).__name__
    return names


class QuantizedModel:
    """An int8 model with its metadata; see quantize() and load().

    mlir: the integer model (MLIR text, printed on first use when the model
    is held as bytecode). frozen: the frozen fake-quant model it was
    converted from (MLIR bytecode from quantize; None after load()).
    metadata: a dict (target, entry, batch, input_shapes,
    input_quantization, output_quantization, module_names, torch_class,
    format).
    """

    def __init__(self, mlir, metadata, frozen=None):
        self._source = mlir  # text or bytecode: what compile and save read
        self._text = None if _native.is_bytecode(mlir) else mlir
        self.metadata = metadata
        self.frozen = frozen
        self._host = None
        self._npu = None

    def __repr__(self):
        return "<qat_mlir.QuantizedModel %s target=%s batch=%s>" % (
            self.metadata.get("torch_class", "?"), self.target, self.batch)

    @property
    def mlir(self):
        if self._text is None:
            self._text = _native.parse(self._source).to_text(debug_info=True)
        return self._text

    @property
    def target(self):
        return self.metadata["target"]

    @property
    def entry(self):
        return self.metadata["entry"]

    @property
    def batch(self):
        return self.metadata["batch"]

    def __call__(self, *inputs, out=None):
        """The int8 model on this CPU (compiled on first use, then called
        in-process; other batch sizes are compiled on first use)."""
        if self._host is None:
            self._host = self.compile("host")
        return self._host(*inputs, out=out)

    def compile(self, target="host", **options):
        """A callable of the int8 model: target "host" (this CPU, as
        qat_mlir.compile with `options`) or "npu" (the NPU simulator, for
        models quantized for "bpu"; see NPUFunction)."""
        if target in (None, "host"):
            return runtime.compile(self._source, entry=self.entry, **options)
        if target == "npu":
            return NPUFunction(self._source, self.entry, **options)
        raise ValueError("target=%r: 'host' or 'npu'" % (target,))

    def text(self):
        """The integer model with its metadata attribute (what save writes)."""
        module = _native.parse(self._source)
        module.set_attribute(_ATTR, json.dumps(self.metadata, sort_keys=True))
        return module.to_text(debug_info=True)

    def save(self, path):
        """One MLIR file: the integer model and its metadata."""
        text = self.text()
        with open(path, "w") as f:
            f.write(text)
        return path

    def compare_layers(self, model, inputs, npu=None):
        """The per-layer comparison of the float `model` this was quantized
        from, the fake-quant, int8 (and NPU) models on `inputs`:
        qat_mlir.compare_layers (a LayerReport: .table(), .plot(path))."""
        from .debug import compare_layers
        return compare_layers(model, self, inputs, npu=npu)

    def export_library(self, path, header=None, kernels="auto", cpu="host", threads=1,
                       opt_level=3):
        """Ahead-of-time compilation (qat-compile): a relocatable object
        (`path` ending in .o) or a shared library (.so, linked with the C
        compiler), and the C header of its ABI (`header`, default: `path`
        with .h). kernels also takes "dispatch" (VNNI and portable builds,
        chosen by the CPU at run time). Returns (library, header)."""
        header = header or os.path.splitext(path)[0] + ".h"
        shared = path.endswith(".so")
        n = _native.native()
        options = n.CompileOptions()
        options.kernels, options.cpu, options.threads = kernels, cpu, threads
        options.opt_level = opt_level
        module = _native.parse(self._source)
        with tempfile.TemporaryDirectory(prefix="qat_mlir_") as tmp:
            obj = os.path.join(tmp, "model.o") if shared else path
            try:
                n.compile_to_object(module, self.entry, obj, header, options)
            except n.NativeError as e:
                raise _native.compile_error(e, "aot") from None
            if shared:
                cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("clang-22")
                if not cc:
                    raise _native.CompileError("no C compiler (cc) to link %s" % path, tool="cc")
                cmd = [cc, "-shared", "-o", path, obj, "-lm"] + (["-lomp"] if threads != 1 else [])
                proc = subprocess.run(cmd, capture_output=True, text=True)
                if proc.returncode:
                    raise _native.CompileError("linking %s failed:\n  %s\n%s"
                                               % (path, " ".join(cmd), proc.stderr.rstrip()),
                                               tool="cc", returncode=proc.returncode,
                                               diagnostics=proc.stderr)
        return path, header


class NPUFunction:
    """A bpu integer model on the NPU simulator: f(*inputs) takes the
    model's own inputs (float NCHW; the input quantizer runs on the CPU, as
    the model's first op) and returns what the NPU computed (dequantized
    where the model dequantizes). Each call compiles the model for the NPU
    (qat-lower-to-npu), simulates every batch, and runs the CPU integer
    model on the same inputs: `last_run` holds the comparison (mismatches
    per output, largest difference in codes), the simulator's per-layer
    report and its cycles. Inputs of another batch size are rebatched."""

    def __init__(self, mlir, entry="main", config=""):
        self.mlir, self.entry, self.config = mlir, entry, config or ""
        module = _native.parse(mlir)
        funcs = {f[0]: f for f in module.functions()}
        if entry not in funcs:
            raise _native.CompileError("no function @%s in the module" % entry, tool="npu")
        self.arg_types = [tuple(t[0]) if t else None for t in funcs[entry][1]]
        self._modules = {}
        self.last_run = None

    def _module(self, batch):
        m = self._modules.get(batch)
        if m is None:
            text = self.mlir
            if batch is not None:
                text = passes.rebatch(text, batch, entry=self.entry)
            m = self._modules[batch] = _native.parse(text)
        return m

    def __call__(self, *inputs):
        torch_in = any(_is_torch(x) for x in inputs)
        arrays = []
        for x in inputs:
            if _is_torch(x):
                x = x.detach().cpu().numpy()
            x = np.asarray(x)
            if x.dtype.kind == "f" and x.dtype != np.float32:
                x = x.astype(np.float32)
            arrays.append(np.ascontiguousarray(x))
        batch, split = None, False
        b = self.arg_types[0][0] if self.arg_types and self.arg_types[0] else None
        n = arrays[0].shape[0] if arrays and arrays[0].ndim else None
        if b and n and n != b:
            if n % b == 0:
                split = True
            else:
                batch = n
        nat = _native.native()
        try:
            run = nat.run_npu(self._module(batch), self.entry, arrays, split, self.config)
        except nat.NativeError as e:
            raise _native.compile_error(e, "npu") from None
        self.last_run = run
        outs = run["outputs"]
        if torch_in:
            import torch
            outs = [torch.from_numpy(o) for o in outs]
        return outs[0] if len(outs) == 1 else tuple(outs)


def quantize(model, data, target="x86", transform_fn=None, *, example_input=None,
             num_batches=None, progress=True, name="main"):
    """Quantizes a torch.nn.Module in one call: export (at the batch size of
    the first data item, or of `example_input`), prepare for `target`,
    calibrate on `data`, freeze and convert. Returns a QuantizedModel.

    data: an iterable of items (a DataLoader, a list, a generator); each
    item is the model's input, or a tuple whose first items are its inputs
    (a DataLoader's (x, y): the labels are ignored). transform_fn(item)
    maps an item first, as nncf.Dataset does. Float64 data is cast to
    float32. Items whose batch size differs from the first one's (the last
    batch of a DataLoader) are left out, with a note. num_batches: use at
    most this many items.
    """
    import torch
    nargs = _forward_arity(model)
    items = []
    for i, item in enumerate(data):
        if num_batches is not None and i >= num_batches:
            break
        arrays = [_as_float32_tensor(a) for a in _first_arrays(item, transform_fn)[:nargs]]
        if len(arrays) < nargs:
            raise ValueError("data item #%d has %d tensor(s), the model's forward takes %d"
                             % (i, len(arrays), nargs))
        items.append(arrays)
    if example_input is not None:
        example = [_as_float32_tensor(a) for a in
                   (example_input if isinstance(example_input, (tuple, list)) else
                    [example_input])]
    elif items:
        example = items[0]
    else:
        raise ValueError("quantize: no data")
    batch = example[0].shape[0] if example[0].dim() else None
    kept = [it for it in items if it[0].dim() and it[0].shape[0] == batch]
    if len(kept) != len(items) and progress:
        print("quantize: left out %d data item(s) whose batch size is not %s (the model is "
              "exported at the batch size of the first item)" % (len(items) - len(kept), batch),
              file=sys.stderr, flush=True)
    if not kept:
        raise ValueError("quantize: no data item of batch size %s" % batch)
    # bpu (and the NPU) have no slice: crops become zero kernel taps.
    crops = "taps" if str(target).split(":")[0] == "bpu" else "slice"
    # MLIR bytecode from export to convert: the weights stay raw bytes
    # (text would print and parse them as hex at every step).
    text = _export(model, example, name, crops)
    prepared = passes.prepare(text, target)
    calibrated = passes.calibrate(prepared, name, [tuple(t.numpy() for t in it) for it in kept],
                                  progress=progress)
    frozen = passes.freeze(calibrated)
    int8 = passes.convert(frozen)
    module = _native.parse(int8)
    ins, outs = module.io_quantization(name)
    funcs = {f[0]: f for f in module.functions()}
    metadata = {
        "format": FORMAT,
        "target": module.get_attribute("qat.target") or target,
        "entry": name,
        "batch": batch,
        "input_shapes": [list(t[0]) for t in funcs[name][1] if t],
        "output_shapes": [list(t[0]) for t in funcs[name][2] if t],
        "input_quantization": ins,
        "output_quantization": outs,
        "module_names": _module_names(model),
        "torch_class": "%s.%s" % (type(model).__module__, type(model).__qualname__),
        "calibration_batches": len(kept),
    }
    return QuantizedModel(int8, metadata, frozen=frozen)


def _export(model, example, name, crops):
    from .frontends.pytorch import export
    return export(model, tuple(example) if len(example) > 1 else example[0], name, crops,
                  binary=True)


def save(qmodel, path):
    """QuantizedModel.save: one MLIR file with the metadata."""
    return qmodel.save(path)


def load(path):
    """A QuantizedModel saved by save(): the integer model and its
    metadata."""
    with open(path) as f:
        text = f.read()
    module = _native.parse(text, source_name=os.path.basename(path))
    raw = module.get_attribute(_ATTR)
    if raw is None:
        raise ValueError("%s has no %s attribute: not saved by qat_mlir.save" % (path, _ATTR))
    metadata = json.loads(raw)
    if metadata.get("format") != FORMAT:
        raise ValueError("%s: format %r, this qat_mlir reads %d" % (path, metadata.get("format"),
                                                                   FORMAT))
    return QuantizedModel(text, metadata)
