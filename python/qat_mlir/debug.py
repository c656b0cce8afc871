"""Per-layer numeric debugging, as torch.ao.ns does for PyTorch: where in a
quantized model do the float, fake-quant, int8 and NPU values part?

    report = compare_layers(model, qm, x)   # qm = quantize(model, data, target)
    print(report.table())
    report.plot("layers.png")

Each row is one activation quantizer of the model, named after the value it
quantizes and the PyTorch module that computes it ("layer1.0.relu:output",
"conv1:input"; the exporter writes the module names into the MLIR locations
and qat-insert-fake-quant names the quantizers from them). For each, one
call of each model on the same inputs gives:

- float: the float model's value of that module (the exported model, with
  batch norm unfolded; for an ":input" quantizer the model's input);
- fake-quant: the quantizer's output in the frozen fake-quant model;
- int8: the same value in the integer model (its codes, dequantized by the
  converter);
- NPU (bpu models): the same value computed by the NPU simulator.

The values are made extra results of each function (the C API's
qatFunctionExposeNamedValues), so that the integer model is converted and
compiled with them; the report checks that the models' own outputs stay
those of the model without them.

Metrics: SQNR in dB against float, 10 log10(sum f^2 / sum (x - f)^2); errors
in LSB, |x - y| / scale of the quantizer (its per-tensor scale).
"""
import math
import os

import numpy as np

from . import _native, passes, runtime


def _expose(text, entry, kind):
    module = _native.parse(text)
    nresults = len({f[0]: f for f in module.functions()}[entry][2])
    items = module.expose_named_values(entry, kind)
    return module.to_text(debug_info=True), items, nresults


def _run(text, entry, x, nresults):
    f = runtime.compile(text, entry=entry, progress=False)
    out = f(x)
    out = out if isinstance(out, tuple) else (out,)
    return list(out[:nresults]), list(out[nresults:])


def sqnr(ref, x):
    """10 log10(sum ref^2 / sum (x - ref)^2) in dB (inf when equal)."""
    ref = np.asarray(ref, np.float64)
    err = np.sum((np.asarray(x, np.float64) - ref) ** 2)
    if err == 0:
        return math.inf
    return 10.0 * math.log10(max(np.sum(ref ** 2), 1e-300) / err)


def _unit_dims_apart(a, b):
    """Whether shapes `a` and `b` differ only by dimensions of size 1 (a
    reshape between them keeps the element order)."""
    return tuple(d for d in a if d != 1) == tuple(d for d in b if d != 1)


def _nhwc_like(x, shape):
    """The model input in the layout of a value of `shape` (the exporter
    keeps 4-D activations NHWC)."""
    if x.shape == tuple(shape):
        return x
    if x.ndim == 4 and x.transpose(0, 2, 3, 1).shape == tuple(shape):
        return x.transpose(0, 2, 3, 1)
    return None


class LayerReport:
    """The per-layer comparison: `rows` (one dict per quantizer, in program
    order), `outputs_equal` (the int8 model's outputs with the extra
    results equal those of the model itself), `npu_error` (why the NPU
    column is missing, if it is)."""

    COLUMNS = [
        ("name", "%-34s", "quantizer (module:value)"),
        ("sqnr_fake_quant", "%9s", "fq dB"),
        ("sqnr_int8", "%9s", "int8 dB"),
        ("sqnr_npu", "%9s", "NPU dB"),
        ("int8_vs_float_max_lsb", "%9s", "i8-f max"),
        ("int8_vs_float_mean_lsb", "%9s", "i8-f mean"),
        ("int8_vs_fake_quant_max_lsb", "%9s", "i8-fq max"),
        ("npu_vs_int8_max_lsb", "%9s", "npu-i8 max"),
    ]

    def __init__(self, rows, target, outputs_equal, npu_error=None):
        self.rows, self.target = rows, target
        self.outputs_equal, self.npu_error = outputs_equal, npu_error

    def __getitem__(self, name):
        for r in self.rows:
            if r["name"] == name:
                return r
        raise KeyError(name)

    def table(self):
        """The rows as a text table (SQNR in dB against float; errors in
        LSB of each quantizer)."""
        def cell(v):
            if v is None:
                return "-"
            if isinstance(v, float):
                return "inf" if math.isinf(v) else "%.2f" % v
            return str(v)
        # The name column as wide as the longest name, the others as their
        # title, so that the columns align.
        width = max([34] + [len(r["name"]) for r in self.rows])
        formats = [("%%-%ds" % width) if key == "name" else
                   fmt.replace(fmt[1:-1], str(max(int(fmt[1:-1]), len(title))))
                   for key, fmt, title in self.COLUMNS]
        lines = [" ".join(fmt % title for fmt, (_, _, title) in zip(formats, self.COLUMNS))]
        for r in self.rows:
            lines.append(" ".join(fmt % cell(r.get(key))
                                  for fmt, (key, _, _) in zip(formats, self.COLUMNS)))
        lines.append("SQNR against the float model (dB); errors in LSB of each quantizer "
                     "(i8-f: int8 - float, i8-fq: int8 - fake-quant, npu-i8: NPU - int8); "
                     "target %s; int8 outputs with the extra results %s the model's."
                     % (self.target, "equal" if self.outputs_equal else "DIFFER from"))
        if self.npu_error:
            lines.append("NPU: %s" % self.npu_error)
        return "\n".join(lines)

    def plot(self, path, title=None):
        """A PNG of the report: SQNR per layer (fake-quant, int8, NPU against
        float) and the largest int8 errors in LSB, by quantizer name."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        names = [r["name"] for r in self.rows]
        x = np.arange(len(names))

        def series(key, cap=None):
            v = [r.get(key) for r in self.rows]
            v = [np.nan if a is None else a for a in v]
            v = np.array(v, np.float64)
            if cap is not None:
                v = np.where(np.isinf(v), cap, v)
            return v
        finite = [v for r in self.rows for k in ("sqnr_fake_quant", "sqnr_int8", "sqnr_npu")
                  for v in [r.get(k)] if v is not None and not math.isinf(v)]
        cap = (max(finite) + 10) if finite else 100.0
        width = max(8.0, 0.22 * len(names) + 2)
        fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(width, 8), sharex=True)
        for key, label, style in (("sqnr_fake_quant", "fake-quant vs float", "o-"),
                                  ("sqnr_int8", "int8 vs float", "s--"),
                                  ("sqnr_npu", "NPU vs float", "^:")):
            v = series(key, cap)
            if not np.all(np.isnan(v)):
                ax1.plot(x, v, style, label=label, markersize=3)
        ax1.set_ylabel("SQNR (dB)")
        ax1.legend(loc="best", fontsize=8)
        ax1.grid(True, alpha=0.3)
        for key, label, style in (("int8_vs_float_max_lsb", "max |int8 - float|", "o-"),
                                  ("int8_vs_float_mean_lsb", "mean |int8 - float|", "s--"),
                                  ("int8_vs_fake_quant_max_lsb", "max |int8 - fake-quant|", "^:"),
                                  ("npu_vs_int8_max_lsb", "max |NPU - int8|", "x-")):
            v = series(key)
            if not np.all(np.isnan(v)):
                ax2.plot(x, v, style, label=label, markersize=3)
        ax2.set_ylabel("error (LSB of the quantizer)")
        ax2.set_yscale("symlog", linthresh=1)
        ax2.legend(loc="best", fontsize=8)
        ax2.grid(True, alpha=0.3)
        ax2.set_xticks(x)
        ax2.set_xticklabels(names, rotation=90, fontsize=7)
        fig.suptitle(title or "per-layer comparison (target %s)" % self.target)
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return path


def compare_layers(model, qmodel, inputs, npu=None):
    """The per-layer comparison (LayerReport) of a float torch.nn.Module and
    the QuantizedModel `quantize` made of it (in this process: it needs the
    frozen fake-quant model, `qmodel.frozen`), on `inputs` (one batch, the
    model's input; a tensor or an array). npu: also run the NPU simulator
    (default: for bpu models)."""
    import torch
    from . import workflow
    if qmodel.frozen is None:
        raise ValueError("compare_layers needs the frozen fake-quant model: a QuantizedModel "
                         "made by quantize() in this process (load() keeps only the int8 model)")
    entry = qmodel.entry
    x = inputs.detach().cpu().numpy() if isinstance(inputs, torch.Tensor) else np.asarray(inputs)
    x = np.ascontiguousarray(x, dtype=np.float32)
    if npu is None:
        npu = str(qmodel.target).split(":")[0] == "bpu"
    crops = "taps" if str(qmodel.target).split(":")[0] == "bpu" else "slice"
    from .frontends.pytorch import export
    float_text = export(model, torch.from_numpy(x), entry, crops)

    ftext, fitems, fn = _expose(float_text, entry, "modules")
    _, fvals = _run(ftext, entry, x, fn)
    floats = {it["name"]: v for it, v in zip(fitems, fvals)}

    qtext, qitems, qn = _expose(qmodel.frozen, entry, "quantizers")
    _, fqvals = _run(qtext, entry, x, qn)
    int8_text = passes.convert(qtext)
    outs8, int8vals = _run(int8_text, entry, x, qn)
    own = qmodel(x)
    own = own if isinstance(own, tuple) else (own,)
    outputs_equal = all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(outs8, own))

    npuvals, npu_error = None, None
    if npu:
        try:
            f = workflow.NPUFunction(int8_text, entry)
            out = f(x)
            out = list(out) if isinstance(out, tuple) else [out]
            npuvals = out[qn:]
        except Exception as e:  # the NPU compiler refuses some graphs
            npu_error = str(e).splitlines()[0]

    # A module that the exporter writes as several ops (Hardsigmoid: add,
    # clamp, mul) has a quantizer per op: "M:output", "M:output#2", ...; only
    # the last one holds the module's output, the float reference.
    last_output = {}
    for i, it in enumerate(qitems):
        module, _, role = it["name"].partition(":")
        if role.startswith("output"):
            last_output[module] = i
    rows = []
    for i, it in enumerate(qitems):
        name, scale = it["name"], it["scale"]
        module, _, role = name.partition(":")
        fq, i8 = fqvals[i], int8vals[i]
        if role.startswith("input"):
            ref = _nhwc_like(x, fq.shape)
        else:
            ref = floats.get(module) if last_output.get(module) == i else None
            # A linear layer's quantizer may sit on the 3-D matmul value
            # (1 x rows x out) where the module returns rows x out.
            if ref is not None and ref.shape != fq.shape:
                ref = ref.reshape(fq.shape) if _unit_dims_apart(ref.shape, fq.shape) else None
        row = {"name": name, "module": module, "shape": list(fq.shape), "scale": scale,
               "zero_point": it["zero_point"]}
        nv = npuvals[i] if npuvals is not None else None
        if ref is not None:
            row["sqnr_fake_quant"] = sqnr(ref, fq)
            row["sqnr_int8"] = sqnr(ref, i8)
            if nv is not None:
                row["sqnr_npu"] = sqnr(ref, nv)
        if scale:
            if ref is not None:
                d = np.abs(i8.astype(np.float64) - ref) / scale
                row["int8_vs_float_max_lsb"] = float(d.max())
                row["int8_vs_float_mean_lsb"] = float(d.mean())
            d = np.abs(i8.astype(np.float64) - fq) / scale
            row["int8_vs_fake_quant_max_lsb"] = float(d.max())
            row["int8_vs_fake_quant_mean_lsb"] = float(d.mean())
            if nv is not None:
                d = np.abs(nv.astype(np.float64) - i8) / scale
                row["npu_vs_int8_max_lsb"] = float(d.max())
                row["npu_vs_int8_mismatches"] = int(np.count_nonzero(nv != i8))
        rows.append(row)
    return LayerReport(rows, qmodel.target, outputs_equal, npu_error)
