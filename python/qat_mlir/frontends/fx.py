"""The torch.fx exporter: tracing (module by module, so errors name the
module), the shape recorder, the Exporter base class that lowers a traced
graph to TOSA text through writer.Writer, and the handlers of the supported
modules, functions and methods. pytorch.export drives it; aten.py (make_fx
fallback) and qat.py (import_qat) subclass Exporter and reuse the handlers.
See docs/Python.md for the layout and the list of supported modules.
"""
import dis
import inspect
import math
import operator
import re

import numpy as np
import torch
import torch.fx as fx
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ExportError
from ..writer import Unsupported, Value, Writer
from . import layers as L

DROPOUT = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d, nn.AlphaDropout,
            nn.FeatureAlphaDropout)


def _pair(v):
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def to_numpy(t):
    return None if t is None else t.detach().cpu().to(torch.float32).numpy()


def op_name(target):
    """A readable, qualified name of an fx target."""
    if isinstance(target, str):
        return "Tensor." + target
    name = getattr(target, "__name__", None)
    for mod, prefix in ((torch, "torch."), (F, "torch.nn.functional."), (operator, "operator."),
                        (torch.Tensor, "Tensor.")):
        if name and getattr(mod, name, None) is target:
            return prefix + name
    if isinstance(target, torch._ops.OpOverload):
        return "aten." + str(target).split(".", 1)[-1] if str(target).startswith("aten") \
            else str(target)
    mod = getattr(target, "__module__", None)
    return "%s.%s" % (mod, name) if mod and name else repr(target)


def class_name(m):
    cls = type(m)
    if getattr(nn, cls.__name__, None) is cls:
        return "nn." + cls.__name__
    return cls.__qualname__


# ---------------------------------------------------------------------------
# Tracing


class Tracer(fx.Tracer):
    """symbolic_trace's tracer, recording in each node the qualified name of
    the module whose forward created it (for error messages)."""

    def __init__(self):
        super().__init__()
        self.scope = [""]

    def call_module(self, m, forward, args, kwargs):
        self.scope.append(self.path_of_module(m))
        try:
            return super().call_module(m, forward, args, kwargs)
        finally:
            self.scope.pop()

    def create_node(self, *args, **kwargs):
        node = super().create_node(*args, **kwargs)
        node.meta["qat_scope"] = self.scope[-1]
        return node

    def trace(self, root, concrete_args=None):
        """fx's trace, with `n, c, h, w = x.shape` (ViT, ShuffleNet's
        channel shuffle) unpacked item by item: torch 1.13's
        Proxy.__iter__ finds the caller's instruction at index f_lasti // 2,
        which is wrong on Python 3.11 (instructions with inline caches are
        longer than 2 bytes), so it is replaced while tracing by one that
        finds it at offset f_lasti."""
        saved = fx.Proxy.__iter__
        fx.Proxy.__iter__ = _proxy_iter
        try:
            return super().trace(root, concrete_args)
        finally:
            fx.Proxy.__iter__ = saved


def _proxy_iter(self):
    frame = inspect.currentframe().f_back
    try:
        inst = next((i for i in dis.get_instructions(frame.f_code) if i.offset == frame.f_lasti),
                    None)
    finally:
        del frame
    if inst is not None and inst.opname == "UNPACK_SEQUENCE":
        return (self[i] for i in range(inst.argval))
    return self.tracer.iter(self)


def summary(r):
    """What the exporter keeps of a node's result on the example input."""
    if isinstance(r, torch.Tensor):
        return TensorInfo(tuple(r.shape), r.dtype)
    if isinstance(r, (tuple, list)):
        return type(r)(summary(x) for x in r) if not isinstance(r, torch.Size) else tuple(r)
    return r


class TensorInfo:
    __slots__ = ("shape", "dtype")

    def __init__(self, shape, dtype):
        self.shape, self.dtype = shape, dtype


def has_tensor(r):
    if isinstance(r, TensorInfo):
        return True
    if isinstance(r, (tuple, list)):
        return any(has_tensor(x) for x in r)
    return False


class Recorder(fx.Interpreter):
    """Runs the traced graph on the example input, keeping each node's result
    shape (or Python value: sizes are static)."""

    def run_node(self, n):
        r = super().run_node(n)
        n.meta["qat_result"] = summary(r)
        return r


# ---------------------------------------------------------------------------
# The exporter


def mlir_string(s):
    return '"%s"' % s.replace("\\", "\\\\").replace('"', '\\"')


_SOURCE_LOCS = {}


def source_loc(cls):
    """'"file":line:0' of the forward of a module class, or None."""
    if cls not in _SOURCE_LOCS:
        import inspect
        try:
            fn = getattr(cls, "forward", cls)
            _SOURCE_LOCS[cls] = "%s:%d:0" % (mlir_string(inspect.getsourcefile(fn)),
                                            inspect.getsourcelines(fn)[1])
        except (TypeError, OSError):
            _SOURCE_LOCS[cls] = None
    return _SOURCE_LOCS[cls]


class Exporter:
    def __init__(self, gm, root, name):
        self.gm, self.root, self.name = gm, root, name
        self.w = Writer()
        self.env = {}
        self.functions, self.methods = FUNCTIONS, METHODS
        self.pool_hook = None  # called on the pooled value of a mean over H, W
        self.name_counts = {}

    # -- names -------------------------------------------------------------

    def source_name(self, node):
        """The name of a node's ops in the MLIR locations: the qualified
        name of its module ("layer1.0.conv1"), or for a function or method
        the module whose forward calls it and the function ("layer1.0.add");
        "#2", "#3", ... for the second and later calls of one module or
        function (ResNet's blocks call their `relu` twice)."""
        if node.op == "call_module":
            base = node.target
        else:
            scope = node.meta.get("qat_scope", "")
            target = node.target
            op = target if isinstance(target, str) else getattr(target, "__name__", str(target))
            base = (scope + "." if scope else "") + op
        n = self.name_counts[base] = self.name_counts.get(base, 0) + 1
        return base if n == 1 else "%s#%d" % (base, n)

    def location(self, node):
        """loc("<source name>"(<the module class's forward>)) of a node."""
        path = node.target if node.op == "call_module" else node.meta.get("qat_scope", "")
        try:
            mod = self.root.get_submodule(path) if path else self.root
        except AttributeError:
            mod = None
        file_loc = source_loc(type(mod)) if mod is not None else None
        name = mlir_string(self.source_name(node))
        return "loc(%s(%s))" % (name, file_loc) if file_loc else "loc(%s)" % name

    # -- errors ------------------------------------------------------------

    def where(self, node):
        """'module <qualname> (<Class>)' for a node."""
        if node.op == "call_module":
            path = node.target
        else:
            path = node.meta.get("qat_scope", "")
        try:  # the original module: the GraphModule keeps only leaf modules
            mod = self.root.get_submodule(path) if path else self.root
        except AttributeError:
            mod = None
        qual = path if path else "<root>"
        return "module '%s' (%s)" % (qual, class_name(mod) if mod is not None else "?")

    def fail(self, node, why):
        if node.op == "call_module":
            what = "%s" % self.where(node)
        else:
            what = "%s in %s" % (op_name(node.target), self.where(node))
        return ExportError("cannot export %s [fx node '%s']: %s" % (what, node.name, why))

    # -- values ------------------------------------------------------------

    def value(self, a):
        if isinstance(a, fx.Node):
            return self.env[a]
        if isinstance(a, (tuple, list)):
            return type(a)(self.value(x) for x in a)
        if isinstance(a, dict):
            return {k: self.value(v) for k, v in a.items()}
        return a

    def tensor(self, a):
        v = self.value(a)
        if not isinstance(v, Value):
            raise Unsupported("expected a tensor operand, got %r" % (v,))
        return v

    def out_shape(self, node):
        r = node.meta.get("qat_result")
        if isinstance(r, (tuple, list)) and r:
            r = r[0]  # (output, indices) of ATen pools
        if not isinstance(r, TensorInfo):
            raise Unsupported("the result is not a single tensor")
        return r.shape

    # -- driver ------------------------------------------------------------

    def run(self, inputs):
        args = []
        graph = self.gm.graph
        placeholders = [n for n in graph.nodes if n.op == "placeholder"]
        if len(placeholders) != len(inputs):
            raise ExportError("the module's forward takes %d input(s), %d example input(s) given"
                              % (len(placeholders), len(inputs)))
        for node in graph.nodes:
            self.w.loc = (self.location(node) if node.op not in ("placeholder", "output")
                          else None)
            try:
                self.visit(node, inputs, args)
            except Unsupported as e:
                raise self.fail(node, str(e)) from None
            if node.op not in ("output", "placeholder") and isinstance(self.env.get(node), Value):
                want = self.out_shape(node)
                got = self.env[node].logical
                if tuple(want) != tuple(got):
                    raise self.fail(node, "internal error: exported shape %s, PyTorch's %s"
                                    % (got, want))
        return self.text

    def visit(self, node, inputs, args):
        if node.op == "placeholder":
            x = inputs[len(args)]
            arg = Value("%%arg%d" % len(args), tuple(x.shape))
            args.append(arg)
            self.env[node] = self.w.to_nhwc(arg) if len(arg.shape) == 4 else arg
            return
        if node.op == "output":
            outs = node.args[0]
            flat = list(outs) if isinstance(outs, (tuple, list)) else [outs]
            results = []
            for o in flat:
                v = self.value(o)
                if not isinstance(v, Value):
                    raise Unsupported("the model returns %r; only tensors are supported" % (v,))
                results.append(self.w.to_plain(v))
            self.results = results
            shapes = ", ".join("x".join(map(str, a.shape)) for a in args)
            self.text = self.w.function(self.name, args, results, [
                "Exported by qat_mlir.export from %s (float32, batch %s)."
                % (class_name(self.root), args[0].shape[0] if args and args[0].shape else "-"),
                "Inputs and outputs in PyTorch's layout (NCHW for 4-D): %s." % shapes])
            return
        recorded = node.meta.get("qat_result")
        if not has_tensor(recorded):
            # Sizes, shapes, dims: static on the example input.
            self.env[node] = recorded
            return
        if isinstance(recorded, TensorInfo) and recorded.dtype != torch.float32:
            raise Unsupported("its result is %s; only float32 tensors are exported"
                              % recorded.dtype)
        if node.op == "get_attr":
            t = self.gm
            for part in node.target.split("."):
                t = getattr(t, part)
            self.env[node] = self.w.const(to_numpy(t))
            return
        if node.op == "call_module":
            mod = self.gm.get_submodule(node.target)
            handler = _MODULES.get(type(mod))
            if handler is None:
                handler = next((h for c, h in _MODULE_BASES if isinstance(mod, c)), None)
            if handler is None:
                raise Unsupported("%s is not supported by the exporter (docs/Python.md lists "
                                  "what is)" % type(mod).__name__)
            self.env[node] = handler(self, node, mod)
            return
        if node.op == "call_function":
            handler = self.functions.get(node.target)
        else:  # call_method
            handler = self.methods.get(node.target)
        if handler is None:
            raise Unsupported("not supported by the exporter (docs/Python.md lists what is)")
        self.env[node] = handler(self, node)

    # -- shared lowerings --------------------------------------------------

    def conv(self, node, x, weight, bias, stride, padding, dilation, groups, wq=None):
        x = self.tensor(x)
        weight = np.asarray(weight, np.float32)
        if weight.ndim != 4:
            raise Unsupported("weight of rank %d" % weight.ndim)
        kh, kw = weight.shape[2:]
        (dh, dw) = _pair(dilation)
        if isinstance(padding, str):
            if padding == "valid":
                pads = (0, 0, 0, 0)
            elif padding == "same":
                th, tw = dh * (kh - 1), dw * (kw - 1)
                pads = (th // 2, th - th // 2, tw // 2, tw - tw // 2)
            else:
                raise Unsupported("padding=%r" % padding)
        else:
            ph, pw = _pair(padding)
            pads = (ph, ph, pw, pw)
        out = self.out_shape(node)
        return self.w.conv2d(x, weight, bias, _pair(stride), pads, (dh, dw), groups, out[2:],
                             wq=wq)

    def pool(self, node, kind, x, kernel, stride, padding, dilation=1, ceil_mode=False,
             count_include_pad=True, divisor_override=None, return_indices=False):
        x = self.tensor(x)
        if len(x.logical) != 4:
            raise Unsupported("pooling of a tensor of shape %s (only 4-D NCHW)" % (x.logical,))
        if _pair(dilation) != (1, 1):
            raise Unsupported("dilation=%r (TOSA pools have none)" % (dilation,))
        if return_indices:
            raise Unsupported("return_indices=True")
        if divisor_override is not None:
            raise Unsupported("divisor_override=%r" % divisor_override)
        kernel = _pair(kernel)
        stride = _pair(stride) if stride not in (None, [], ()) else kernel
        ph, pw = _pair(padding)
        out = self.out_shape(node)
        return self.w.pool2d(kind, x, kernel, stride, (ph, ph, pw, pw), out[2:],
                             count_include_pad=count_include_pad)

    def adaptive(self, node, x):
        x = self.tensor(x)
        if len(x.logical) != 4:
            raise Unsupported("adaptive pooling of a tensor of shape %s" % (x.logical,))
        (h, w), (oh, ow) = x.logical[2:], self.out_shape(node)[2:]
        if (oh, ow) != (h, w) and oh % h == 0 and ow % w == 0:
            # Output a multiple of the input: each bin holds one input
            # element (PyTorch's bins [floor(i h / oh), ceil((i + 1) h / oh))),
            # a nearest-neighbour replication (VGG's 7x7 pool of a 1x1 map).
            return L.resize(self.w, x, (oh, ow), "nearest")
        return self.w.adaptive_avg_pool2d(x, (oh, ow))

    def clamp(self, x, lo, hi):
        return self.w.clamp(self.tensor(x), lo, hi)

    def resize(self, node, x, mode, align_corners):
        x = self.tensor(x)
        if len(x.logical) != 4:
            raise Unsupported("interpolation of a tensor of shape %s (only 4-D NCHW)"
                              % (x.logical,))
        return L.resize(self.w, x, self.out_shape(node)[2:], mode, bool(align_corners))

    def reshape(self, node, x):
        return self.w.reshape_logical(self.tensor(x), self.out_shape(node))

    def binary(self, op, a, b, alpha=1):
        if alpha != 1:
            raise Unsupported("alpha=%r" % alpha)
        a, b = self.value(a), self.value(b)
        for v in (a, b):
            if not isinstance(v, (Value, int, float)) or isinstance(v, bool):
                raise Unsupported("operand %r" % (v,))
        return self.w.binary(op, a, b)

    def mean(self, node, x, dim=None, keepdim=False, dtype=None):
        x = self.tensor(x)
        if dtype is not None:
            raise Unsupported("dtype=%r" % dtype)
        rank = len(x.logical)
        if dim is None or (isinstance(dim, (tuple, list)) and not dim):
            dims = list(range(rank))
        else:
            dims = sorted(set(d % rank for d in (dim if isinstance(dim, (tuple, list))
                                                 else [dim])))
        if rank == 4 and dims == [2, 3]:
            # An average pool (in the input contract); import_qat's
            # requantization goes between it and the reshape.
            y = self.w.mean_hw(x, True)
            if self.pool_hook is not None:
                y = self.pool_hook(y)
            return y if keepdim else self.w.reshape(y, (y.shape[0], y.shape[3]))
        return self.w.mean(x, dims, keepdim, self.out_shape(node))


# ---------------------------------------------------------------------------
# Handlers: modules


def _m_conv(e, node, m):
    if m.padding_mode != "zeros":
        raise Unsupported("padding_mode=%r (only 'zeros')" % m.padding_mode)
    x = e.value(node.args[0])
    return e.conv(node, x, to_numpy(m.weight), to_numpy(m.bias), m.stride, m.padding, m.dilation, m.groups)


def _m_batch_norm(e, node, m):
    if m.running_mean is None or m.running_var is None:
        raise Unsupported("track_running_stats=False: eval mode normalizes with batch "
                          "statistics, which the input contract has no form for")
    return e.w.batch_norm(e.tensor(node.args[0]), to_numpy(m.running_mean), to_numpy(m.running_var),
                          m.eps, to_numpy(m.weight), to_numpy(m.bias))


def _m_linear(e, node, m):
    return e.w.linear(e.tensor(node.args[0]), to_numpy(m.weight), to_numpy(m.bias))


def _m_identity(e, node, m):
    return e.tensor(node.args[0])


def _m_maxpool(e, node, m):
    return e.pool(node, "max", node.args[0], m.kernel_size, m.stride, m.padding, m.dilation,
                  m.ceil_mode, return_indices=m.return_indices)


def _m_avgpool(e, node, m):
    return e.pool(node, "avg", node.args[0], m.kernel_size, m.stride, m.padding, 1, m.ceil_mode,
                  m.count_include_pad, m.divisor_override)


def _m_softmax(e, node, m, log=False):
    if m.dim is None:
        raise Unsupported("dim=None (implicit dimension)")
    return L.softmax(e.w, e.tensor(node.args[0]), m.dim, log)


def _m_layer_norm(e, node, m):
    return L.layer_norm(e.w, e.tensor(node.args[0]), tuple(m.normalized_shape),
                        to_numpy(m.weight), to_numpy(m.bias), m.eps)


def _m_upsample(e, node, m):
    return e.resize(node, node.args[0], m.mode, m.align_corners)


def _m_mha(e, node, m):
    args = list(node.args) + [None] * 3
    q = args[0] if args[0] is not None else node.kwargs.get("query")
    k = args[1] if args[1] is not None else node.kwargs.get("key")
    v = args[2] if args[2] is not None else node.kwargs.get("value")
    for key in ("key_padding_mask", "attn_mask"):
        if node.kwargs.get(key) is not None:
            raise Unsupported("%s (only unmasked attention)" % key)
    if len(node.args) > 3:
        raise Unsupported("positional arguments after value")
    if m.bias_k is not None or m.add_zero_attn or not m._qkv_same_embed_dim:
        raise Unsupported("add_bias_kv, add_zero_attn or kdim/vdim")
    y = L.multi_head_attention(e.w, e.tensor(q), e.tensor(k), e.tensor(v), m.num_heads,
                               to_numpy(m.in_proj_weight), to_numpy(m.in_proj_bias),
                               to_numpy(m.out_proj.weight), to_numpy(m.out_proj.bias),
                               m.batch_first)
    if node.kwargs.get("need_weights", True):
        return (y, None)
    return (y, None)


_MODULES = {
    nn.Sigmoid: lambda e, n, m: L.sigmoid(e.w, e.tensor(n.args[0])),
    nn.Tanh: lambda e, n, m: L.tanh(e.w, e.tensor(n.args[0])),
    nn.SiLU: lambda e, n, m: L.silu(e.w, e.tensor(n.args[0])),
    nn.Hardswish: lambda e, n, m: L.hardswish(e.w, e.tensor(n.args[0])),
    nn.Hardsigmoid: lambda e, n, m: L.hardsigmoid(e.w, e.tensor(n.args[0])),
    nn.GELU: lambda e, n, m: L.gelu(e.w, e.tensor(n.args[0]), m.approximate),
    nn.Softmax: _m_softmax,
    nn.LogSoftmax: lambda e, n, m: _m_softmax(e, n, m, True),
    nn.LayerNorm: _m_layer_norm,
    nn.Upsample: _m_upsample,
    nn.UpsamplingNearest2d: _m_upsample,
    nn.UpsamplingBilinear2d: _m_upsample,
    nn.MultiheadAttention: _m_mha,
    nn.Conv2d: _m_conv,
    nn.BatchNorm2d: _m_batch_norm,
    nn.BatchNorm1d: _m_batch_norm,
    nn.ReLU: lambda e, n, m: e.clamp(n.args[0], 0.0, None),
    nn.ReLU6: lambda e, n, m: e.clamp(n.args[0], 0.0, 6.0),
    nn.Hardtanh: lambda e, n, m: e.clamp(n.args[0], m.min_val, m.max_val),
    nn.Linear: _m_linear,
    nn.Identity: _m_identity,
    nn.Flatten: lambda e, n, m: e.reshape(n, n.args[0]),
    nn.MaxPool2d: _m_maxpool,
    nn.AvgPool2d: _m_avgpool,
    nn.AdaptiveAvgPool2d: lambda e, n, m: e.adaptive(n, n.args[0]),
}
_MODULE_BASES = [(DROPOUT, _m_identity)]


# ---------------------------------------------------------------------------
# Handlers: functions and methods


def bind(fn):
    """Handler calling fn(e, node, *args, **kwargs) with fx's args."""
    return lambda e, node: fn(e, node, *node.args, **node.kwargs)


def relu(e, node, x, inplace=False):
    return e.clamp(x, 0.0, None)


def _relu6(e, node, x, inplace=False):
    return e.clamp(x, 0.0, 6.0)


def hardtanh(e, node, x, min_val=-1.0, max_val=1.0, inplace=False):
    return e.clamp(x, min_val, max_val)


def clamp(e, node, x, min=None, max=None):
    for v in (min, max):
        if v is not None and not isinstance(v, (int, float)):
            raise Unsupported("tensor bounds")
    return e.clamp(x, min, max)


def identity(e, node, x, *args, **kwargs):
    return e.tensor(x)


def reshape(e, node, x, *args, **kwargs):
    return e.reshape(node, x)


def cat(e, node, tensors, dim=0):
    return e.w.cat([e.tensor(t) for t in tensors], dim)


def _binary(op, swap=False):
    def handler(e, node, a, b, alpha=1, out=None):
        if out is not None:
            raise Unsupported("out=")
        return e.binary(op, b, a) if swap else e.binary(op, a, b, alpha)
    return handler


def truediv(e, node, a, b, rounding_mode=None):
    b = e.value(b)
    if rounding_mode is not None or isinstance(b, Value) or not isinstance(b, (int, float)):
        raise Unsupported("division other than by a Python number")
    # x / 0 is x * inf bit for bit (+-inf, NaN for 0 / 0), with b's sign.
    return e.binary("mul", a, 1.0 / b if b != 0 else math.copysign(math.inf, b))


def adaptive(e, node, x, output_size):
    return e.adaptive(node, x)


def _max_pool(e, node, x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
              return_indices=False):
    return e.pool(node, "max", x, kernel_size, stride, padding, dilation, ceil_mode,
                  return_indices=return_indices)


def avg_pool(e, node, x, kernel_size, stride=None, padding=0, ceil_mode=False,
              count_include_pad=True, divisor_override=None):
    return e.pool(node, "avg", x, kernel_size, stride, padding, 1, ceil_mode, count_include_pad,
                  divisor_override)


def mean(e, node, x, dim=None, keepdim=False, dtype=None):
    return e.mean(node, x, dim, keepdim, dtype)


def const_arg(e, v, what):
    v = e.value(v)
    if v is None:
        return None
    if not isinstance(v, Value) or v.array is None:
        raise Unsupported("%s is not a parameter (constant)" % what)
    return v.array


def _f_linear(e, node, x, weight, bias=None):
    return e.w.linear(e.tensor(x), const_arg(e, weight, "weight"), const_arg(e, bias, "bias"))


def _f_conv2d(e, node, x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    return e.conv(node, e.value(x), const_arg(e, weight, "weight"), const_arg(e, bias, "bias"),
                  stride, padding, dilation, groups)


def _f_batch_norm(e, node, x, running_mean, running_var, weight=None, bias=None, training=False,
                  momentum=0.1, eps=1e-5):
    if training:
        raise Unsupported("training=True")
    return e.w.batch_norm(e.tensor(x), const_arg(e, running_mean, "running_mean"),
                          const_arg(e, running_var, "running_var"), eps,
                          const_arg(e, weight, "weight"), const_arg(e, bias, "bias"))


def _dropout(e, node, x, p=0.5, training=False, inplace=False):
    if training:
        raise Unsupported("training=True")
    return e.tensor(x)


def _unary(fn):
    def handler(e, node, x, *args, **kwargs):
        kwargs.pop("inplace", None)
        if args and not (len(args) == 1 and args[0] is False):
            raise Unsupported("arguments %r" % (args,))
        return fn(e.w, e.tensor(x))
    return handler


def _gelu(e, node, x, approximate="none"):
    return L.gelu(e.w, e.tensor(x), approximate)


def _softmax(e, node, x, dim=None, _stacklevel=3, dtype=None, log=False):
    if dim is None:
        raise Unsupported("dim=None (implicit dimension)")
    if dtype is not None:
        raise Unsupported("dtype=%r" % (dtype,))
    return L.softmax(e.w, e.tensor(x), dim, log)


def _log_softmax(e, node, x, dim=None, _stacklevel=3, dtype=None):
    return _softmax(e, node, x, dim, _stacklevel, dtype, True)


def _layer_norm(e, node, x, normalized_shape, weight=None, bias=None, eps=1e-5):
    return L.layer_norm(e.w, e.tensor(x), tuple(normalized_shape), const_arg(e, weight, "weight"),
                        const_arg(e, bias, "bias"), eps)


def _interpolate(e, node, x, size=None, scale_factor=None, mode="nearest", align_corners=None,
                 recompute_scale_factor=None, antialias=False):
    if antialias:
        raise Unsupported("antialias=True")
    return e.resize(node, x, {"bilinear": "bilinear", "nearest": "nearest"}.get(mode, mode),
                    align_corners)


def _matmul(e, node, a, b):
    return L.matmul(e.w, e.tensor(a), e.tensor(b))


def _transpose(e, node, x, d0, d1):
    return L.transpose(e.w, e.tensor(x), d0, d1)


def _permute(e, node, x, *dims):
    if len(dims) == 1 and isinstance(dims[0], (tuple, list)):
        dims = dims[0]
    return L.permute(e.w, e.tensor(x), list(dims))


def _split(e, node, x, split_size_or_sections, dim=0):
    x = e.tensor(x)
    n = x.logical[dim]
    if isinstance(split_size_or_sections, int):
        k = split_size_or_sections
        sizes = [min(k, n - i) for i in range(0, n, k)]
    else:
        sizes = list(split_size_or_sections)
    return tuple(L.split(e.w, x, sizes, dim))


def _chunk(e, node, x, chunks, dim=0):
    x = e.tensor(x)
    n = x.logical[dim]
    k = -(-n // chunks)
    return tuple(L.split(e.w, x, [min(k, n - i) for i in range(0, n, k)], dim))


def _stochastic_depth(e, node, x, p, mode, training=True):
    if training:
        raise Unsupported("training=True")
    return e.tensor(x)


def _getitem(e, node, obj, index):
    v = e.value(obj)
    if isinstance(v, (tuple, list)):
        return v[index]
    if not isinstance(v, Value):
        raise Unsupported("indexing %r" % (v,))
    # Tensor indexing: integers and step-1 slices, per dimension.
    index = index if isinstance(index, tuple) else (index,)
    if any(i is Ellipsis or i is None for i in index):
        raise Unsupported("indexing with ... or None")
    x = v
    dim = 0
    for i in index:
        if isinstance(i, slice):
            n = x.logical[dim]
            start, stop, step = i.indices(n)
            if (start, stop, step) != (0, n, 1):
                x = L.narrow(e.w, x, dim, start, stop, step)
            dim += 1
        elif isinstance(i, int):
            x = L.select(e.w, x, dim, i)
        else:
            raise Unsupported("indexing with %r" % (i,))
    return x


try:
    from torchvision.ops.stochastic_depth import stochastic_depth as _tv_stochastic_depth
except ImportError:  # torchvision is optional
    _tv_stochastic_depth = None

FUNCTIONS = {
    torch.sigmoid: bind(_unary(L.sigmoid)), F.sigmoid: bind(_unary(L.sigmoid)),
    torch.tanh: bind(_unary(L.tanh)), F.tanh: bind(_unary(L.tanh)),
    F.silu: bind(_unary(L.silu)), F.hardswish: bind(_unary(L.hardswish)),
    F.hardsigmoid: bind(_unary(L.hardsigmoid)), F.gelu: bind(_gelu),
    F.softmax: bind(_softmax), torch.softmax: bind(_softmax),
    F.log_softmax: bind(_log_softmax),
    F.layer_norm: bind(_layer_norm), F.interpolate: bind(_interpolate),
    torch.matmul: bind(_matmul), torch.bmm: bind(_matmul), operator.matmul: bind(_matmul),
    torch.transpose: bind(_transpose), torch.permute: bind(_permute),
    torch.split: bind(_split), torch.chunk: bind(_chunk),
    operator.getitem: bind(_getitem),

    operator.add: bind(_binary("add")), torch.add: bind(_binary("add")),
    operator.iadd: bind(_binary("add")),
    operator.sub: bind(_binary("sub")), torch.sub: bind(_binary("sub")),
    operator.isub: bind(_binary("sub")),
    operator.mul: bind(_binary("mul")), torch.mul: bind(_binary("mul")),
    operator.imul: bind(_binary("mul")),
    operator.truediv: bind(truediv), torch.div: bind(truediv),
    torch.relu: bind(relu), F.relu: bind(relu), F.relu6: bind(_relu6),
    F.hardtanh: bind(hardtanh), torch.clamp: bind(clamp), torch.clip: bind(clamp),
    torch.flatten: bind(reshape), torch.reshape: bind(reshape),
    torch.cat: bind(cat), torch.concat: bind(cat),
    F.adaptive_avg_pool2d: bind(adaptive),
    F.avg_pool2d: bind(avg_pool), F.max_pool2d: bind(_max_pool),
    torch.mean: bind(mean),
    F.linear: bind(_f_linear), F.conv2d: bind(_f_conv2d), F.batch_norm: bind(_f_batch_norm),
    F.dropout: bind(_dropout), F.dropout2d: bind(_dropout),
}
if _tv_stochastic_depth is not None:
    FUNCTIONS[_tv_stochastic_depth] = bind(_stochastic_depth)
def _expand(e, node, x, *size):
    """Tensor.expand: the identity where nothing grows (ViT's class token
    at batch 1); a constant (a parameter) is broadcast here."""
    v = e.tensor(x)
    shape = tuple(e.out_shape(node))
    if tuple(v.logical) == shape:
        return v
    if v.array is not None and not v.nhwc:
        return e.w.const(np.ascontiguousarray(np.broadcast_to(v.array, shape)))
    raise Unsupported("expand of an activation from %s to %s" % (v.logical, shape))


METHODS = {
    "sigmoid": bind(_unary(L.sigmoid)), "tanh": bind(_unary(L.tanh)),
    "softmax": bind(_softmax), "matmul": bind(_matmul), "bmm": bind(_matmul),
    "transpose": bind(_transpose), "permute": bind(_permute),
    "split": bind(_split), "chunk": bind(_chunk),
    "add": bind(_binary("add")), "add_": bind(_binary("add")),
    "sub": bind(_binary("sub")), "mul": bind(_binary("mul")), "mul_": bind(_binary("mul")),
    "div": bind(truediv),
    "relu": bind(relu), "relu_": bind(relu), "clamp": bind(clamp),
    "view": bind(reshape), "reshape": bind(reshape), "flatten": bind(reshape),
    "mean": bind(mean), "contiguous": bind(identity), "expand": bind(_expand),
}


# The handlers added for issue 19's models (float export). import_qat does
# not take them yet: their quantized PyTorch kernels (fixed-qparams sigmoid,
# ...) are not checked against the import. (nn.Hardswish and
# nn.Hardsigmoid modules are imported: MobileNetV3.)
_FLOAT_ONLY_MODULES = (nn.Sigmoid, nn.Tanh, nn.SiLU, nn.GELU,
                       nn.Softmax, nn.LogSoftmax, nn.LayerNorm, nn.Upsample,
                       nn.UpsamplingNearest2d, nn.UpsamplingBilinear2d, nn.MultiheadAttention)
_FLOAT_ONLY_FUNCTIONS = {
    torch.sigmoid, F.sigmoid, torch.tanh, F.tanh, F.silu, F.hardswish, F.hardsigmoid, F.gelu,
    F.softmax, torch.softmax, F.log_softmax, F.layer_norm, F.interpolate, torch.matmul,
    torch.bmm, operator.matmul}
_FLOAT_ONLY_METHODS = {"sigmoid", "tanh", "softmax", "matmul", "bmm"}


def is_float_only(node, gm):
    if node.op == "call_module":
        return isinstance(gm.get_submodule(node.target), _FLOAT_ONLY_MODULES)
    if node.op == "call_function":
        return node.target in _FLOAT_ONLY_FUNCTIONS
    if node.op == "call_method":
        return node.target in _FLOAT_ONLY_METHODS
    return False


# ---------------------------------------------------------------------------
# Entry point


def trace(module):
    """GraphModule of `module` by torch.fx, or raises TraceFailed."""
    tracer = Tracer()
    try:
        graph = tracer.trace(module)
    except Exception as e:  # fx raises many kinds; all mean "cannot trace"
        scope = tracer.scope[-1]
        raise TraceFailed(scope, e) from None
    return fx.GraphModule(tracer.root, graph, type(module).__name__)


class TraceFailed(Exception):
    def __init__(self, scope, error):
        super().__init__(scope, error)
        self.scope, self.error = scope, error


def first_line(e):
    text = str(e).strip().splitlines()
    return "%s: %s" % (type(e).__name__, text[0] if text else "")
