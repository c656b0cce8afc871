# REQUIRES: torch
# RUN: %python %s
#
# qat.lsq and qat.lsq_grad against PyTorch 1.13's
# _fake_quantize_learnable_per_tensor_affine and
# _fake_quantize_learnable_per_channel_affine (forward, and the gradients
# for input, scale and zero point):
#  - the forward and grad_input bit for bit on whole tensors;
#  - every elementwise scale and zero-point term bit for bit, using sums of
#    one term (per-channel on [C, 1]; per-tensor on one-element tensors);
#  - the sums bit for bit where every partial sum is exact (power-of-two
#    scale, small integer gradients, inputs on a 1/64 grid), so the order
#    of summation cannot matter;
#  - on general data, our sums equal the exact sums of the terms rounded to
#    f32 (within 1 ulp), and PyTorch's lie within the f32 summation error
#    bound (it sums in f32 in an order set by its threads and vector width);
#    the ulp distances are printed.
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Report, f32, run, ttype, ulp_distance  # noqa: E402

rng = np.random.default_rng(7)
report = Report("lsq vs PyTorch")
RANGES = [(0, 255), (-128, 127), (0, 15), (-8, 7)]


def torch_lsq(x, s, z, dy, qmin, qmax, g, axis=None):
    xt = torch.tensor(x, requires_grad=True)
    st = torch.tensor(s, requires_grad=True)
    zt = torch.tensor(z, requires_grad=True)
    if axis is None:
        y = torch._fake_quantize_learnable_per_tensor_affine(xt, st, zt, qmin, qmax, g)
    else:
        y = torch._fake_quantize_learnable_per_channel_affine(xt, st, zt, axis, qmin, qmax, g)
    y.backward(torch.tensor(dy))
    return [y.detach().numpy(), xt.grad.numpy(), st.grad.numpy(), zt.grad.numpy()]


def lsq_mlir(x_shape, p_shape, qmin, qmax, g, axis=None, count=1):
    """`count` lsq + lsq_grad pairs; `g` is one grad_factor or one per pair."""
    t, p = ttype(x_shape), ttype(p_shape)
    ax = f", axis = {axis} : i64" if axis is not None else ""
    gs = g if isinstance(g, list) else [g] * count
    args, body, rets, rtypes = [], [], [], []
    for i in range(count):
        attrs = (f"{{quant_min = {qmin} : i64, quant_max = {qmax} : i64, "
                 f"grad_factor = {float(gs[i])!r} : f64{ax}}}")
        args += [f"%x{i}: {t}", f"%s{i}: {p}", f"%z{i}: {p}", f"%dy{i}: {t}"]
        body.append(f"  %y{i} = qat.lsq %x{i}, %s{i}, %z{i} {attrs} : {t}, {p}")
        body.append(f"  %dx{i}, %ds{i}, %dz{i} = qat.lsq_grad %dy{i}, %x{i}, %s{i}, %z{i} {attrs} : {t}, {p}")
        rets += [f"%y{i}", f"%dx{i}", f"%ds{i}", f"%dz{i}"]
        rtypes += [t, t, p, p]
    return (f"func.func @f({', '.join(args)}) -> ({', '.join(rtypes)}) {{\n" + "\n".join(body) +
            f"\n  return {', '.join(rets)} : {', '.join(rtypes)}\n}}\n")


def lsq_terms(x, dy, s, z, qmin, qmax, g, axis):
    """Elementwise (ds, dz) of qat.lsq_grad, in NumPy: f32 arithmetic with
    fma(a, b, c) as f32(a * b + c) in f64 (the products are exact in f64)."""
    bshape = [1] * x.ndim
    if axis is not None:
        bshape[axis] = s.size
    S = np.maximum(s, f32(2.0 ** -23)).reshape(bshape if axis is not None else ())
    Z = z.reshape(bshape if axis is not None else ())
    inv = (f32(1) / S).astype(f32)
    if axis is not None:
        zb = np.clip(np.round(Z), qmin, qmax).astype(f32)
    else:
        zb = np.trunc(np.clip((Z + f32(0.5)).astype(f32), qmin, qmax)).astype(f32)
    t = np.round((x.astype(np.float64) * np.float64(inv) + zb).astype(f32))
    inr = (t >= qmin) & (t <= qmax)
    q = np.clip(t, qmin, qmax).astype(f32)
    d = ((q - zb).astype(np.float64) * np.float64(S) - x).astype(f32)
    G = f32(g)
    ds_in = ((((dy * d).astype(f32)) * inv).astype(f32) * G).astype(f32)
    edge = np.where(t < qmin, f32(qmin), f32(qmax)).astype(f32)
    ds_out = (((dy * (edge - zb).astype(f32)).astype(f32)) * G).astype(f32)
    dz_out = (((((dy * f32(-1)).astype(f32)) * S).astype(f32)) * G).astype(f32)
    return (np.where(inr, ds_in, ds_out).astype(f32),
            np.where(inr, f32(0), dz_out).astype(f32))


def exact_sums(terms, axis):
    """Per-channel (or total) exact sums and f32 summation error bounds."""
    import math
    if axis is None:
        groups = [terms.ravel()]
    else:
        moved = np.moveaxis(terms, axis, 0)
        groups = [moved[c].ravel() for c in range(moved.shape[0])]
    exact = np.array([math.fsum(gr.astype(np.float64)) for gr in groups])
    bound = np.array([(gr.size - 1) * 2.0 ** -24 * np.sum(np.abs(gr.astype(np.float64)))
                      for gr in groups])
    return exact, bound


def make_zero_points(c, qmin, qmax):
    z = rng.uniform(qmin - 4, qmax + 4, c).astype(f32)
    half = rng.random(c) < 0.3
    return np.where(half, np.floor(z) + f32(0.5), z).astype(f32)


def inputs_for(x_shape, scales, zps, axis):
    bshape = [1] * len(x_shape)
    if axis is not None:
        bshape[axis] = scales.size
    mid = zps.reshape(bshape) if axis is not None else zps
    codes = rng.uniform(-20, 20, x_shape) + (RANGE[0] + RANGE[1]) / 2 - mid
    x = (codes * scales.reshape(bshape).astype(np.float64)).astype(f32)
    return x, rng.standard_normal(x_shape).astype(f32)


for RANGE in RANGES:
    qmin, qmax = RANGE
    for g in [1.0, 0.3, 1.0 / np.sqrt(1000 * qmax)]:
        # Per channel, one element per channel: every term bit for bit.
        c = 2048
        s = (10.0 ** rng.uniform(-3, 0, c)).astype(f32)
        z = make_zero_points(c, qmin, qmax)
        x, dy = inputs_for((c, 1), s, z, 0)
        ours = run(lsq_mlir((c, 1), (c,), qmin, qmax, g, axis=0), "f", [x, s, z, dy], 4)
        ref = torch_lsq(x, s, z, dy, qmin, qmax, g, axis=0)
        for name, a, b in zip(["forward", "grad_input", "grad_scale", "grad_zero_point"], ours, ref):
            report.compare(f"per-channel terms {name}", a, b)

    # Per tensor, one-element tensors: every term bit for bit.
    k = 64
    gs = [[1.0, 0.3, 1.0 / np.sqrt(1000 * qmax)][i % 3] for i in range(k)]
    ins, refs = [], []
    for i in range(k):
        si = np.array(f32(10.0 ** rng.uniform(-3, 0)), f32)
        zi = np.array(make_zero_points(1, qmin, qmax)[0], f32)
        xi, dyi = inputs_for((1,), si, zi, None)
        ins += [xi, si, zi, dyi]
        refs.append(torch_lsq(xi, si.reshape(1), zi.reshape(1), dyi, qmin, qmax, gs[i]))
    outs = run(lsq_mlir((1,), (), qmin, qmax, gs, count=k), "f", ins, 4 * k)
    for i in range(k):
        for j, name in enumerate(["forward", "grad_input", "grad_scale", "grad_zero_point"]):
            report.compare(f"per-tensor terms {name}", outs[4 * i + j], refs[i][j].reshape(outs[4 * i + j].shape))

    # Whole tensors: forward and grad_input exact, sums exact when the data
    # makes every partial sum exact, else within a few ulp.
    for axis, shape in [(None, (16, 512)), (1, (8, 32, 6, 6))]:
        pshape = () if axis is None else (shape[axis],)
        c = 1 if axis is None else shape[axis]
        for exact in [True, False]:
            if exact:
                s = np.full(c, 2.0 ** -4, f32)
                z = np.round(rng.uniform(qmin, qmax, c)).astype(f32)
                x, _ = inputs_for(shape, s, z, axis)
                x = (np.round(x.astype(np.float64) * 64 * 16) / (64 * 16)).astype(f32)
                dy = rng.integers(-3, 4, shape).astype(f32)
                g = 1.0
            else:
                s = (10.0 ** rng.uniform(-3, 0, c)).astype(f32)
                z = make_zero_points(c, qmin, qmax)
                x, dy = inputs_for(shape, s, z, axis)
                g = 0.3
            sp, zp = (s[0].reshape(()), z[0].reshape(())) if axis is None else (s, z)
            ours = run(lsq_mlir(shape, pshape, qmin, qmax, g, axis=axis), "f", [x, sp, zp, dy], 4)
            ref = torch_lsq(x, sp.reshape(1) if axis is None else sp,
                            zp.reshape(1) if axis is None else zp, dy, qmin, qmax, g, axis=axis)
            kind = "per-tensor" if axis is None else "per-channel"
            report.compare(f"{kind} whole forward", ours[0], ref[0])
            report.compare(f"{kind} whole grad_input", ours[1], ref[1])
            if exact:
                report.compare(f"{kind} exact sums grad_scale", ours[2], ref[2].reshape(ours[2].shape))
                report.compare(f"{kind} exact sums grad_zero_point", ours[3], ref[3].reshape(ours[3].shape))
            else:
                # Exact sums of the elementwise terms (NumPy model of the
                # formula, checked bit for bit above): ours must be that sum
                # rounded (within 1 ulp); PyTorch's within the f32
                # summation error bound (n - 1) * 2^-24 * sum |term|.
                ds_t, dz_t = lsq_terms(x, dy, s, z, qmin, qmax, g, axis)
                for j, name, terms in [(2, "grad_scale", ds_t), (3, "grad_zero_point", dz_t)]:
                    exact, bound = exact_sums(terms, axis)
                    mine = ours[j].astype(np.float64).ravel()
                    theirs = ref[j].astype(np.float64).ravel()
                    d_ours = ulp_distance(ours[j].ravel(), exact.astype(f32))
                    ratio = np.max(np.abs(theirs - exact) / np.maximum(bound, 1e-300))
                    print(f"  {kind} {qmin}..{qmax} {name} sums: ours {d_ours} ulp from the exact "
                          f"sum, PyTorch {ulp_distance(ref[j].ravel(), exact.astype(f32))} ulp "
                          f"({ratio:.3f} of its error bound)")
                    report.check(f"{kind} general sums: ours = rounded exact sum (<= 1 ulp)",
                                 d_ours <= 1, f"{name}: {d_ours} ulp")
                    report.check(f"{kind} general sums: PyTorch within the f32 error bound",
                                 bool(ratio <= 1.0), f"{name}: {ratio}")
report.finish()
