"""qat_mlir.import_qat: a model prepared for quantization-aware training by
PyTorch (torch.ao.quantization: eager prepare_qat with fused modules and
QuantStub/DeQuantStub, or FX prepare_qat_fx) to a frozen fake-quant TOSA
module: the exporter's float graph with a constant qat.fake_quant wherever
PyTorch's converted int8 model quantizes.

The model is the one `torch.ao.quantization.convert` would produce
(docs/Python.md, "Importing PyTorch QAT models"):

- every quantizer's parameters are `calculate_qparams()` of its observer,
  as convert reads them;
- batch norm is folded with `torch.nn.utils.fusion.fuse_conv_bn_weights`
  and the running statistics, and the weight quantizer (a copy) observes
  the folded weight once more before its parameters are read, as convert's
  `from_float` does;
- ops that PyTorch runs on quantized tensors without quantizers of their own
  (max pool, flatten/view/reshape, ReLU, ReLU6, Hardtanh, average pools,
  dropout, identity) keep their input's scale and zero point; a quantizer
  right after one of them (FX inserts some) is dropped, as convert drops
  it.

Nothing of the model is modified: it is copied before tracing.
"""
import copy

import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F
import torch.nn.intrinsic.qat as nniqat
import torch.nn.qat as nnqat
from torch.ao.quantization.fake_quantize import FakeQuantizeBase
from torch.ao.quantization.observer import ObserverBase
from torch.ao.quantization.stubs import DeQuantStub, QuantStub
from torch.nn.utils.fusion import fuse_conv_bn_weights

from . import fx as _ex
from ..writer import QParams, Unsupported
from ..errors import ExportError

_CONV_BN = (nniqat.ConvBn2d, nniqat.ConvBnReLU2d)
_CONV = _CONV_BN + (nniqat.ConvReLU2d, nnqat.Conv2d)
_LINEAR = (nniqat.LinearReLU, nnqat.Linear)
_RELU_FUSED = (nniqat.ConvBnReLU2d, nniqat.ConvReLU2d, nniqat.LinearReLU)

# Ops that PyTorch's converted model runs on quantized tensors, keeping the
# input's scale and zero point (in eager mode every op without a quantizer of
# its own; in FX mode the OUTPUT_SHARE_OBSERVER_WITH_INPUT ops of the native
# backend config, see _fx_shared). Value-exact on a grid: the output is the
# input's codes rearranged.
_EXACT_MODULES = (nn.MaxPool2d, nn.Flatten, nn.Identity) + _ex.DROPOUT
_EXACT_FUNCTIONS = {F.max_pool2d, torch.flatten, torch.reshape, F.dropout, F.dropout2d,
                    torch.transpose, torch.permute, torch.chunk, torch.split}
_EXACT_METHODS = {"view", "reshape", "flatten", "contiguous", "transpose", "permute", "chunk",
                  "split"}
# Rounded back to the input's grid: average pools (PyTorch's quantized
# avg_pool2d requantizes to the input's parameters) and clamps (a bound that
# is not a grid point becomes the nearest code, as quantized relu6 does).
_CLAMP_MODULES = (nn.ReLU, nn.ReLU6, nn.Hardtanh)
_CLAMP_FUNCTIONS = {F.relu, torch.relu, F.relu6, F.hardtanh, torch.clamp, torch.clip}
_CLAMP_METHODS = {"relu", "relu_", "clamp"}
_REQUANT_MODULES = (nn.AvgPool2d, nn.AdaptiveAvgPool2d) + _CLAMP_MODULES
_REQUANT_FUNCTIONS = {F.avg_pool2d, F.adaptive_avg_pool2d, torch.mean} | _CLAMP_FUNCTIONS
_REQUANT_METHODS = {"mean"} | _CLAMP_METHODS


def _fx_shared():
    """The ops whose output FX's convert keeps on the input's parameters
    (prepare_qat_fx's default, native backend config). torch.relu is not
    among them: FX dequantizes, applies it in float and quantizes again."""
    from torch.ao.quantization.backend_config import ObservationType, get_native_backend_config
    return {p for p, c in get_native_backend_config().configs.items()
            if c.observation_type == ObservationType.OUTPUT_SHARE_OBSERVER_WITH_INPUT}


# Targets that PyTorch's qconfigs map to (docs/Targets.md).
_ACT_RANGES = {(0, 255): "", (0, 127): ":reduce-range"}
_WEIGHT_RANGES = {(-128, 127): "", (-127, 127): ":narrow-range"}


def _leaf(m):
    return isinstance(m, (FakeQuantizeBase, ObserverBase, QuantStub, DeQuantStub) + _CONV
                      + _LINEAR)


class _QATTracer(_ex.Tracer):
    """The exporter's tracer with PyTorch's quantization modules as leaves,
    and eager mode's observer hooks (prepare_qat registers
    `_observer_forward_hook`, which calls `activation_post_process` on the
    output) turned into calls of that quantizer."""

    def is_leaf_module(self, m, qualname):
        if _leaf(m):
            return True
        return super().is_leaf_module(m, qualname)

    def call_module(self, m, forward, args, kwargs):
        from torch.ao.quantization.quantize import _observer_forward_hook
        if m._forward_pre_hooks:
            raise _HookError(self.path_of_module(m), "forward pre-hooks")
        hooks = list(m._forward_hooks.values())
        if any(h is not _observer_forward_hook for h in hooks):
            raise _HookError(self.path_of_module(m), "forward hooks other than "
                             "prepare_qat's observer hook")
        out = super().call_module(m, forward, args, kwargs)
        if hooks:
            out = self.call_module(m.activation_post_process,
                                   m.activation_post_process.forward, (out,), {})
        return out


class _HookError(Exception):
    def __init__(self, path, what):
        super().__init__(path, what)
        self.path, self.what = path, what


def qparams_of(fq, name):
    """QParams of a PyTorch quantizer as convert reads them
    (calculate_qparams of its observer)."""
    if isinstance(fq, ObserverBase):
        raise Unsupported("'%s' is an observer (%s): import_qat takes models prepared with "
                          "prepare_qat / prepare_qat_fx, whose quantizers are fake-quantize "
                          "modules" % (name, type(fq).__name__))
    obs = getattr(fq, "activation_post_process", None)
    qscheme = getattr(fq, "qscheme", None)
    dtype = getattr(fq, "dtype", None)
    if dtype not in (torch.quint8, torch.qint8):
        raise Unsupported("quantizer '%s' has dtype %s (only torch.quint8 and torch.qint8)"
                          % (name, dtype))
    if qscheme not in (torch.per_tensor_affine, torch.per_tensor_symmetric,
                       torch.per_channel_affine, torch.per_channel_symmetric):
        raise Unsupported("quantizer '%s' has qscheme %s" % (name, qscheme))
    if obs is not None:
        lo, hi = getattr(obs, "min_val", None), getattr(obs, "max_val", None)
        if lo is not None and (lo.numel() == 0 or not torch.all(torch.isfinite(lo))
                               or not torch.all(torch.isfinite(hi))):
            raise Unsupported("quantizer '%s' has not observed any data (min_val=%s): run the "
                              "model on data in training mode first" % (name, lo.tolist()))
        qmin, qmax = obs.quant_min, obs.quant_max
    else:
        qmin, qmax = fq.quant_min, fq.quant_max
    with torch.no_grad():
        scale, zp = fq.calculate_qparams()
    per_channel = qscheme in (torch.per_channel_affine, torch.per_channel_symmetric)
    try:
        return QParams(scale.detach().to(torch.float32).numpy(),
                       zp.detach().to(torch.int64).numpy(), qmin, qmax,
                       fq.ch_axis if per_channel else None)
    except Unsupported as e:
        raise Unsupported("quantizer '%s': %s" % (name, e)) from None


class _Grid:
    """The quantization grid a value is on: its QParams, and whether it got
    there through an op that keeps its input's parameters (a quantizer right
    after such an op is dropped, as convert drops it)."""
    __slots__ = ("qp", "shared")

    def __init__(self, qp, shared):
        self.qp, self.shared = qp, shared


class _QATExporter(_ex.Exporter):
    def __init__(self, gm, root, ref, name, fx_shared=None):
        super().__init__(gm, root, name)
        self.ref = ref  # an untouched copy: parameters are read from it
        self.fx_shared = fx_shared  # FX models: the ops convert_fx shares parameters over
        self.grid = {}
        self.quantizers = []  # (qualified name, role, QParams)
        self.emitted = {}  # quantizer node -> (its input Value, its fake_quant Value)
        self.w.slice_hook = self.requantize_slice

    def requantize_slice(self, x, y):
        g = self.grid.get(x.name)
        if g is None:
            return y
        out = self.w.fake_quant(y, g.qp)  # the same values: y is on x's grid
        self.grid[out.name] = _Grid(g.qp, True)
        return out

    def ref_module(self, target):
        return self.ref.get_submodule(target)

    def first_tensor(self, node):
        for a in list(node.args) + list(node.kwargs.values()):
            if isinstance(a, fx.Node) and isinstance(self.env.get(a), _ex.Value):
                return self.env[a]
        return None

    def emit_fq(self, x, qp, name, role):
        y = self.w.fake_quant(x, qp)
        self.quantizers.append((name, role, qp))
        return y

    def weight_qparams(self, mod, weight, name):
        """convert's weight parameters: the weight quantizer (a copy) sees
        the (folded) weight once more, then calculate_qparams."""
        wfq = copy.deepcopy(mod.weight_fake_quant)
        with torch.no_grad():
            wfq(weight)
        qp = qparams_of(wfq, name + ".weight_fake_quant")
        if qp.zero_point.any():
            raise Unsupported("weight quantizer '%s.weight_fake_quant' has non-zero zero points "
                              "(the integer kernels take symmetric weights)" % name)
        self.quantizers.append((name + ".weight_fake_quant", "weight", qp))
        return qp

    def visit(self, node, inputs, args):
        if _ex.is_float_only(node, self.gm):
            raise Unsupported("not supported by import_qat (exported in float only: PyTorch's "
                              "quantized form of it is not checked here)")
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            if isinstance(mod, (FakeQuantizeBase, ObserverBase)):
                self.env[node] = self.quantizer(node, mod)
                return
            if isinstance(mod, (QuantStub, DeQuantStub)):
                x = self.tensor(node.args[0])
                self.env[node] = x
                if isinstance(mod, DeQuantStub):
                    self.grid.pop(x.name, None)
                return
            if isinstance(mod, _CONV):
                self.env[node] = self.qat_conv(node, mod)
                return
            if isinstance(mod, _LINEAR):
                self.env[node] = self.qat_linear(node, mod)
                return
        if node.op == "call_function" and node.target in (torch.cat, torch.concat):
            self.env[node] = self.qat_cat(node)
            return
        kind = self.sharing(node)
        x = self.first_tensor(node)
        g = self.grid.get(x.name) if kind and x is not None else None
        if g is None:
            super().visit(node, inputs, args)
            return
        src = node.args[0] if node.args else None
        rec = self.emitted.get(src)
        if kind == "clamp" and rec is not None and len(src.users) == 1:
            # quantizer -> clamp (an unfused ReLU after a quantized conv) is
            # written clamp -> quantizer: the same function (fake
            # quantization is monotone and keeps 0 and the bounds' codes:
            # fq(clamp(y, lo, hi)) = clamp(fq(y), fq(lo), fq(hi))), and the
            # clamp fuses into the kernel before it (docs/Targets.md).
            pre, post = rec
            self.w.erase(post)
            del self.emitted[src]
            self.env[src] = pre
        hooked = []
        if kind == "requant":
            def hook(y):  # the mean's pool: quantized before the reshape
                hooked.append(self.w.fake_quant(y, g.qp))
                return hooked[-1]
            self.pool_hook = hook
        try:
            super().visit(node, inputs, args)
        finally:
            self.pool_hook = None
        out = self.env[node]
        if hooked:
            self.grid[hooked[0].name] = _Grid(g.qp, True)
            self.grid[out.name] = _Grid(g.qp, True)
            return
        if isinstance(out, (tuple, list)):  # chunk, split: slices, each requantized
            for v in out:  # onto the input's grid by requantize_slice
                if isinstance(v, _ex.Value):
                    self.grid.setdefault(v.name, _Grid(g.qp, True))
            return
        if kind != "exact":
            out = self.w.fake_quant(out, g.qp)
            self.env[node] = out
        self.grid[out.name] = _Grid(g.qp, True)

    def sharing(self, node):
        """'exact', 'clamp' or 'requant' for an op that keeps its quantized
        input's parameters in PyTorch's converted model, else None."""
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            if self.fx_shared is not None and type(mod) not in self.fx_shared:
                return None
            return ("exact" if isinstance(mod, _EXACT_MODULES) else
                    "clamp" if isinstance(mod, _CLAMP_MODULES) else
                    "requant" if isinstance(mod, _REQUANT_MODULES) else None)
        if node.op not in ("call_function", "call_method"):
            return None
        if self.fx_shared is not None and node.target not in self.fx_shared:
            return None
        f = node.op == "call_function"
        t = node.target
        return ("exact" if t in (_EXACT_FUNCTIONS if f else _EXACT_METHODS) else
                "clamp" if t in (_CLAMP_FUNCTIONS if f else _CLAMP_METHODS) else
                "requant" if t in (_REQUANT_FUNCTIONS if f else _REQUANT_METHODS) else None)

    def qat_cat(self, node):
        """torch.cat (FloatFunctional.cat) followed by its quantizer:
        PyTorch's quantized cat requantizes every operand onto the output's
        scale and zero point (dequantize, quantize) before concatenating,
        so each operand not on that grid gets a quantizer with the output's
        parameters, and the concatenation shares one scale."""
        tensors = node.args[0]
        dim = node.args[1] if len(node.args) > 1 else node.kwargs.get("dim", 0)
        xs = [self.tensor(t) for t in tensors]
        users = list(node.users)
        qp = name = None
        if len(users) == 1 and users[0].op == "call_module" and isinstance(
                self.gm.get_submodule(users[0].target), FakeQuantizeBase):
            name = users[0].target
            qp = qparams_of(self.ref_module(name), name)
        if qp is None or qp.per_channel:
            return self.w.cat(xs, dim)
        for i, x in enumerate(xs):
            g = self.grid.get(x.name)
            if g is None or not g.qp.same(qp):
                xs[i] = self.emit_fq(x, qp, name, "activation")
                self.grid[xs[i].name] = _Grid(qp, False)
        out = self.w.cat(xs, dim)
        self.grid[out.name] = _Grid(qp, False)
        return out

    def quantizer(self, node, mod):
        x = self.tensor(node.args[0])
        name = node.target
        qp = qparams_of(self.ref_module(node.target), name)
        owner = name.rsplit(".", 1)[0] if "." in name else None
        if self.fx_shared is None and owner is not None and isinstance(
                self.ref_module(owner), nn.Hardsigmoid) and qp.qmin == 0 and qp.qmax == 255:
            # Eager convert keeps nn.Hardsigmoid (no quantized module), and
            # PyTorch's quantized hardsigmoid writes its output with fixed
            # parameters, scale 1/256 and zero point 0, whatever the
            # observer saw.
            qp = QParams(1.0 / 256, 0, 0, 255)
        g = self.grid.get(x.name)
        if g is not None and (g.shared or g.qp.same(qp)):
            return x  # convert keeps the input's parameters here
        if qp.per_channel:
            raise Unsupported("per-channel activation quantizer '%s' (axis %d)"
                              % (name, qp.axis))
        y = self.emit_fq(x, qp, name, "activation")
        self.grid[y.name] = _Grid(qp, False)
        self.emitted[node] = (x, y)
        return y

    def qat_conv(self, node, mod):
        ref = self.ref_module(node.target)
        if ref.padding_mode != "zeros":
            raise Unsupported("padding_mode=%r (only 'zeros')" % ref.padding_mode)
        with torch.no_grad():
            weight, bias = ref.weight.detach(), ref.bias
            if isinstance(ref, _CONV_BN):
                bn = ref.bn
                weight, bias = fuse_conv_bn_weights(weight, bias, bn.running_mean,
                                                    bn.running_var, bn.eps, bn.weight, bn.bias)
            weight = weight.detach().float()
            wq = self.weight_qparams(ref, weight, node.target)
            y = self.conv(node, self.value(node.args[0]), _ex.to_numpy(weight),
                          None if bias is None else _ex.to_numpy(bias.detach()), ref.stride,
                          ref.padding, ref.dilation, ref.groups, wq)
        if isinstance(ref, _RELU_FUSED):
            y = self.w.clamp(y, 0.0, None)
        return y

    def qat_linear(self, node, mod):
        ref = self.ref_module(node.target)
        with torch.no_grad():
            weight = ref.weight.detach().float()
            wq = self.weight_qparams(ref, weight, node.target)
            y = self.w.linear(self.tensor(node.args[0]), _ex.to_numpy(weight),
                              None if ref.bias is None else _ex.to_numpy(ref.bias), wq)
        if isinstance(ref, _RELU_FUSED):
            y = self.w.clamp(y, 0.0, None)
        return y

    def target(self):
        """The built-in target matching every quantizer, or Unsupported."""
        acts = [(n, q) for n, r, q in self.quantizers if r == "activation"]
        weights = [(n, q) for n, r, q in self.quantizers if r == "weight"]
        if not acts and not weights:
            raise Unsupported("the model has no quantizers (is it prepared with prepare_qat?)")
        suffix = []
        mods = set()
        for n, q in acts:
            m = _ACT_RANGES.get((q.qmin, q.qmax))
            if m is None:
                raise Unsupported(
                    "activation quantizer '%s' has range [%d, %d]: no built-in target takes it "
                    "(x86: quint8 [0, 255] as PyTorch's onednn and qnnpack configs, or "
                    "[0, 127] with reduce_range as fbgemm's); pass target= to name a target "
                    "description of your own" % (n, q.qmin, q.qmax))
            mods.add(m)
        if len(mods) > 1:
            raise Unsupported("activation quantizers with ranges [0, 255] and [0, 127] in one "
                              "model: a target has one activation range")
        suffix += sorted(m for m in mods if m)
        mods, grans = set(), set()
        for n, q in weights:
            m = _WEIGHT_RANGES.get((q.qmin, q.qmax))
            if m is None:
                raise Unsupported(
                    "weight quantizer '%s' has range [%d, %d]: no built-in target takes it "
                    "(x86: qint8 [-128, 127], or [-127, 127] with :narrow-range); pass target= "
                    "to name a target description of your own" % (n, q.qmin, q.qmax))
            mods.add(m)
            grans.add(q.per_channel)
        if len(mods) > 1:
            raise Unsupported("weight quantizers with different ranges in one model: a target "
                              "has one weight range")
        suffix += sorted(m for m in mods if m)
        if grans == {False}:
            suffix.append(":per-tensor")
        return "x86" + "".join(suffix)


def _module_text(func_text, target):
    body = "\n".join("  " + line if line else line for line in func_text.splitlines())
    return 'module attributes {qat.target = "%s"} {\n%s\n}\n' % (target, body)


_ENGINES = ("auto", "onednn", "qnnpack", None)


def import_qat(model, example_input, name="main", target=None, engine="auto"):
    """MLIR text of a frozen fake-quant module (`module attributes
    {qat.target = ...}` around one `func.func @name`) for a model prepared
    with torch.ao.quantization's prepare_qat or prepare_qat_fx (and
    trained): the model PyTorch's convert would produce, as constant
    qat.fake_quant ops on the exporter's TOSA graph. Convert it with
    qat_mlir.convert and run it with qat_mlir.compile.

    target: None picks the built-in target matching the quantizers (x86,
    x86:reduce-range for fbgemm's reduce_range, x86:per-tensor for qnnpack's
    per-tensor weights) and raises ExportError if none does; a target name
    or JSON file is recorded as given.

    engine: the PyTorch quantized engine whose int8 arithmetic the converted
    model reproduces bit for bit. "onednn" appends ":pytorch-onednn" to the
    target (PyTorch 1.13's onednn kernels: the float bias added after the
    accumulation, the zero point in f32 before rounding, adds dequantized
    with an FMA); "qnnpack" appends ":pytorch-qnnpack" (its kernels'
    constants, adds in fixed point rounded half away from zero, its
    hardswish/hardsigmoid tables); "auto" (default) picks onednn for the
    models of the onednn qconfig (target x86: u8 activations, per-channel
    weights) and qnnpack for those of the qnnpack qconfig (x86:per-tensor);
    None keeps qat-mlir's own x86 arithmetic.
    """
    import re
    if engine not in _ENGINES:
        raise ExportError("engine=%r: expected 'auto', 'onednn', 'qnnpack' or None"
                          % (engine,))
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w$.]*", name):
        raise ExportError("name=%r is not a valid MLIR symbol name" % (name,))
    if not isinstance(model, nn.Module):
        raise ExportError("import_qat takes a torch.nn.Module, got %s" % type(model).__name__)
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
            raise ExportError("example input #%d must be a float32 torch.Tensor, got %s"
                              % (i, getattr(x, "dtype", type(x).__name__)))
    ref = copy.deepcopy(model)
    run = copy.deepcopy(model)
    run.eval()
    # Running the copy must not move observers or batch-norm statistics.
    for m in run.modules():
        if isinstance(m, FakeQuantizeBase):
            m.disable_observer()
    tracer = _QATTracer()
    with torch.no_grad():
        try:
            graph = tracer.trace(run)
        except _HookError as e:
            mod = run.get_submodule(e.path) if e.path else run
            raise ExportError("cannot import module '%s' (%s): it has %s"
                              % (e.path or "<root>", _ex.class_name(mod), e.what)) from None
        except Exception as e:
            scope = tracer.scope[-1]
            raise ExportError("cannot trace the model with torch.fx (in module '%s'): %s"
                              % (scope or "<root>", _ex.first_line(e))) from None
        gm = fx.GraphModule(tracer.root, graph, type(run).__name__)
        try:
            _ex.Recorder(gm).run(*inputs)
        except Exception as e:
            # Unobserved quantizers make PyTorch's fake quantization fail:
            # name the first one rather than its error.
            for n, m in ref.named_modules():
                if isinstance(m, FakeQuantizeBase):
                    try:
                        qparams_of(m, n)
                    except Unsupported as u:
                        raise ExportError("cannot import the model: %s" % u) from None
            raise ExportError("running the model on the example input failed: %s"
                              % _ex.first_line(e)) from None
        exp = _QATExporter(gm, run, ref, name,
                           _fx_shared() if isinstance(model, fx.GraphModule) else None)
        text = exp.run(inputs)
        if target is None:
            try:
                target = exp.target()
            except Unsupported as e:
                raise ExportError("cannot import the model: %s" % e) from None
            if engine == "auto" and target == "x86":
                engine = "onednn"
            elif engine == "auto" and target == "x86:per-tensor":
                engine = "qnnpack"
    if engine in ("onednn", "qnnpack"):
        target += ":pytorch-" + engine
    return _module_text(text, target)
