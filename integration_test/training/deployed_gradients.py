# REQUIRES: numpy, torch, torchvision, fashion-mnist
# RUN: %python %s
#
# The gradients of numerics=deployed (docs/Deployed.md) against finite
# differences of the STE-relaxed forward, on the three test blocks of
# gradient_parity.py (the Fashion-MNIST CNN with a real batch of 32 and the
# cross-entropy loss; a ResNet basic block with a strided downsample and a
# MobileNetV2 inverted residual, batch 4, MSE), x86 and bpu, calibrated,
# frozen, made trainable.
#
# An independent interpreter of the deployed forward (the generic IR of
# @<entry>) runs it three ways:
#  - exactly, in NumPy f32 / int64 after each op's ODS formula: it must give
#    @<entry>'s output bit for bit, and so the codes at which the relaxation
#    is taken;
#  - relaxed, in float64 torch with the parameters as leaves: every rounding
#    `round(v)` is `v + (code0 - v0)` with code0 and v0 its exact code and
#    f64 value at the evaluated point, every clamp the branch it took there,
#    every max pool the element it chose (the first maximum); autograd of
#    that relaxed loss is the reference gradient;
#  - the relaxed loss at parameters moved by +-h along single coordinates:
#    central finite differences, which must agree with autograd.
# Checks: our @<entry>_gradients (f32) within 1e-4 of the relaxed autograd
# (max |diff| / max |ref| per parameter) and the finite differences within
# 1e-6 relative of it on 8 coordinates per parameter (the largest gradient
# entries and random ones).
import os
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deployed_common as dc  # noqa: E402
from reference import Module  # noqa: E402
import gradient_parity as gp  # noqa: E402

torch.set_num_threads(1)
F32 = np.float32


def relu_mask(inside, z, qmin, unrounded):
    """The clamp mask of a requantization: the code in range, and at a fused
    ReLU (quant_min equal to the output zero point, the code of 0.0) also
    the unrounded value above 0 (ReLU's mask; docs/Deployed.md)."""
    return inside & ((np.asarray(z) != qmin) | (unrounded > 0))


def bcast(p, axis, rank):
    """A per-axis parameter shaped to broadcast along `axis`."""
    p = np.asarray(p)
    if p.ndim == 0 or axis is None:
        return p.reshape(())
    shape = [1] * rank
    shape[axis] = p.size
    return p.reshape(shape)


def tbcast(p, axis, rank):
    if p.dim() == 0 or axis is None:
        return p.reshape(())
    shape = [1] * rank
    shape[axis] = p.numel()
    return p.reshape(shape)


def nchw(x):
    return x.permute(0, 3, 1, 2) if torch.is_tensor(x) else np.transpose(x, (0, 3, 1, 2))


def nhwc(x):
    return x.permute(0, 2, 3, 1) if torch.is_tensor(x) else np.transpose(x, (0, 2, 3, 1))


def conv64(x, w, b, a, kind):
    """TOSA conv2d / depthwise_conv2d (NHWC, OHWI / HWCM) in torch."""
    t, bo, l, r = a["pad"]
    x = F.pad(nchw(x), (l, r, t, bo))
    if kind == "conv":
        wt, groups = w.permute(0, 3, 1, 2), 1
    else:
        kh, kw, c, m = w.shape
        wt, groups = w.permute(2, 3, 0, 1).reshape(c * m, 1, kh, kw), c
    return nhwc(F.conv2d(x, wt, b, a["stride"], 0, a["dilation"], groups))


class Deployed:
    """The deployed forward of a generic-form module, exact and relaxed."""

    def __init__(self, generic, entry):
        self.m = Module(generic)
        self.args, self.body = self.m.funcs[entry]
        self.params = self.m.parameters()
        self.rec = {}

    def exact(self, values, inputs):
        """NumPy f32/int64 after the ODS formulas; records each rounding
        op's code and clamp mask, and each max pool's choice."""
        env = dict(zip(self.args, inputs))
        for i, op in enumerate(self.body):
            if op.name == "func.return":
                return [env[o] for o in op.operands]
            x = [env[o] for o in op.operands]
            out = self.exact_op(i, op, x, values)
            for r, v in zip(op.results, out):
                env[r] = v

    def exact_op(self, i, op, x, values):
        a, n = op.attrs, op.name
        rank = len(op.out_types[0][0]) if op.out_types and isinstance(op.out_types[0], tuple) \
            and op.out_types[0][0] != "shape" else 0
        ax = a.get("axis")
        if n in ("tosa.const", "arith.constant"):
            return [np.asarray(a.get("values", a.get("value")))]
        if n == "tosa.const_shape":
            return [[int(d) for d in np.asarray(a["values"]).ravel()]]
        if n == "ml_program.global_load":
            return [np.asarray(values[a["global"]], F32)]
        if n == "qat.quantize":
            inp, s, z = x
            inv = (F32(1) / bcast(s, ax, rank).astype(F32)).astype(F32)
            t = np.round((inp * inv).astype(F32)) + bcast(z, ax, rank)
            self.rec[i] = (t >= a["quant_min"]) & (t <= a["quant_max"])
            return [np.clip(t, a["quant_min"], a["quant_max"]).astype(F32)]
        if n == "qat.quantize_bias":
            b, si, sw = x
            return [np.round((b / (si * sw).astype(F32)).astype(F32)).astype(F32)]
        if n == "qat.dequantize":
            q, s, z = x
            return [((q - bcast(z, ax, rank).astype(F32)).astype(F32)
                     * bcast(s, ax, rank)).astype(F32)]
        if n == "qat.requantize":
            acc, m, z = x
            acc = acc.astype(F32)  # f32(acc), round to nearest even for int32
            v = (acc * bcast(m, ax, rank)).astype(F32)
            t = np.round(v) + bcast(z, ax, rank)
            self.rec[i] = relu_mask((t >= a["quant_min"]) & (t <= a["quant_max"]),
                                    bcast(z, ax, rank), a["quant_min"], v)
            return [np.clip(t, a["quant_min"], a["quant_max"]).astype(F32)]
        if n == "qat.requantize_add":
            l, ml, zl, r, mr, zr, zo = x
            t = ((l - bcast(zl, ax, rank).astype(F32)).astype(F32) * bcast(ml, ax, rank)).astype(F32)
            u = ((r - bcast(zr, ax, rank).astype(F32)).astype(F32) * bcast(mr, ax, rank)).astype(F32)
            q = np.round((t + u).astype(F32)) + bcast(zo, ax, rank)
            self.rec[i] = relu_mask((q >= a["quant_min"]) & (q <= a["quant_max"]),
                                    bcast(zo, ax, rank), a["quant_min"], (t + u).astype(F32))
            return [np.clip(q, a["quant_min"], a["quant_max"]).astype(F32)]
        if n == "qat.rescale":
            acc, m, sh, z = x
            m64, n64 = bcast(m, ax, rank).astype(np.int64), bcast(sh, ax, rank).astype(np.int64)
            v = (acc.astype(np.int64) * m64 + (np.int64(1) << (n64 - 1))) >> n64
            t = v + bcast(z, ax, rank)
            self.rec[i] = relu_mask((t >= a["quant_min"]) & (t <= a["quant_max"]),
                                    bcast(z, ax, rank), a["quant_min"], acc.astype(np.int64) * m64)
            return [np.clip(t, a["quant_min"], a["quant_max"]).astype(F32)]
        if n == "qat.rescale_add":
            l, ml, zl, r, mr, zr, sh, zo = x
            b = lambda p: bcast(p, ax, rank).astype(np.int64)  # noqa: E731
            v = ((l.astype(np.int64) - b(zl)) * b(ml) + (r.astype(np.int64) - b(zr)) * b(mr))
            t = ((v + (np.int64(1) << (b(sh) - 1))) >> b(sh)) + b(zo)
            self.rec[i] = relu_mask((t >= a["quant_min"]) & (t <= a["quant_max"]),
                                    b(zo), a["quant_min"], v)
            return [np.clip(t, a["quant_min"], a["quant_max"]).astype(F32)]
        integer = any(np.issubdtype(np.asarray(v).dtype, np.integer) for v in x[:2])
        if n in ("tosa.conv2d", "tosa.depthwise_conv2d"):
            # Zero points subtracted (0 for f32 codes); an integer
            # convolution (the int32 accumulation of qat.exact_accumulator)
            # is exact in f64 (|acc| < 2^31) and stays integer.
            kind = "conv" if n == "tosa.conv2d" else "dw"
            f64 = lambda v, z: torch.tensor(np.asarray(v, np.float64)  # noqa: E731
                                            - np.asarray(z, np.float64).ravel()[0])
            y = conv64(f64(x[0], x[3]), f64(x[1], x[4]), f64(x[2], 0), a, kind).numpy()
            if integer:
                return [np.rint(y).astype(np.int64)]
            assert np.all(np.abs(y) < 2 ** 24), "f32 accumulator beyond 2^24"
            return [y.astype(F32)]
        if n == "tosa.matmul":
            z = [np.asarray(v, np.float64).ravel()[0] for v in x[2:4]]
            y = np.matmul(x[0].astype(np.float64) - z[0], x[1].astype(np.float64) - z[1])
            if integer:
                return [np.rint(y).astype(np.int64)]
            assert np.all(np.abs(y) < 2 ** 24), "f32 accumulator beyond 2^24"
            return [y.astype(F32)]
        if n == "tosa.cast":  # integer-valued f32 codes to i8 / i32: exact
            return [np.rint(x[0]).astype(np.int64)]
        if n == "qat.exact_accumulator":
            return [x[1]]
        if n == "tosa.add":
            if integer:
                return [x[0].astype(np.int64) + x[1].astype(np.int64)]
            return [(x[0] + x[1]).astype(F32)]
        if n == "tosa.sub":
            return [(x[0] - x[1]).astype(F32)]
        if n == "tosa.reshape":
            return [x[0].reshape(x[1])]
        if n == "tosa.transpose":
            return [np.transpose(x[0], a["perms"])]
        if n == "tosa.max_pool2d":
            t, b, l, r = a["pad"]
            assert t == b and l == r
            y, idx = F.max_pool2d(nchw(torch.tensor(x[0])), a["kernel"], a["stride"], (t, l),
                                  return_indices=True)
            self.rec[i] = idx
            return [nhwc(y).numpy()]
        raise NotImplementedError(n)

    def relaxed(self, params, inputs, v0):
        """float64 torch; `v0` (dict) holds each rounding's f64 value at the
        evaluated point, filled on the first call."""
        env = {k: torch.tensor(np.asarray(v, np.float64)) for k, v in zip(self.args, inputs)}
        for i, op in enumerate(self.body):
            if op.name == "func.return":
                return [env[o] for o in op.operands]
            x = [env[o] for o in op.operands]
            a, n = op.attrs, op.name
            rank = len(op.out_types[0][0]) if op.out_types and isinstance(op.out_types[0], tuple) \
                and op.out_types[0][0] != "shape" else 0
            ax = a.get("axis")
            T = lambda p: tbcast(p.to(torch.float64), ax, rank)  # noqa: E731

            def relax(v, i=i):
                if i not in v0:
                    v0[i] = v.detach().clone()
                code0 = torch.tensor(self.codes[i], dtype=torch.float64)
                mask = torch.tensor(self.rec[i]) if i in self.rec else None
                y = v + (code0 - v0[i])
                return torch.where(mask, y, code0) if mask is not None else y

            if n in ("tosa.const", "arith.constant"):
                out = torch.tensor(np.asarray(a.get("values", a.get("value"))))
            elif n == "tosa.const_shape":
                out = [int(d) for d in np.asarray(a["values"]).ravel()]
            elif n == "ml_program.global_load":
                out = params[a["global"]]
            elif n == "qat.quantize":
                out = relax(x[0] / T(x[1]) + T(x[2]))
            elif n == "qat.quantize_bias":
                out = relax(x[0] / (x[1].double() * x[2].double()))
            elif n == "qat.dequantize":
                out = (x[0] - T(x[2])) * T(x[1])
            elif n == "qat.requantize":
                out = relax(x[0] * T(x[1]) + T(x[2]))
            elif n == "qat.requantize_add":
                out = relax((x[0] - T(x[2])) * T(x[1]) + (x[3] - T(x[5])) * T(x[4]) + T(x[6]))
            elif n == "qat.rescale":
                out = relax(x[0] * T(x[1]) * torch.pow(2.0, -T(x[2])) + T(x[3]))
            elif n == "qat.rescale_add":
                p2 = torch.pow(2.0, -T(x[6]))
                out = relax(((x[0] - T(x[2])) * T(x[1]) + (x[3] - T(x[5])) * T(x[4])) * p2
                            + T(x[7]))
            elif n in ("tosa.conv2d", "tosa.depthwise_conv2d"):
                out = conv64(x[0], x[1], x[2], a, "conv" if n == "tosa.conv2d" else "dw")
            elif n == "tosa.matmul":
                out = torch.matmul(x[0], x[1])
            elif n == "tosa.cast":
                out = x[0]  # feeds only the int32 accumulation
            elif n == "qat.exact_accumulator":
                # The int32 value at the point, the gradient of the f32 one.
                out = relax(x[0])
            elif n == "tosa.add":
                out = x[0] + x[1]
            elif n == "tosa.sub":
                out = x[0] - x[1]
            elif n == "tosa.reshape":
                out = x[0].reshape(x[1])
            elif n == "tosa.transpose":
                out = x[0].permute(a["perms"])
            elif n == "tosa.max_pool2d":
                xc = nchw(x[0])
                idx = self.rec[i]
                flat = xc.reshape(xc.shape[0], xc.shape[1], -1)
                out = nhwc(torch.gather(flat, 2, idx.reshape(idx.shape[0], idx.shape[1], -1))
                           .reshape(idx.shape))
            else:
                raise NotImplementedError(n)
            for r in op.results:
                env[r] = out
        raise ValueError("no return")


def loss_of(y, labels, kind):
    if kind == "cross-entropy":
        return F.cross_entropy(y, torch.tensor(labels, dtype=torch.int64))
    return torch.mean((y - torch.tensor(labels, dtype=torch.float64)) ** 2)


def check(tag, float_text, entry, xs, ys, loss, target, tmp, calib):
    path = os.path.join(tmp, "%s.float.mlir" % entry)
    with open(path, "w") as f:
        f.write(float_text)
    data = []
    for k, b in enumerate(calib):
        p = os.path.join(tmp, "%s.c%d.npy" % (entry, k))
        np.save(p, b)
        data.append(p)
    trainable = dc.frozen_trainable(path, target, data, tmp, entry)
    module = dc.train_module(trainable, "deployed", "loss=%s" % loss, entry)
    generic = dc.tool("qat-opt", "-", "--mlir-print-op-generic",
                      "--mlir-print-elementsattrs-with-hex-if-larger=0", stdin=module)
    m = dc.compile_train(module, entry)
    names = dc.parameter_names(module)
    values = dict(zip(names, [np.array(p) for p in m[entry + "_get_parameters"]()]))
    ours_out = np.array(m[entry](xs))
    res = m[entry + "_gradients"](xs, ys)
    ours = dict(zip(names, [np.array(g) for g in res[1:1 + len(names)]]))

    d = Deployed(generic, entry)
    # Exact pass (records masks and max-pool choices), then again keeping
    # each rounding op's output codes per op index.
    env_out = d.exact(values, [xs])
    d.codes = {}
    env = dict(zip(d.args, [xs]))
    for i, op in enumerate(d.body):
        if op.name == "func.return":
            break
        out = d.exact_op(i, op, [env[o] for o in op.operands], values)
        for r, v in zip(op.results, out):
            env[r] = v
        if op.name.startswith("qat.") and op.name != "qat.dequantize":
            d.codes[i] = out[0]
    exact_differ = int(np.sum(np.asarray(env_out[0], F32).view(np.uint32)
                              != ours_out.view(np.uint32)))
    v0 = {}
    params = {k: torch.tensor(values[k], dtype=torch.float64, requires_grad=True) for k in names}
    y = d.relaxed(params, [xs], v0)[0]
    relaxed_differ = int(np.sum(y.detach().numpy().astype(F32) != np.asarray(env_out[0])))
    L = loss_of(y, ys, loss)
    L.backward()
    ok = exact_differ == 0
    worst_ours, worst_fd = 0.0, 0.0
    rng = np.random.default_rng(3)
    for k in names:
        ref = params[k].grad.numpy()
        scale = float(np.max(np.abs(ref))) or 1.0
        worst_ours = max(worst_ours, float(np.max(np.abs(ours[k] - ref))) / scale)
        flat = np.abs(ref).ravel()
        picks = list(np.argsort(-flat)[:4]) + list(rng.integers(0, flat.size, 4))
        for j in picks:
            h = 1e-6 * max(1.0, abs(float(values[k].ravel()[j])))
            vals = []
            for sgn in (1, -1):
                p2 = {kk: vv.detach().clone() for kk, vv in params.items()}
                p2[k].view(-1)[j] += sgn * h
                with torch.no_grad():
                    vals.append(float(loss_of(d.relaxed(p2, [xs], v0)[0], ys, loss)))
            fd = (vals[0] - vals[1]) / (2 * h)
            worst_fd = max(worst_fd, abs(fd - float(ref.ravel()[j])) / scale)
    ok = ok and worst_ours <= 1e-4 and worst_fd <= 1e-6
    print("%s %s: forward exact vs ours %d differ (relaxed at the point: %d differ); "
          "gradients ours vs relaxed autograd %.1e, finite differences vs autograd %.1e "
          "(max |diff| / max |ref|, %d parameters)%s"
          % (tag, target, exact_differ, relaxed_differ, worst_ours, worst_fd, len(names),
             "" if ok else "  FAILED"), flush=True)
    return ok


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        _, text, entry, xs, ys, loss = gp.fashion_mnist()
        cases = [("fashion_mnist", text, entry, xs[:32], ys[:32], loss,
                  [xs[32 * (k + 1):32 * (k + 2)] for k in range(4)])]
        for kind in ("resnet", "mobilenet"):
            name, text, entry, bx, by, loss = gp.exported_block(kind)
            cases.append((name, text, entry, bx[0], by[0], loss, list(bx[1:5])))
        for name, text, entry, x0, y0, loss, calib in cases:
            for target in ("x86", "bpu"):
                failures += not check(name, text, entry, x0, y0, loss, target, tmp, calib)
    print("FAILED" if failures else "OK")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
