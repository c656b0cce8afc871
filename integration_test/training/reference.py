"""The PyTorch 1.13 reference of a trainable qat-mlir model.

`Reference(mlir_text)` reads a module after qat-make-trainable (printed in
generic form) and runs its forward function with PyTorch's own kernels and
autograd: tosa.conv2d as F.conv2d, tosa.max_pool2d as F.max_pool2d,
qat.fake_quant as torch.fake_quantize_per_{tensor,channel}_affine (the
cached-mask backward of PyTorch's FakeQuantize), qat.lsq as
torch._fake_quantize_learnable_per_{tensor,channel}_affine, qat.observer as
PyTorch's MinMaxObserver / MovingAverageMinMaxObserver (per tensor or per
channel) and qat.choose_qparams as their calculate_qparams(), the
ConvBn2d simulation ops as torch.nn.intrinsic.qat.ConvBn2d's formulas
(F.batch_norm in training mode), and the loss as F.cross_entropy. Only the
graph (where the quantizers are) comes from the module: each quantizer is
PyTorch's at the place qat-mlir's target put it. Parameters are leaf
tensors with requires_grad, so `loss.backward()` gives PyTorch's gradients.

Layouts stay TOSA's (NHWC activations, OHWI / HWCM weights); a convolution
permutes to NCHW for F.conv2d and back, which changes no value.
"""
import re

import numpy as np
import torch
import torch.nn.functional as F
from torch.ao.quantization import observer as tobs

F32_MAX = float(np.finfo(np.float32).max)


# --------------------------------------------------------------------------
# Parsing the generic form


def split_top(s, sep=","):
    """Splits at `sep` outside brackets and quotes."""
    out, depth, cur, quote = [], 0, [], False
    for ch in s:
        if ch == '"':
            quote = not quote
        elif not quote:
            if ch in "<([{":
                depth += 1
            elif ch in ">)]}":
                depth -= 1
            elif ch == sep and depth == 0:
                out.append("".join(cur).strip())
                cur = []
                continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


DTYPES = {"f32": np.float32, "f64": np.float64, "i1": np.bool_, "i8": np.int8,
          "i32": np.int32, "i64": np.int64, "index": np.int64, "ui8": np.uint8}


def parse_type(t):
    """tensor<2x3xf32> -> ((2, 3), np.float32); !tosa.shape<N> -> ('shape', N)."""
    t = t.strip()
    m = re.fullmatch(r"tensor<((?:\d+x)*)(\w+)>", t)
    if m:
        dims = tuple(int(p) for p in m.group(1).split("x") if p)
        return dims, DTYPES[m.group(2)]
    m = re.fullmatch(r"!tosa\.shape<(\d+)>", t)
    if m:
        return ("shape", int(m.group(1)))
    return t


def parse_dense(body, ttype):
    shape, dtype = parse_type(ttype)
    body = body.strip()
    if body.startswith('"0x'):
        raw = bytes.fromhex(body[3:-1])
        if dtype == np.bool_:
            arr = np.frombuffer(raw, np.uint8).astype(np.bool_)
        else:
            arr = np.frombuffer(raw, dtype)
        n = int(np.prod(shape)) if shape else 1
        if arr.size == 1 and n != 1:
            arr = np.full(n, arr[0], dtype)
        return arr.reshape(shape).copy()
    if body.startswith("0x"):
        bits = int(body, 16)
        size = np.dtype(dtype).itemsize
        v = np.frombuffer(bits.to_bytes(size, "little"), dtype)[0]
        return np.full(shape, v, dtype)
    if not body:
        return np.zeros(shape, dtype)
    if body in ("true", "false"):
        return np.full(shape, body == "true", np.bool_)
    vals = np.array(eval(body.replace("true", "True").replace("false", "False")))
    return np.broadcast_to(vals.astype(dtype), shape).copy()


def parse_attr(v):
    v = v.strip()
    m = re.fullmatch(r"dense<(.*)>\s*:\s*(.*)", v, re.S)
    if m:
        return parse_dense(m.group(1), m.group(2))
    m = re.fullmatch(r"array<i\d+(?::\s*(.*))?>", v)
    if m:
        return [int(x) for x in m.group(1).split(",")] if m.group(1) else []
    m = re.fullmatch(r"#[\w.]+<(\w+)>", v)
    if m:
        return m.group(1)
    m = re.fullmatch(r"(-?[\d.eE+-]+|0x[0-9A-Fa-f]+)\s*:\s*(\w+)", v)
    if m:
        num, ty = m.groups()
        if ty.startswith("f"):
            if num.startswith("0x"):
                return float(np.frombuffer(int(num, 16).to_bytes(4 if ty == "f32" else 8,
                                                                  "little"),
                                           np.float32 if ty == "f32" else np.float64)[0])
            return float(num)
        return int(num)
    if v in ("true", "false"):
        return v == "true"
    if v.startswith("@"):
        return v[1:]
    if v.startswith("["):
        return [parse_attr(x) for x in split_top(v[1:-1])]
    if v.startswith('"'):
        return v[1:-1]
    return v


def parse_attr_dict(s):
    attrs = {}
    if not s:
        return attrs
    for item in split_top(s):
        if "=" in item:
            k, v = item.split("=", 1)
            attrs[k.strip()] = parse_attr(v)
        else:
            attrs[item.strip()] = True
    return attrs


OP_RE = re.compile(r'^\s*(?:(%[\w#]+)(?::(\d+))? = )?"([\w.]+)"\((.*?)\)\s*(<\{.*?\}>)?\s*'
                   r'(\{.*?\})?\s*:\s*\((.*?)\)\s*->\s*(.*)$')


class Op:
    def __init__(self, line):
        m = OP_RE.match(line)
        if not m:
            raise ValueError("cannot parse: " + line[:200])
        res, nres, self.name, operands, props, attrs, self.in_types, out = m.groups()
        self.results = []
        if res:
            n = int(nres) if nres else 1
            self.results = [res] if n == 1 else ["%s#%d" % (res, i) for i in range(n)]
        self.operands = [o.strip() for o in operands.split(",") if o.strip()]
        self.attrs = parse_attr_dict(props[2:-2] if props else "")
        self.attrs.update(parse_attr_dict(attrs[1:-1] if attrs else ""))
        out = out.strip()
        if out.startswith("("):
            out = out[1:-1]
        self.out_types = [parse_type(t) for t in split_top(out)] if out else []


class Module:
    """Globals and functions of a module printed with --mlir-print-op-generic
    --mlir-print-elementsattrs-with-hex-if-larger=0."""

    def __init__(self, text):
        self.globals, self.global_attrs, self.funcs = {}, {}, {}
        lines = text.splitlines()
        i = 0
        while i < len(lines):
            line = lines[i]
            if '"ml_program.global"' in line:
                op = Op(line)
                self.globals[op.attrs["sym_name"]] = op.attrs.get("value")
                self.global_attrs[op.attrs["sym_name"]] = op.attrs
            elif '"func.func"' in line:
                name = re.search(r'sym_name = "([^"]+)"', line).group(1)
                args = re.findall(r"(%[\w]+): ([^,)]+(?:<[^>]*>)?)", lines[i + 1])
                body = []
                i += 2
                while not lines[i].strip().startswith("})"):
                    body.append(Op(lines[i]))
                    i += 1
                self.funcs[name] = ([a for a, _ in args], body)
            i += 1

    def parameters(self):
        return [n for n, a in self.global_attrs.items() if "qat.parameter" in a]


# --------------------------------------------------------------------------
# Execution


def nchw(x):
    return x.permute(0, 3, 1, 2)


def nhwc(x):
    return x.permute(0, 2, 3, 1)


def observer_for(kind, axis, c):
    if axis is None:
        if kind == "moving_average":
            return tobs.MovingAverageMinMaxObserver(averaging_constant=c)
        return tobs.MinMaxObserver()
    if kind == "moving_average":
        return tobs.MovingAveragePerChannelMinMaxObserver(ch_axis=axis, averaging_constant=c)
    return tobs.PerChannelMinMaxObserver(ch_axis=axis)


def calculate_qparams(lo, hi, a):
    qmin, qmax = a["quant_min"], a["quant_max"]
    symmetric = a.get("qscheme", "affine") == "symmetric"
    per_channel = lo.dim() == 1
    dtype = torch.quint8 if qmin >= 0 else torch.qint8
    if per_channel:
        scheme = torch.per_channel_symmetric if symmetric else torch.per_channel_affine
        o = tobs.PerChannelMinMaxObserver(ch_axis=0, dtype=dtype, qscheme=scheme,
                                          quant_min=qmin, quant_max=qmax,
                                          reduce_range=a.get("reduce_range", False),
                                          eps=a.get("eps", float(np.finfo(np.float32).eps)))
    else:
        scheme = torch.per_tensor_symmetric if symmetric else torch.per_tensor_affine
        o = tobs.MinMaxObserver(dtype=dtype, qscheme=scheme, quant_min=qmin, quant_max=qmax,
                                reduce_range=a.get("reduce_range", False),
                                eps=a.get("eps", float(np.finfo(np.float32).eps)))
    if a.get("power_of_two"):
        raise NotImplementedError("power-of-two scales have no PyTorch reference")
    o.min_val, o.max_val = lo.detach().clone(), hi.detach().clone()
    s, z = o.calculate_qparams()
    return s.to(torch.float32), z.to(torch.int32)


class Reference:
    def __init__(self, text, entry="main"):
        self.module = Module(text)
        self.entry = entry
        self.state = {k: torch.tensor(np.asarray(v)) for k, v in self.module.globals.items()
                      if v is not None}
        self.params = {k: self.state[k].clone().requires_grad_(True)
                       for k in self.module.parameters()}
        self.bn_frozen = False
        self.fake_quant_inputs = []

    def forward(self, *inputs, observe=True):
        """Runs the entry function; returns its results. `observe=False`
        keeps every observer's range (PyTorch's disable_observer)."""
        args, body = self.module.funcs[self.entry]
        env = dict(zip(args, inputs))
        self.fake_quant_inputs = []
        # Provenance: which observers a value comes from, which global a
        # load reads; the observers and quantizers in program order.
        origin, loaded, defs = {}, {}, {}
        self.observers, self.quantizers = [], []
        for op in body:
            if op.name == "func.return":
                return [env[o] for o in op.operands]
            outs = self.run(op, [env[o] for o in op.operands], observe)
            for r, v in zip(op.results, outs):
                env[r] = v
                defs[r] = op
            if op.name == "ml_program.global_load":
                loaded[op.results[0]] = op.attrs["global"]
            if op.name == "qat.observer":
                wr = op.attrs.get("qat.weight_range")
                states = wr if wr else [loaded.get(op.operands[1]), loaded.get(op.operands[2])]
                init = [env[op.operands[1]].detach().clone(), env[op.operands[2]].detach().clone()]
                self.observers.append({"input": op.operands[0], "states": states,
                                       "init": init, "attrs": op.attrs,
                                       "x": env[op.operands[0]].detach().clone()})
                for r in op.results:
                    origin[r] = {len(self.observers) - 1}
            elif op.name in ("qat.fake_quant", "qat.lsq"):
                self.quantizers.append({"input": op.operands[0], "attrs": op.attrs,
                                        "name": op.name,
                                        "observers": sorted(origin.get(op.operands[1], ())),
                                        "choose": defs[op.operands[1]].attrs
                                        if defs[op.operands[1]].name == "qat.choose_qparams"
                                        else None,
                                        "x": env[op.operands[0]].detach().clone(),
                                        "s": env[op.operands[1]], "z": env[op.operands[2]]})
            elif op.results:
                src = set()
                for o in op.operands:
                    src |= origin.get(o, set())
                if src:
                    for r in op.results:
                        origin[r] = src
        raise ValueError("no return")

    def run(self, op, x, observe):
        a, n = op.attrs, op.name
        if n in ("tosa.const", "arith.constant"):
            v = a.get("values", a.get("value"))
            return [torch.tensor(np.asarray(v))]
        if n == "tosa.const_shape":
            return [[int(d) for d in np.asarray(a["values"]).ravel()]]
        if n == "ml_program.global_load":
            g = a["global"]
            return [self.params[g] if g in self.params else self.state[g]]
        if n == "ml_program.global_store":
            if a["global"] not in self.params:
                self.state[a["global"]] = x[0].detach().clone()
            return []
        if n == "qat.observer":
            inp, lo, hi = x
            weight_range = a.get("qat.weight_range")
            if not observe:
                if weight_range:
                    return [self.state[weight_range[0]], self.state[weight_range[1]]]
                return [lo, hi]
            o = observer_for(a.get("kind", "min_max"), a.get("axis"),
                             a.get("averaging_constant", 0.01))
            o.min_val, o.max_val = lo.detach().clone(), hi.detach().clone()
            o(inp.detach())
            if weight_range:
                self.state[weight_range[0]] = o.min_val.clone()
                self.state[weight_range[1]] = o.max_val.clone()
            return [o.min_val.clone(), o.max_val.clone()]
        if n == "qat.choose_qparams":
            return list(calculate_qparams(x[0], x[1], a))
        if n == "qat.fake_quant":
            if a.get("rounding", "half_even") != "half_even":
                raise NotImplementedError("rounding " + a["rounding"])
            inp, s, z = x
            self.fake_quant_inputs.append((inp.detach().clone(), s, z, a))
            if "axis" in a:
                return [torch.fake_quantize_per_channel_affine(
                    inp, s, z, a["axis"], a["quant_min"], a["quant_max"])]
            return [torch.fake_quantize_per_tensor_affine(
                inp, s.reshape(()), z.reshape(()), a["quant_min"], a["quant_max"])]
        if n == "qat.lsq":
            inp, s, z = x
            g = a.get("grad_factor", 1.0)
            s = torch.clamp(s, min=float(np.finfo(np.float32).eps))
            if "axis" in a:
                return [torch._fake_quantize_learnable_per_channel_affine(
                    inp, s, z, a["axis"], a["quant_min"], a["quant_max"], g)]
            return [torch._fake_quantize_learnable_per_tensor_affine(
                inp, s.reshape(1), z.reshape(1), a["quant_min"], a["quant_max"], g)]
        if n == "arith.select":
            return [x[1] if bool(x[0]) else x[2]]
        if n == "arith.minimumf":
            return [torch.minimum(x[0], x[1])]
        if n == "arith.maximumf":
            return [torch.maximum(x[0], x[1])]
        if n == "tosa.conv2d":
            inp, w, b = x[0], x[1], x[2]
            return [nhwc(self.conv(nchw(inp), w.permute(0, 3, 1, 2), b, a, 1))]
        if n == "tosa.depthwise_conv2d":
            inp, w, b = x[0], x[1], x[2]
            kh, kw, c, m = w.shape
            wt = w.permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw)
            return [nhwc(self.conv(nchw(inp), wt, b, a, c))]
        if n == "tosa.matmul":
            return [torch.bmm(x[0], x[1])]
        if n == "tosa.add":
            return [x[0] + x[1]]
        if n == "tosa.sub":
            return [x[0] - x[1]]
        if n == "tosa.mul":
            return [x[0] * x[1]]
        if n == "tosa.rsqrt":
            return [torch.rsqrt(x[0])]
        if n == "tosa.reciprocal":
            return [torch.reciprocal(x[0])]
        if n == "arith.divf":
            return [x[0] / x[1]]
        if n == "arith.mulf":
            return [x[0] * x[1]]
        if n == "arith.negf":
            return [-x[0]]
        if n == "math.sqrt":
            return [torch.sqrt(x[0])]
        if n == "tosa.clamp":
            lo, hi = a["min_val"], a["max_val"]
            if lo == 0.0 and hi >= F32_MAX:
                return [F.relu(x[0])]
            return [F.hardtanh(x[0], lo, hi)]
        if n == "tosa.max_pool2d":
            return [nhwc(self.pool(F.max_pool2d, nchw(x[0]), a, float("-inf")))]
        if n == "tosa.avg_pool2d":
            t, b, l, r = a["pad"]
            if t != b or l != r:
                raise NotImplementedError("asymmetric average pool padding")
            return [nhwc(F.avg_pool2d(nchw(x[0]), a["kernel"], a["stride"], (t, l),
                                      count_include_pad=False))]
        if n == "tosa.reshape":
            return [x[0].reshape(x[1])]
        if n == "tosa.transpose":
            return [x[0].permute(a["perms"])]
        if n == "tosa.slice":
            idx = tuple(slice(s, s + k) for s, k in zip(x[1], x[2]))
            return [x[0][idx]]
        if n == "tosa.concat":
            return [torch.cat(x, a["axis"])]
        if n == "tosa.pad":
            p = x[1]
            flat = []
            for i in reversed(range(len(p) // 2)):
                flat += [p[2 * i], p[2 * i + 1]]
            return [F.pad(x[0], flat, value=float(x[2].reshape(-1)[0]))]
        if n == "qat.batch_norm_train":
            # PyTorch's own kernel on a channels-last view (the NHWC data):
            # training mode; the unbiased variance as a running variance
            # updated from 0 with momentum 1.
            inp, g, b = x
            v = inp.contiguous().permute(0, 3, 1, 2)
            rm, rv = torch.zeros_like(g.detach()), torch.zeros_like(g.detach())
            out, mean, invstd = torch.native_batch_norm(v, g, b, rm, rv, True, 1.0,
                                                        a.get("epsilon", 1e-5))
            return [out.permute(0, 2, 3, 1), mean.detach(), invstd.detach(), rv]
        if n == "tosa.reduce_sum":
            return [x[0].sum(a["axis"], keepdim=True)]
        raise NotImplementedError(n)

    def conv(self, x, w, b, a, groups):
        t, bo, l, r = a["pad"]
        x = F.pad(x, (l, r, t, bo))
        return F.conv2d(x, w, b, a["stride"], 0, a["dilation"], groups)

    def pool(self, fn, x, a, fill):
        t, b, l, r = a["pad"]
        if t == b and l == r:
            return fn(x, a["kernel"], a["stride"], (t, l))
        return fn(F.pad(x, (l, r, t, b), value=fill), a["kernel"], a["stride"])

    def gradients(self):
        return {k: (p.grad.clone() if p.grad is not None else torch.zeros_like(p))
                for k, p in self.params.items()}


def observe(attrs, init, x):
    """PyTorch's observer of `attrs` from state `init` on `x`: (min, max)."""
    o = observer_for(attrs.get("kind", "min_max"), attrs.get("axis"),
                     attrs.get("averaging_constant", 0.01))
    o.min_val, o.max_val = init[0].clone(), init[1].clone()
    o(torch.as_tensor(x))
    return o.min_val.clone(), o.max_val.clone()


def pytorch_mask(name, attrs, x, s, z):
    """The input gradient of PyTorch's fake quantization for a gradient of
    ones (its clip mask as PyTorch's backward computes it)."""
    x = torch.tensor(np.asarray(x), requires_grad=True)
    s, z = torch.as_tensor(s), torch.as_tensor(z)
    if name == "qat.lsq":
        g = attrs.get("grad_factor", 1.0)
        s = torch.clamp(s.detach(), min=float(np.finfo(np.float32).eps))
        if "axis" in attrs:
            y = torch._fake_quantize_learnable_per_channel_affine(
                x, s, z.detach(), attrs["axis"], attrs["quant_min"], attrs["quant_max"], g)
        else:
            y = torch._fake_quantize_learnable_per_tensor_affine(
                x, s.reshape(1), z.detach().reshape(1), attrs["quant_min"],
                attrs["quant_max"], g)
    elif "axis" in attrs:
        y = torch.fake_quantize_per_channel_affine(x, s, z, attrs["axis"], attrs["quant_min"],
                                                   attrs["quant_max"])
    else:
        y = torch.fake_quantize_per_tensor_affine(x, s.reshape(()), z.reshape(()),
                                                  attrs["quant_min"], attrs["quant_max"])
    y.backward(torch.ones_like(y))
    return x.grad.numpy()


def quantizer_masks(fake_quant_inputs):
    """The clip mask of every fake quantizer (PyTorch's formula: the code
    before the clamp within the range) from recorded inputs."""
    masks = []
    for inp, s, z, a in fake_quant_inputs:
        x = inp.to(torch.float32)
        if "axis" in a:
            shape = [1] * x.dim()
            shape[a["axis"]] = -1
            s, z = s.reshape(shape), z.reshape(shape)
        inv = 1.0 / s
        t = torch.round(x * inv) + z
        masks.append(((t >= a["quant_min"]) & (t <= a["quant_max"])).numpy())
    return masks
