"""qat_mlir.import_onnx: an ONNX model to the TOSA input contract, with its
QuantizeLinear/DequantizeLinear (QDQ) pairs as constant qat.fake_quant ops.

The QDQ form is what torch.onnx.export writes for a converted (int8)
PyTorch model or for a QAT model with FakeQuantize modules, and what
ONNX Runtime's and other tools' static quantization write:

    activations    x -> QuantizeLinear(s, z) [-> Cast] -> DequantizeLinear(s, z) -> ...
    weights        int8 initializer -> DequantizeLinear(s, z[, axis]) -> Conv/Gemm/MatMul
                   or float initializer -> QuantizeLinear -> DequantizeLinear -> ...
    biases         int32 initializer -> DequantizeLinear(s_in * s_w) -> Conv/Gemm

An activation pair becomes qat.fake_quant with ONNX's rounding (half to
even of x / s: rounding = half_even_div); a quantized weight becomes a float
constant on its grid under a qat.fake_quant with the same parameters, which
gives back exactly the ONNX codes; an int32 bias becomes its float value
(the conversion quantizes it again to the same integers). Per-channel
factors between a quantized-weight Conv/Gemm and the next quantizer (Div,
Mul, Add, Sub by constants, BatchNormalization: PyTorch's QAT ConvBn
export) are folded into the weight's scales and the bias. A float model
(no QDQ) gives a float module, ready for qat_mlir.prepare.

Layout and op lowering are the exporter's (NCHW at the boundary, NHWC
inside). Anything else raises ExportError naming the node and its op type.
"""
import os

import numpy as np

from ..writer import QParams, Unsupported, Value, Writer
from ..errors import ExportError

_ACT_RANGES = {(0, 255): "", (0, 127): ":reduce-range"}
_WEIGHT_RANGES = {(-128, 127): "", (-127, 127): ":narrow-range"}
# |a - 1| below this is PyTorch's ConvBn export dividing by the batch-norm
# factor that BatchNormalization multiplies back: 1 up to f32 rounding.
_UNIT_TOLERANCE = 2.0 ** -20


class _Codes:
    """The output of a QuantizeLinear: the quantized source (a Value or a
    float constant) and the parameters."""

    def __init__(self, src, qp, dtype, node):
        self.src, self.qp, self.dtype, self.node = src, qp, dtype, node


class _QWeight:
    """A dequantized integer constant: float values on the grid of `qp`
    (integer codes `codes`), usable as a Conv/Gemm/MatMul weight."""

    def __init__(self, codes, qp):
        self.codes, self.qp = np.asarray(codes, np.int64), qp

    def values(self, scale=None):
        s = self.qp.scale if scale is None else scale
        z = self.qp.zero_point
        if self.qp.per_channel:
            shape = [1] * self.codes.ndim
            shape[self.qp.axis] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        return ((self.codes - z).astype(np.float32) * np.asarray(s, np.float32)).astype(np.float32)


_RANGES = {1: (0, 255), 2: (0, 255), 3: (-128, 127)}  # FLOAT=1 (no zp: uint8), UINT8=2, INT8=3


def _attrs(node):
    import onnx
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _array(t):
    from onnx import numpy_helper
    return numpy_helper.to_array(t)


class _Importer:
    def __init__(self, model, name):
        self.model, self.name = model, name
        self.graph = model.graph
        self.w = Writer()
        self.env = {}
        self.grid = {}  # Value name -> QParams of the grid it is on
        self.quantizers = []  # (node name, role, QParams)
        self.skip = set()
        self.alias = {}
        self.users = {}
        for n in self.graph.node:
            for i in n.input:
                if i:
                    self.users.setdefault(i, []).append(n)
        for o in self.graph.output:
            self.users.setdefault(o.name, []).append(None)
        self.w.slice_hook = self.requantize_slice
        self.opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                         default=13)

    # -- values ------------------------------------------------------------

    def get(self, name):
        while name in self.alias:
            name = self.alias[name]
        if name not in self.env:
            raise Unsupported("input '%s' is not defined before use" % name)
        return self.env[name]

    def const(self, node, i, what, optional=False):
        if i >= len(node.input) or not node.input[i]:
            if optional:
                return None
            raise Unsupported("missing %s" % what)
        v = self.get(node.input[i])
        if isinstance(v, _QWeight):
            return v.values()
        if not isinstance(v, np.ndarray):
            raise Unsupported("%s ('%s') is not a constant" % (what, node.input[i]))
        return v

    def tensor(self, node, i=0):
        v = self.get(node.input[i])
        if isinstance(v, np.ndarray) and v.dtype == np.float32:
            return self.w.const(v)
        if not isinstance(v, Value):
            raise Unsupported("input #%d ('%s') is not a float tensor of the graph (%s)"
                              % (i, node.input[i], type(v).__name__))
        return v

    def operand(self, node, i):
        """A Value, or a float constant as a Value."""
        v = self.get(node.input[i])
        if isinstance(v, np.ndarray):
            if v.dtype.kind != "f":
                raise Unsupported("input #%d ('%s') is a %s constant" % (i, node.input[i],
                                                                         v.dtype))
            return v.astype(np.float32)
        if isinstance(v, _QWeight):
            raise Unsupported("input #%d ('%s') is a dequantized constant: only Conv, Gemm and "
                              "MatMul take quantized weights" % (i, node.input[i]))
        if not isinstance(v, Value):
            raise Unsupported("input #%d ('%s') is quantized codes (a QuantizeLinear output "
                              "not read by a DequantizeLinear)" % (i, node.input[i]))
        return v

    # -- driver ------------------------------------------------------------

    def run(self):
        inits = {t.name: _array(t) for t in self.graph.initializer}
        args = []
        for inp in self.graph.input:
            if inp.name in inits:
                continue
            tt = inp.type.tensor_type
            if tt.elem_type != 1:
                raise ExportError("graph input '%s' has element type %d (only float32)"
                                  % (inp.name, tt.elem_type))
            shape = []
            for d in tt.shape.dim:
                if not d.HasField("dim_value"):
                    raise ExportError("graph input '%s' has a dynamic dimension '%s': export the "
                                      "model with static shapes" % (inp.name, d.dim_param))
                shape.append(d.dim_value)
            arg = Value("%%arg%d" % len(args), tuple(shape))
            args.append(arg)
            self.env[inp.name] = self.w.to_nhwc(arg) if len(shape) == 4 else arg
        self.env.update(inits)
        for node in self.graph.node:
            if id(node) in self.skip:
                continue
            try:
                self.visit(node)
            except Unsupported as e:
                raise ExportError("cannot import ONNX node '%s' (%s): %s"
                                  % (node.name or node.output[0], node.op_type, e)) from None
        results = []
        for o in self.graph.output:
            v = self.get(o.name)
            if isinstance(v, np.ndarray):
                v = self.w.const(v.astype(np.float32))
            if not isinstance(v, Value):
                raise ExportError("graph output '%s' is not a float tensor (%s); only float "
                                  "outputs are supported (end the graph with a "
                                  "DequantizeLinear)" % (o.name, type(v).__name__))
            results.append(self.w.to_plain(v))
        shapes = ", ".join("x".join(map(str, a.shape)) for a in args)
        return self.w.function(self.name, args, results, [
            "Imported by qat_mlir.import_onnx from ONNX graph '%s' (opset %d)."
            % (self.graph.name, self.opset),
            "Inputs and outputs in ONNX's layout (NCHW for 4-D): %s." % shapes])

    def set(self, node, v, i=0):
        self.env[node.output[i]] = v

    def visit(self, node):
        op = node.op_type
        a = _attrs(node)
        handler = getattr(self, "op_" + op, None)
        if node.domain not in ("", "ai.onnx") or handler is None:
            raise Unsupported("op type %s%s is not supported by the importer (docs/Python.md "
                              "lists what is)" % (node.domain + "." if node.domain else "", op))
        handler(node, a)

    # -- constants ---------------------------------------------------------

    def op_Constant(self, node, a):
        for key in ("value", "value_float", "value_int", "value_floats", "value_ints"):
            if key in a:
                v = a[key]
                v = _array(v) if key == "value" else np.asarray(
                    v, np.float32 if "float" in key else np.int64)
                self.set(node, v)
                return
        raise Unsupported("attribute %s" % sorted(a))

    def op_ConstantOfShape(self, node, a):
        shape = self.const(node, 0, "shape").astype(np.int64)
        value = _array(a["value"]) if "value" in a else np.zeros(1, np.float32)
        self.set(node, np.full(tuple(shape), value.reshape(-1)[0], value.dtype))

    def op_Identity(self, node, a):
        self.set(node, self.get(node.input[0]))

    def op_Dropout(self, node, a):
        self.set(node, self.get(node.input[0]))
        if len(node.output) > 1 and node.output[1]:
            raise Unsupported("the mask output is used")

    def op_Cast(self, node, a):
        import onnx
        to = a["to"]
        v = self.get(node.input[0])
        if isinstance(v, np.ndarray):
            self.set(node, v.astype(onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[to]))
        elif isinstance(v, _Codes) and to == v.dtype:
            self.set(node, v)  # torch.onnx writes Cast(uint8) after QuantizeLinear
        elif isinstance(v, Value) and to == 1:
            self.set(node, v)
        else:
            raise Unsupported("Cast of a %s to type %d" % (type(v).__name__, to))

    def op_Shape(self, node, a):
        v = self.get(node.input[0])
        shape = v.shape if isinstance(v, np.ndarray) else getattr(v, "logical", None)
        if shape is None:
            raise Unsupported("Shape of %s" % type(v).__name__)
        self.set(node, np.asarray(shape, np.int64))

    def _fold(self, node, fn):
        vals = [self.get(i) if i else None for i in node.input]
        if not all(isinstance(v, np.ndarray) or v is None for v in vals):
            return False
        self.set(node, np.asarray(fn(*vals)))
        return True

    def op_Gather(self, node, a):
        if not self._fold(node, lambda x, i: np.take(x, i, axis=a.get("axis", 0))):
            raise Unsupported("Gather of a tensor (only of constants)")

    def _axes(self, node, a):
        if "axes" in a:
            return list(a["axes"])
        return [int(x) for x in self.const(node, 1, "axes")]

    def op_Unsqueeze(self, node, a):
        axes = self._axes(node, a)
        x = self.get(node.input[0])
        if not isinstance(x, np.ndarray):
            raise Unsupported("Unsqueeze of a tensor (only of constants)")
        for ax in sorted(d % (x.ndim + len(axes)) for d in axes):
            x = np.expand_dims(x, ax)
        self.set(node, x)

    def op_Squeeze(self, node, a):
        x = self.get(node.input[0])
        if not isinstance(x, np.ndarray):
            raise Unsupported("Squeeze of a tensor (only of constants)")
        axes = self._axes(node, a) if ("axes" in a or len(node.input) > 1) else None
        self.set(node, np.squeeze(x, tuple(axes) if axes is not None else None))

    def op_Transpose(self, node, a):
        if not self._fold(node, lambda x: np.transpose(x, a.get("perm"))):
            raise Unsupported("Transpose of a tensor (only of constants)")

    # -- quantization ------------------------------------------------------

    def qparams(self, node, rounding):
        """(QParams or None for int32, ONNX element type) of a
        QuantizeLinear/DequantizeLinear: scale (input 1), zero point (input
        2, uint8 0 when absent; its type gives the range) and axis."""
        s = self.const(node, 1, "scale").astype(np.float32)
        z = self.const(node, 2, "zero point", optional=True)
        dtype = 2 if z is None else {np.dtype(np.uint8): 2, np.dtype(np.int8): 3,
                                     np.dtype(np.int32): 6}.get(z.dtype)
        if dtype is None:
            raise Unsupported("zero point of type %s (only uint8, int8, int32)" % z.dtype)
        z = np.zeros(s.shape, np.int64) if z is None else z.astype(np.int64)
        if dtype == 6:
            if z.any():
                raise Unsupported("int32 zero point %s (only 0)" % z)
            return None, dtype
        axis = _attrs(node).get("axis", 1) if s.size > 1 else None
        qmin, qmax = _RANGES[dtype]
        return QParams(s, z, qmin, qmax, axis, rounding), dtype

    def op_QuantizeLinear(self, node, a):
        qp, dtype = self.qparams(node, "half_even_div")
        if qp is None:
            raise Unsupported("int32 QuantizeLinear")
        x = self.get(node.input[0])
        if isinstance(x, np.ndarray):
            x = x.astype(np.float32)
        elif not isinstance(x, Value):
            raise Unsupported("QuantizeLinear of %s" % type(x).__name__)
        if qp.axis is not None:
            rank = x.ndim if isinstance(x, np.ndarray) else len(x.logical)
            qp = qp.with_axis(qp.axis % rank)
        self.set(node, _Codes(x, qp, dtype, node.name or node.output[0]))

    def op_DequantizeLinear(self, node, a):
        qp, dtype = self.qparams(node, "half_even_div")
        q = self.get(node.input[0])
        if qp is None:  # int32: a bias, dequantized to its float value (in f32, as ONNX)
            q = self.const(node, 0, "int32 codes")
            scale = self.const(node, 1, "scale").astype(np.float32)
            self.set(node, (q.astype(np.float32) * scale).astype(np.float32))
            return
        if isinstance(q, _Codes):
            # The range is the codes' (a Clip between the two narrows it).
            same = QParams(qp.scale, qp.zero_point, q.qp.qmin, q.qp.qmax, q.qp.axis,
                           qp.rounding)
            if q.dtype != dtype or not same.same(q.qp):
                raise Unsupported("it dequantizes with other parameters than its "
                                  "QuantizeLinear (%s, quantized with %s)"
                                  % (qp.describe(), q.qp.describe()))
            if isinstance(q.src, np.ndarray):  # a quantized float constant: ONNX's codes
                self.set(node, _QWeight(_quantize(q.src, q.qp),
                                        QParams(q.qp.scale, q.qp.zero_point, q.qp.qmin,
                                                q.qp.qmax, q.qp.axis)))
                return
            self.set(node, self.fake_quant(q.node, q.src, q.qp))
            return
        if isinstance(q, np.ndarray) and q.dtype in (np.int8, np.uint8):
            if qp.axis is not None:
                qp = qp.with_axis(qp.axis % q.ndim)
            self.set(node, _QWeight(q, QParams(qp.scale, qp.zero_point, qp.qmin, qp.qmax,
                                               qp.axis)))
            return
        raise Unsupported("DequantizeLinear of %s" % (
            "a %s constant" % q.dtype if isinstance(q, np.ndarray) else type(q).__name__))

    def fake_quant(self, qname, x, qp):
        if qp.per_channel:
            raise Unsupported("per-channel quantization of an activation (axis %d)" % qp.axis)
        g = self.grid.get(x.name)
        if qp.same(g):
            return x  # already on this grid: the pair is the identity
        y = self.w.fake_quant(x, qp)
        self.grid[y.name] = qp
        self.quantizers.append((qname, "activation", qp))
        return y

    def requantize_slice(self, x, y):
        """A crop or channel slice of a quantized value, back on its grid (an
        identity on values) for the integer conversion."""
        qp = self.grid.get(x.name)
        if qp is None:
            return y
        out = self.w.fake_quant(y, qp)
        self.grid[out.name] = qp
        return out

    def weight(self, node, i, what):
        """(float weight, QParams or None) of input i."""
        v = self.get(node.input[i])
        if isinstance(v, _QWeight):
            return v, v.qp
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            return v.astype(np.float32), None
        raise Unsupported("%s ('%s') is not a constant (%s)" % (what, node.input[i],
                                                                type(v).__name__))

    # -- kernels -----------------------------------------------------------

    def affine_chain(self, node, channels, channel_axis, rank):
        """Per-channel y * a + c steps after a kernel's output: Div/Mul/Add/
        Sub by constants that broadcast per channel, and BatchNormalization
        with constant parameters, each the only user of the previous result.
        Returns (a, c, last node) or None when there is none."""
        a = np.ones(channels, np.float64)
        c = np.zeros(channels, np.float64)
        cur, last = node.output[0], None
        while True:
            users = self.users.get(cur, [])
            if len(users) != 1 or users[0] is None:
                break
            u = users[0]
            k = self._per_channel_step(u, cur, channels, channel_axis, rank)
            if k is None:
                break
            ka, kc = k
            a, c = a * ka, c * ka + kc
            self.skip.add(id(u))
            last, cur = u, u.output[0]
        return None if last is None else (a, c, last)

    def _per_channel_step(self, u, cur, channels, axis, rank):
        def per_channel(v, rank, axis=axis):
            if not isinstance(v, np.ndarray) or v.dtype.kind != "f":
                return None
            if v.size == 1:
                return np.full(channels, float(v.reshape(-1)[0]))
            if v.ndim > rank or v.size != channels:
                return None
            shape = (1,) * (rank - v.ndim) + v.shape
            if shape[axis] != channels:
                return None
            return v.reshape(-1).astype(np.float64)
        if u.op_type in ("Mul", "Div", "Add", "Sub") and len(u.input) == 2:
            if u.input[0] == cur and u.input[1] != cur:
                other = u.input[1]
            elif u.input[1] == cur and u.op_type in ("Mul", "Add"):  # commutative
                other = u.input[0]
            else:
                return None
            v = per_channel(self.env.get(other), rank)
            if v is None:
                return None
            if u.op_type == "Mul":
                return v, 0.0
            if u.op_type == "Div":
                return 1.0 / v, 0.0
            if u.op_type == "Add":
                return 1.0, v
            return 1.0, -v
        if u.op_type == "BatchNormalization" and u.input[0] == cur and axis == 1:
            ps = [per_channel(self.env.get(i), 1, 0) for i in u.input[1:5]]  # 1-D
            if any(p is None for p in ps) or len(u.output) > 1 and any(u.output[1:]):
                return None
            gamma, beta, mean, var = ps
            eps = _attrs(u).get("epsilon", 1e-5)
            f = gamma / np.sqrt(var + np.float64(np.float32(eps)))
            return f, beta - mean * f
        return None

    def fold(self, node, weight, wq, bias, channels, channel_axis, rank, weight_axis):
        """Folds the per-channel steps after a kernel into its weight (a
        weight quantizer's scales) and bias. Returns (weight, wq, bias)."""
        chain = self.affine_chain(node, channels, channel_axis, rank)
        if chain is None:
            return (weight.values() if isinstance(weight, _QWeight) else weight), wq, bias
        a, c, last = chain
        if np.all(np.abs(a - 1.0) <= _UNIT_TOLERANCE):
            a = np.ones_like(a)
        self.alias[last.output[0]] = node.output[0]
        b = np.zeros(channels, np.float64) if bias is None else bias.astype(np.float64)
        bias = (b * a + c).astype(np.float32)
        if np.all(a == 1.0):
            return (weight.values() if isinstance(weight, _QWeight) else weight), wq, bias
        if np.any(a <= 0):
            raise Unsupported("a non-positive per-channel factor (from '%s') cannot be folded "
                              "into the quantized weight" % last.name)
        shape = [1] * weight.codes.ndim if isinstance(weight, _QWeight) else [1] * weight.ndim
        shape[weight_axis] = channels
        if not isinstance(weight, _QWeight):
            return (weight * a.reshape(shape)).astype(np.float32), wq, bias
        if not wq.per_channel and not np.all(a == a[0]):
            raise Unsupported("per-channel factors (from '%s') cannot be folded into a "
                              "per-tensor weight quantizer" % last.name)
        scale = (wq.scale.astype(np.float64) * (a if wq.per_channel else a[:1])).astype(
            np.float32)
        nq = QParams(scale, wq.zero_point, wq.qmin, wq.qmax, wq.axis, wq.rounding)
        return _QWeight(weight.codes, nq).values(), nq, bias

    def record_weight(self, node, wq):
        if wq is not None:
            if wq.zero_point.any():
                raise Unsupported("weight zero points %s (the integer kernels take symmetric "
                                  "weights, zero point 0)" % np.unique(wq.zero_point))
            self.quantizers.append((node.name or node.output[0], "weight", wq))

    def op_Conv(self, node, a):
        x = self.tensor(node, 0)
        weight, wq = self.weight(node, 1, "weight")
        bias = self.const(node, 2, "bias", optional=True)
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise Unsupported("auto_pad=%s (only explicit pads)" % a["auto_pad"])
        shape = weight.codes.shape if isinstance(weight, _QWeight) else weight.shape
        if len(shape) != 4 or len(x.logical) != 4:
            raise Unsupported("only 2-D convolutions (4-D tensors)")
        cout = shape[0]
        if wq is not None and wq.per_channel and wq.axis != 0:
            raise Unsupported("weight quantized on axis %d (only the output channels, axis 0)"
                              % wq.axis)
        w, wq, bias = self.fold(node, weight, wq, bias, cout, 1, 4, 0)
        self.record_weight(node, wq)
        kh, kw = shape[2:]
        sh, sw = a.get("strides", [1, 1])
        dh, dw = a.get("dilations", [1, 1])
        pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
        n, _, h, wd = x.logical
        oh = (h + pt + pb - dh * (kh - 1) - 1) // sh + 1
        ow = (wd + pl + pr - dw * (kw - 1) - 1) // sw + 1
        y = self.w.conv2d(x, w, bias, (sh, sw), (pt, pb, pl, pr), (dh, dw), a.get("group", 1),
                          (oh, ow), wq=wq)
        self.set(node, y)

    def _linear(self, node, x, weight, wq, bias):
        """x W^T + b with W (out, in); wq's axis counted on W."""
        out = (weight.codes if isinstance(weight, _QWeight) else weight).shape[0]
        rank = len(x.logical)
        w, wq, bias = self.fold(node, weight, wq, bias, out, rank - 1, rank, 0)
        self.record_weight(node, wq)
        self.set(node, self.w.linear(x, w, bias, wq))

    def _transposed(self, weight, wq):
        """(B^T, its QParams) for a (K, N) weight: W = (N, K)."""
        if isinstance(weight, _QWeight):
            qp = weight.qp
            if qp.per_channel:
                if qp.axis != 1:
                    raise Unsupported("weight quantized on axis %d (only the output features)"
                                      % qp.axis)
                qp = qp.with_axis(0)
            return _QWeight(weight.codes.T, qp), qp
        return np.ascontiguousarray(weight.T), wq

    def op_Gemm(self, node, a):
        if a.get("alpha", 1.0) != 1.0 or a.get("beta", 1.0) != 1.0 or a.get("transA", 0):
            raise Unsupported("alpha=%s, beta=%s, transA=%s (only 1, 1, 0)"
                              % (a.get("alpha", 1.0), a.get("beta", 1.0), a.get("transA", 0)))
        x = self.tensor(node, 0)
        if len(x.logical) != 2:
            raise Unsupported("input of rank %d (Gemm takes 2-D)" % len(x.logical))
        weight, wq = self.weight(node, 1, "weight")
        if a.get("transB", 0):
            if wq is not None and wq.per_channel and wq.axis != 0:
                raise Unsupported("weight quantized on axis %d (only the output features)"
                                  % wq.axis)
        else:
            weight, wq = self._transposed(weight, wq)
        bias = self.const(node, 2, "bias", optional=True)
        out = (weight.codes if isinstance(weight, _QWeight) else weight).shape[0]
        if bias is not None:
            if bias.size not in (1, out):
                raise Unsupported("bias of shape %s" % (bias.shape,))
            bias = np.broadcast_to(bias.reshape(-1), (out,)).astype(np.float32)
        self._linear(node, x, weight, wq, bias)

    def op_MatMul(self, node, a):
        x = self.tensor(node, 0)
        v = self.get(node.input[1])
        if isinstance(v, Value):
            raise Unsupported("a product of two tensors (only by a constant weight)")
        weight, wq = self.weight(node, 1, "weight")
        shape = weight.codes.shape if isinstance(weight, _QWeight) else weight.shape
        if len(shape) != 2:
            raise Unsupported("weight of rank %d (only 2-D)" % len(shape))
        weight, wq = self._transposed(weight, wq)
        self._linear(node, x, weight, wq, None)

    # -- activations and pools ---------------------------------------------

    def _on_grid(self, x, y):
        """y computes x's codes rearranged: same grid."""
        if x.name in self.grid:
            self.grid[y.name] = self.grid[x.name]
        return y

    def op_Relu(self, node, a):
        self.set(node, self.w.clamp(self.tensor(node), 0.0, None))

    def op_Clip(self, node, a):
        lo, hi = a.get("min"), a.get("max")
        if self.opset >= 11:
            lo = self.const(node, 1, "min", optional=True)
            hi = self.const(node, 2, "max", optional=True)
            lo = None if lo is None else float(lo)
            hi = None if hi is None else float(hi)
        v = self.get(node.input[0])
        if isinstance(v, _Codes):
            # A clip of codes narrows their range (torch.onnx writes PyTorch's
            # reduce_range and other custom ranges this way).
            qp = v.qp
            nmin = qp.qmin if lo is None else max(qp.qmin, int(np.ceil(lo)))
            nmax = qp.qmax if hi is None else min(qp.qmax, int(np.floor(hi)))
            try:
                nq = QParams(qp.scale, qp.zero_point, nmin, nmax, qp.axis, qp.rounding)
            except Unsupported as e:
                raise Unsupported("clip of codes to [%s, %s]: %s" % (lo, hi, e)) from None
            self.set(node, _Codes(v.src, nq, v.dtype, v.node))
            return
        self.set(node, self.w.clamp(self.tensor(node), lo, hi))

    def _pool(self, node, a, kind):
        x = self.tensor(node)
        if len(x.logical) != 4:
            raise Unsupported("pooling of a tensor of shape %s" % (x.logical,))
        if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise Unsupported("auto_pad=%s (only explicit pads)" % a["auto_pad"])
        if any(d != 1 for d in a.get("dilations", [1, 1])):
            raise Unsupported("dilations=%s" % a["dilations"])
        if a.get("storage_order", 0) or len(node.output) > 1 and node.output[1]:
            raise Unsupported("indices output or storage_order")
        kh, kw = a["kernel_shape"]
        sh, sw = a.get("strides", [1, 1])
        pt, pl, pb, pr = a.get("pads", [0, 0, 0, 0])
        ceil = a.get("ceil_mode", 0)
        _, _, h, wd = x.logical

        def out(size, k, s, lo, hi):
            num = size + lo + hi - k
            o = (-(-num // s) if ceil else num // s) + 1
            if ceil and (o - 1) * s >= size + lo:
                o -= 1  # the last window must start inside the input or left pad
            return o
        oh, ow = out(h, kh, sh, pt, pb), out(wd, kw, sw, pl, pr)
        y = self.w.pool2d(kind, x, (kh, kw), (sh, sw), (pt, pb, pl, pr), (oh, ow),
                          count_include_pad=bool(a.get("count_include_pad", 0)))
        self.set(node, self._on_grid(x, y) if kind == "max" else y)

    def op_MaxPool(self, node, a):
        self._pool(node, a, "max")

    def op_AveragePool(self, node, a):
        self._pool(node, a, "avg")

    def op_Pad(self, node, a):
        mode = a.get("mode", b"constant")
        pads = a.get("pads")
        value = a.get("value", 0.0)
        if self.opset >= 11:
            pads = self.const(node, 1, "pads")
            v = self.const(node, 2, "constant value", optional=True)
            value = 0.0 if v is None else float(v.reshape(-1)[0])
        pads = [int(p) for p in pads]
        x = self.tensor(node)
        rank = len(x.logical)
        if not any(pads):
            self.set(node, x)
            return
        if mode not in (b"constant", "constant") or value != 0.0 or rank != 4 or any(
                pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
            raise Unsupported("pads %s, mode %s, value %s (only zero padding of H and W)"
                              % (pads, mode, value))
        # pads: [n, c, h, w begin, n, c, h, w end]
        self.set(node, self.w._zero_pad(self.w.to_nhwc(x), pads[2], pads[6], pads[3], pads[7]))

    def op_GlobalAveragePool(self, node, a):
        x = self.tensor(node)
        self.set(node, self.w.adaptive_avg_pool2d(x, (1, 1)))

    def op_Flatten(self, node, a):
        x = self.tensor(node)
        shape = x.logical
        axis = a.get("axis", 1) % (len(shape) + 1) if shape else 0
        new = (int(np.prod(shape[:axis])), int(np.prod(shape[axis:])))
        self.set(node, self._on_grid(x, self.w.reshape_logical(x, new)))

    def op_Reshape(self, node, a):
        v = self.get(node.input[0])
        target = [int(d) for d in self.const(node, 1, "shape")]
        if isinstance(v, np.ndarray):
            self.set(node, v.reshape([v.shape[i] if d == 0 else d
                                      for i, d in enumerate(target)]))
            return
        x = self.tensor(node)
        shape = list(x.logical)
        new = [shape[i] if d == 0 and not a.get("allowzero", 0) else d
               for i, d in enumerate(target)]
        if -1 in new:
            known = int(np.prod([d for d in new if d != -1]))
            new[new.index(-1)] = int(np.prod(shape)) // max(known, 1)
        if int(np.prod(new)) != int(np.prod(shape)):
            raise Unsupported("shape %s for a tensor of shape %s" % (target, shape))
        self.set(node, self._on_grid(x, self.w.reshape_logical(x, tuple(new))))

    def op_Concat(self, node, a):
        vals = [self.get(i) for i in node.input]
        if all(isinstance(v, np.ndarray) for v in vals):
            self.set(node, np.concatenate(vals, a["axis"]))
            return
        xs = [self.operand(node, i) for i in range(len(node.input))]
        xs = [self.w.const(v) if isinstance(v, np.ndarray) else v for v in xs]
        self.set(node, self.w.cat(xs, a["axis"]))

    def op_BatchNormalization(self, node, a):
        if a.get("training_mode", 0) or len(node.output) > 1 and any(node.output[1:]):
            raise Unsupported("training mode")
        x = self.tensor(node)
        gamma, beta, mean, var = (self.const(node, i, n) for i, n in
                                  ((1, "scale"), (2, "B"), (3, "mean"), (4, "var")))
        self.set(node, self.w.batch_norm(x, mean, var, a.get("epsilon", 1e-5), gamma, beta))

    def _binary(self, node, op):
        vals = [self.get(i) for i in node.input]
        if all(isinstance(v, np.ndarray) for v in vals):
            fn = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}[op]
            self.set(node, fn(*vals))
            return
        a, b = self.operand(node, 0), self.operand(node, 1)
        if op == "div":
            if not isinstance(b, np.ndarray):
                raise Unsupported("division by a tensor (only by a constant)")
            op, b = "mul", (np.float32(1.0) / b).astype(np.float32)
        rank = max(len(v.logical) for v in (a, b) if isinstance(v, Value))
        a, b = (self._const_operand(v, rank) if isinstance(v, np.ndarray) else v for v in (a, b))
        self.set(node, self.w.binary(op, a, b))

    def _const_operand(self, arr, rank):
        if arr.size == 1:
            return float(arr.reshape(-1)[0])
        arr = arr.reshape((1,) * (rank - arr.ndim) + arr.shape)
        if rank == 4:
            return self.w.constant_like(arr, 4, True)
        return self.w.const(arr)

    def op_Add(self, node, a):
        self._binary(node, "add")

    def op_Sub(self, node, a):
        self._binary(node, "sub")

    def op_Mul(self, node, a):
        self._binary(node, "mul")

    def op_Div(self, node, a):
        self._binary(node, "div")

    def target(self):
        acts = [(n, q) for n, r, q in self.quantizers if r == "activation"]
        weights = [(n, q) for n, r, q in self.quantizers if r == "weight"]
        suffix = []
        mods = {_ACT_RANGES.get((q.qmin, q.qmax), None) for _, q in acts}
        for n, q in acts:
            if (q.qmin, q.qmax) not in _ACT_RANGES:
                raise Unsupported(
                    "QuantizeLinear '%s' has range [%d, %d] (%s): no built-in "
                    "target takes it (x86: uint8 activations); pass target= to name a target "
                    "description of your own" % (n, q.qmin, q.qmax,
                                                 "int8" if q.qmin < 0 else "uint8"))
        suffix += sorted(m for m in mods if m)
        grans = {q.per_channel for _, q in weights}
        for n, q in weights:
            if (q.qmin, q.qmax) not in _WEIGHT_RANGES:
                raise Unsupported(
                    "the weight of %s '%s' has range [%d, %d]: no built-in target takes it "
                    "(x86: int8 weights)" % ("node", n, q.qmin, q.qmax))
        wmods = {_WEIGHT_RANGES[(q.qmin, q.qmax)] for _, q in weights}
        if len(wmods) > 1:
            raise Unsupported("weights with different ranges in one model: a target has one "
                              "weight range")
        suffix += sorted(m for m in wmods if m)
        if grans == {False}:
            suffix.append(":per-tensor")
        return "x86" + "".join(suffix)


def _quantize(x, qp):
    """ONNX QuantizeLinear of a constant: saturate(roundeven(x / s) + z)."""
    s, z = qp.scale, qp.zero_point
    if qp.per_channel:
        shape = [1] * x.ndim
        shape[qp.axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    q = np.rint(np.asarray(x, np.float32) / s.astype(np.float32)) + z
    return np.clip(q, qp.qmin, qp.qmax).astype(np.int64)


def import_onnx(model, name="main", target=None):
    """MLIR text of an ONNX model (a ModelProto, its serialized bytes or a
    file path): a `func.func @name` over TOSA ops, inside `module attributes
    {qat.target = ...}` with constant qat.fake_quant ops when the model has
    QuantizeLinear/DequantizeLinear pairs (ready for qat_mlir.convert), or
    a plain float function otherwise (ready for qat_mlir.prepare).

    target: None picks the built-in target matching the quantizers (x86 and
    its modifiers); a target name or JSON file is recorded as given.
    Raises ExportError naming the node and op type it cannot import.
    """
    import re

    import onnx
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w$.]*", name):
        raise ExportError("name=%r is not a valid MLIR symbol name" % (name,))
    from google.protobuf.message import DecodeError
    try:
        if isinstance(model, (str, os.PathLike)):
            what = "'%s'" % os.fspath(model)
            model = onnx.load(os.fspath(model))
        elif isinstance(model, (bytes, bytearray)):
            what = "the %d bytes given" % len(model)
            model = onnx.load_from_string(bytes(model))
    except (OSError, DecodeError, ValueError) as e:
        raise ExportError("cannot read an ONNX model from %s: %s" % (what, e)) from None
    if not isinstance(model, onnx.ModelProto):
        raise ExportError("import_onnx takes an onnx.ModelProto, bytes or a path, got %s"
                          % type(model).__name__)
    if not model.graph.output:
        raise ExportError("the ONNX model has no graph outputs (an empty or non-ONNX input?)")
    imp = _Importer(model, name)
    text = imp.run()
    if not imp.quantizers:
        return text
    if target is None:
        try:
            target = imp.target()
        except Unsupported as e:
            raise ExportError("cannot import the model: %s" % e) from None
    body = "\n".join("  " + line if line else line for line in text.splitlines())
    return 'module attributes {qat.target = "%s"} {\n%s\n}\n' % (target, body)
