"""The exporter's fallback when torch.fx cannot trace a module (Python
control flow on tensor values or shapes): make_fx runs the module on the
example input and records the ATen operations it executed, with the
parameters as constants. The same lowerings as the fx path apply; error
messages name the ATen op (module names are not recorded by make_fx) and
the module fx failed on."""
import operator

import torch
from torch.fx.experimental.proxy_tensor import make_fx

from . import fx as _ex
from . import layers as L
from ..writer import Unsupported, Value
from ..errors import ExportError

aten = torch.ops.aten


class _AtenExporter(_ex.Exporter):
    def __init__(self, gm, root, name, fx_scope, fx_error):
        super().__init__(gm, root, name)
        self.fx_note = "torch.fx could not trace module '%s' (%s): %s; the exporter traced " \
            "the ATen ops it ran instead" % (fx_scope or "<root>", _ex.class_name(
                root.get_submodule(fx_scope) if fx_scope else root), _ex.first_line(fx_error))

    def fail(self, node, why):
        return ExportError("cannot export %s [make_fx node '%s']: %s (%s)"
                           % (_ex.op_name(node.target), node.name, why, self.fx_note))

    def visit(self, node, inputs, args):
        if node.op == "call_function" and not node.users:
            return  # dead code (make_fx records allocations such as aten.empty)
        if node.op == "call_function" and node.target is not operator.getitem:
            handler = _ATEN.get(node.target)
            if handler is None:
                folded = self.fold_constants(node)
                if folded is not None:
                    self.env[node] = folded
                    return
        super().visit(node, inputs, args)

    def fold_constants(self, node):
        """An op whose tensor operands are all constants (weights
        transposed by aten.t, ...) is evaluated here."""
        tensors = []

        def conv(a):
            if isinstance(a, torch.fx.Node):
                v = self.env[a]
                if isinstance(v, Value):
                    if v.array is None:
                        raise LookupError
                    tensors.append(v)
                    return torch.from_numpy(v.array)
                return v
            if isinstance(a, (tuple, list)):
                return type(a)(conv(x) for x in a)
            return a
        try:
            args = conv(node.args)
            kwargs = {k: conv(v) for k, v in node.kwargs.items()}
        except LookupError:
            return None
        if not tensors:
            return None
        r = node.target(*args, **kwargs)
        if not isinstance(r, torch.Tensor) or r.dtype != torch.float32:
            return None
        return self.w.const(r.numpy())


def _getitem(e, node, obj, index):
    v = e.value(obj)
    if isinstance(v, (tuple, list)):
        r = v[index]
        if r is None:
            raise Unsupported("item %d of %s is not supported (only the main result)"
                              % (index, _ex.op_name(obj.target)))
        return r
    raise Unsupported("indexing a tensor")


def _convolution(e, node, x, w, b, stride, padding, dilation, transposed, output_padding,
                 groups):
    if transposed:
        raise Unsupported("transposed convolution")
    return e.conv(node, e.value(x), _ex.const_arg(e, w, "weight"), _ex.const_arg(e, b, "bias"),
                  stride, padding, dilation, groups)


def _native_batch_norm(e, node, x, w, b, mean, var, training, momentum, eps):
    if training:
        raise Unsupported("training=True")
    y = e.w.batch_norm(e.tensor(x), _ex.const_arg(e, mean, "running_mean"),
                       _ex.const_arg(e, var, "running_var"), eps, _ex.const_arg(e, w, "weight"),
                       _ex.const_arg(e, b, "bias"))
    return (y, None, None)


def _max_pool(e, node, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    y = e.pool(node, "max", x, kernel, stride, padding, dilation, ceil_mode)
    return (y, None)


def _addmm(e, node, bias, x, wt, beta=1, alpha=1):
    if beta != 1 or alpha != 1:
        raise Unsupported("beta/alpha other than 1")
    wt = _ex.const_arg(e, wt, "weight")
    return e.w.linear(e.tensor(x), wt.T, _ex.const_arg(e, bias, "bias"))


def _mm(e, node, x, wt):
    return e.w.linear(e.tensor(x), _ex.const_arg(e, wt, "weight").T, None)


def _scalar_binary(op):
    def handler(e, node, a, b, alpha=1):
        return e.binary(op, a, b, alpha)
    return handler


def _div(e, node, a, b):
    return _ex.truediv(e, node, a, b)


def _native_layer_norm(e, node, x, normalized_shape, w, b, eps):
    y = L.layer_norm(e.w, e.tensor(x), tuple(normalized_shape), _ex.const_arg(e, w, "weight"),
                     _ex.const_arg(e, b, "bias"), eps)
    return (y, None, None)


def _softmax(e, node, x, dim, half_to_float, log=False):
    if half_to_float:
        raise Unsupported("half_to_float=True")
    return L.softmax(e.w, e.tensor(x), dim, log)


def _split(e, node, x, size, dim=0):
    return _ex._split(e, node, x, size, dim)


def _slice(e, node, x, dim=0, start=None, end=None, step=1):
    x = e.tensor(x)
    n = x.logical[dim]
    start, end, step = slice(start, end, step).indices(n)
    return L.narrow(e.w, x, dim, start, end, step)


def _expand(e, node, x, size, implicit=False):
    x = e.tensor(x)
    shape = tuple(x.logical[i - (len(size) - len(x.logical))] if s == -1 else s
                  for i, s in enumerate(size))
    if shape == tuple(x.logical):
        return x
    raise Unsupported("expand of an activation from %s to %s" % (x.logical, shape))


def _upsample(mode):
    def handler(e, node, x, output_size, *args):
        align = args[0] if mode == "bilinear" and args else False
        return e.resize(node, x, mode, align)
    return handler


def _nmha(e, node, q, k, v, embed_dim, num_head, qkv_w, qkv_b, proj_w, proj_b, mask=None,
          need_weights=True, average_attn_weights=True, mask_type=None):
    if mask is not None:
        raise Unsupported("an attention mask")
    y = L.multi_head_attention(e.w, e.tensor(q), e.tensor(k), e.tensor(v), num_head,
                               _ex.const_arg(e, qkv_w, "in_proj_weight"),
                               _ex.const_arg(e, qkv_b, "in_proj_bias"),
                               _ex.const_arg(e, proj_w, "out_proj.weight"),
                               _ex.const_arg(e, proj_b, "out_proj.bias"))
    return (y, None)


_B = _ex.bind
_ATEN = {
    aten.sigmoid.default: _B(_ex._unary(L.sigmoid)), aten.tanh.default: _B(_ex._unary(L.tanh)),
    aten.silu.default: _B(_ex._unary(L.silu)), aten.silu_.default: _B(_ex._unary(L.silu)),
    aten.hardswish.default: _B(_ex._unary(L.hardswish)),
    aten.hardswish_.default: _B(_ex._unary(L.hardswish)),
    aten.hardsigmoid.default: _B(_ex._unary(L.hardsigmoid)),
    aten.hardsigmoid_.default: _B(_ex._unary(L.hardsigmoid)),
    aten.gelu.default: _B(_ex._gelu),
    aten._softmax.default: _B(_softmax),
    aten._log_softmax.default: _B(lambda e, n, x, d, h: _softmax(e, n, x, d, h, True)),
    aten.native_layer_norm.default: _B(_native_layer_norm),
    aten.bmm.default: _B(_ex._matmul), aten.matmul.default: _B(_ex._matmul),
    aten.transpose.int: _B(_ex._transpose), aten.permute.default: _B(_ex._permute),
    aten.split.Tensor: _B(_split), aten.split_with_sizes.default: _B(_split),
    aten.slice.Tensor: _B(_slice),
    aten.select.int: _B(lambda e, n, x, dim, i: L.select(e.w, e.tensor(x), dim, i)),
    aten.expand.default: _B(_expand),
    aten.upsample_bilinear2d.vec: _B(_upsample("bilinear")),
    aten.upsample_nearest2d.vec: _B(_upsample("nearest")),
    aten.upsample_bilinear2d.default: _B(_upsample("bilinear")),
    aten.upsample_nearest2d.default: _B(_upsample("nearest")),
    aten._native_multi_head_attention.default: _B(_nmha),
    operator.getitem: _B(_getitem),
    aten.convolution.default: _B(_convolution),
    aten.native_batch_norm.default: _B(_native_batch_norm),
    aten.relu.default: _B(_ex.relu), aten.relu_.default: _B(_ex.relu),
    aten.hardtanh.default: _B(_ex.hardtanh), aten.hardtanh_.default: _B(_ex.hardtanh),
    aten.clamp.default: _B(_ex.clamp), aten.clamp_.default: _B(_ex.clamp),
    aten.max_pool2d_with_indices.default: _B(_max_pool),
    aten.max_pool2d.default: _B(lambda e, n, *a, **k: _max_pool(e, n, *a, **k)[0]),
    aten.avg_pool2d.default: _B(_ex.avg_pool),
    aten._adaptive_avg_pool2d.default: _B(_ex.adaptive),
    aten.adaptive_avg_pool2d.default: _B(_ex.adaptive),
    aten.mean.dim: _B(_ex.mean),
    aten.view.default: _B(_ex.reshape), aten._reshape_alias.default: _B(_ex.reshape),
    aten._unsafe_view.default: _B(_ex.reshape), aten.reshape.default: _B(_ex.reshape),
    aten.flatten.using_ints: _B(_ex.reshape),
    aten.addmm.default: _B(_addmm), aten.mm.default: _B(_mm),
    aten.add.Tensor: _B(_scalar_binary("add")), aten.add_.Tensor: _B(_scalar_binary("add")),
    aten.sub.Tensor: _B(_scalar_binary("sub")), aten.mul.Tensor: _B(_scalar_binary("mul")),
    aten.div.Tensor: _B(_div),
    aten.cat.default: _B(_ex.cat),
    aten.detach.default: _B(_ex.identity), aten.clone.default: _B(_ex.identity),
    aten.alias.default: _B(_ex.identity),
}


def export(module, inputs, name, fx_scope, fx_error, crops="slice"):
    """The fallback of pytorch.export (module already in eval mode, no grad)."""
    try:
        gm = make_fx(module)(*inputs)
    except Exception as e:
        raise ExportError("cannot trace module '%s' (%s) with torch.fx (%s) nor with make_fx (%s)"
                          % (fx_scope or "<root>", _ex.class_name(module),
                             _ex.first_line(fx_error), _ex.first_line(e))) from None
    try:
        _ex.Recorder(gm).run(*inputs)
    except Exception as e:
        raise ExportError("running the make_fx graph on the example input failed: %s"
                          % _ex.first_line(e)) from None
    exporter = _AtenExporter(gm, module, name, fx_scope, fx_error)
    exporter.functions, exporter.methods = _ATEN, {}
    exporter.w.crops = crops
    return exporter.run(inputs)
