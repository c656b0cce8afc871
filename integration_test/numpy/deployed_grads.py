# REQUIRES: numpy
# RUN: %python %s
#
# qat.quantize_bias and the straight-through backward of the integer-domain
# ops (quantize_grad, dequantize_grad, quantize_bias_grad, requantize_grad,
# requantize_add_grad, rescale_grad, rescale_add_grad), run through qat-run:
#  1. bit for bit against a NumPy transcription of their ODS formulas
#     (f32 per operation, parameter sums in f64 in row-major order), per
#     tensor and per axis, with codes exactly on the range bounds, outside
#     them, NaN inputs and gradients;
#  2. against central finite differences (f64) of each op's STE-relaxed
#     forward at the evaluated point (roundings as identity plus their
#     residual, clamps frozen on the side they took), the documented
#     definition of the backward.
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import Report, f32, run, ttype  # noqa: E402

f64 = np.float64
rng = np.random.default_rng(18)
report = Report("deployed-mode backward ops vs NumPy and finite differences")


def seqsum(terms, axis, keep):
    """f32(sum of f64(terms)) accumulated in row-major order: over all
    elements (keep False) or per index of `axis`."""
    t = np.asarray(terms, f32).astype(f64)
    if not keep:
        return f32(np.cumsum(t.ravel())[-1]) if t.size else f32(0)
    t = np.moveaxis(t, axis, 0).reshape(t.shape[axis], -1)
    return np.cumsum(t, axis=1)[:, -1].astype(f32)


def bcast(p, shape, axis):
    """A rank-0 or rank-1 (along axis) parameter broadcast to shape."""
    p = np.asarray(p)
    if p.ndim == 0:
        return np.broadcast_to(p, shape)
    sh = [1] * len(shape)
    sh[axis] = -1
    return np.broadcast_to(p.reshape(sh), shape)


def mask01(inside):
    return np.where(inside, f32(1), f32(0)).astype(f32)


def attrs(qmin, qmax, axis=None, extra=""):
    a = f"quant_min = {qmin} : i64, quant_max = {qmax} : i64"
    if axis is not None:
        a += f", axis = {axis} : i64"
    return "{" + a + extra + "}"


# ---------------------------------------------------------------- quantize
def np_quant_code(x, s, z):
    """t of qat.quantize (half_even), in f32."""
    with np.errstate(all="ignore"):
        inv = (f32(1) / s).astype(f32)
        return (np.round((x * inv).astype(f32)) + z.astype(f32)).astype(f32), inv


def check_quantize(shape, axis, qmin, qmax):
    c = shape[axis] if axis is not None else None
    pshape = (c,) if axis is not None else ()
    s = (10.0 ** rng.uniform(-2, 0, pshape)).astype(f32)
    z = rng.integers(qmin, qmax + 1, pshape).astype(np.int32)
    sb, zb = bcast(s, shape, axis), bcast(z, shape, axis)
    codes = rng.uniform(qmin - 20, qmax + 20, shape)
    x = ((codes - zb) * sb).astype(f32)
    flat = x.reshape(-1)
    # codes exactly on the bounds, just outside, NaN
    flat[:4] = ((np.array([qmin, qmax, qmin - 1, qmax + 1]) - zb.reshape(-1)[:4]) * sb.reshape(-1)[:4])
    flat[4] = np.nan
    dq = rng.standard_normal(shape).astype(f32)
    dq.reshape(-1)[5] = np.nan
    T = ttype(shape)
    PT = ttype(pshape)
    ZT = ttype(pshape, "i32")
    mlir = f"""
func.func @f(%dq: {T}, %x: {T}, %s: {PT}, %z: {ZT}) -> ({T}, {PT}) {{
  %dx, %ds = qat.quantize_grad %dq, %x, %s, %z {attrs(qmin, qmax, axis)} : {T}, {T}, {PT}, {ZT}
  return %dx, %ds : {T}, {PT}
}}"""
    dx, ds = run(mlir, "f", [dq, x, s, z], 2)
    t, inv = np_quant_code(x, sb, zb)
    inside = (t >= qmin) & (t <= qmax)
    with np.errstate(all="ignore"):
        dx_ref = ((dq * inv).astype(f32) * mask01(inside)).astype(f32)
        u = ((x * inv).astype(f32) * f32(-1)).astype(f32)
        term = np.where(inside, ((dq * u).astype(f32) * inv).astype(f32), f32(0))
    ds_ref = seqsum(term, axis, axis is not None)
    name = f"quantize_grad {'axis' if axis is not None else 'tensor'} [{qmin},{qmax}]"
    report.compare(name + " dx", dx, dx_ref)
    report.compare(name + " ds", ds, ds_ref)
    # Finite differences of the relaxed forward q~ = x / s + z + (round - exact)
    # inside, the bound outside, at this point (finite elements only).
    ok = ~np.isnan(x) & ~np.isnan(dq)
    xd, sd = x.astype(f64), sb.astype(f64)
    resid = (t.astype(f64) - zb) - xd / sd

    def relaxed(xv, sv):
        return np.where(inside, xv / sv + zb + resid, np.clip(t, qmin, qmax))
    h = 1e-3
    fd_x = (relaxed(xd + h * sd, sd) - relaxed(xd - h * sd, sd)) / (2 * h * sd)
    fd_s_elem = (relaxed(xd, sd * (1 + h)) - relaxed(xd, sd * (1 - h))) / (2 * h * sd)
    g = dq.astype(f64)
    fd_dx = g * fd_x
    fd_ds = np.where(ok, g * fd_s_elem, 0)
    fd_ds = fd_ds.sum() if axis is None else np.moveaxis(fd_ds, axis, 0).reshape(c, -1).sum(1)
    report.check(name + " dx vs FD", np.allclose(dx[ok], fd_dx[ok], rtol=1e-5, atol=1e-6),
                 f"max |diff| {np.max(np.abs(dx[ok] - fd_dx[ok]))}")
    ds_clean = seqsum(np.where(ok, term, 0), axis, axis is not None)
    report.check(name + " ds vs FD", np.allclose(ds_clean, fd_ds, rtol=1e-4, atol=1e-4),
                 f"{ds_clean} vs {fd_ds}")


# -------------------------------------------------------------- dequantize
def check_dequantize(shape, axis):
    c = shape[axis] if axis is not None else None
    pshape = (c,) if axis is not None else ()
    s = (10.0 ** rng.uniform(-2, 0, pshape)).astype(f32)
    z = rng.integers(-128, 128, pshape).astype(np.int32)
    q = rng.integers(-128, 128, shape).astype(f32)
    dx = rng.standard_normal(shape).astype(f32)
    T, PT, ZT = ttype(shape), ttype(pshape), ttype(pshape, "i32")
    ax = f" {{axis = {axis} : i64}}" if axis is not None else ""
    mlir = f"""
func.func @f(%dx: {T}, %q: {T}, %s: {PT}, %z: {ZT}) -> ({T}, {PT}) {{
  %dq, %ds = qat.dequantize_grad %dx, %q, %s, %z{ax} : {T}, {T}, {PT}, {ZT}
  return %dq, %ds : {T}, {PT}
}}"""
    dq, ds = run(mlir, "f", [dx, q, s, z], 2)
    sb, zb = bcast(s, shape, axis), bcast(z, shape, axis)
    name = f"dequantize_grad {'axis' if axis is not None else 'tensor'}"
    report.compare(name + " dq", dq, (dx * sb).astype(f32))
    term = (dx * (q - zb.astype(f32)).astype(f32)).astype(f32)
    report.compare(name + " ds", ds, seqsum(term, axis, axis is not None))
    # No rounding: the derivative of (q - z) * s.
    fd = (dx.astype(f64) * (q - zb))
    fd = fd.sum() if axis is None else np.moveaxis(fd, axis, 0).reshape(c, -1).sum(1)
    report.check(name + " ds vs FD", np.allclose(ds, fd, rtol=1e-5, atol=1e-5))


# ----------------------------------------------------------- quantize_bias
def check_quantize_bias(c, per_channel):
    b = (rng.standard_normal(c) * 0.3).astype(f32)
    si = f32(0.02)
    sw = (10.0 ** rng.uniform(-3, -1, c)).astype(f32) if per_channel else f32(0.004)
    big = np.array([3e9, -3e9, np.nan], f32)
    b[:3] = big * (si * (sw[:3] if per_channel else sw))
    b[3] = (f32(2.5) * (si * (sw[3] if per_channel else sw))).astype(f32)  # a tie (2.5 -> 2)
    db = rng.standard_normal(c).astype(f32)
    WT = ttype((c,)) if per_channel else ttype(())
    mlir = f"""
func.func @f(%b: tensor<{c}xf32>, %si: tensor<f32>, %sw: {WT}, %db: tensor<{c}xf32>)
    -> (tensor<{c}xf32>, tensor<{c}xi32>, tensor<{c}xf32>, tensor<f32>, {WT}) {{
  %q = qat.quantize_bias %b, %si, %sw : tensor<{c}xf32>, tensor<f32>, {WT} -> tensor<{c}xf32>
  %qi = qat.quantize_bias %b, %si, %sw : tensor<{c}xf32>, tensor<f32>, {WT} -> tensor<{c}xi32>
  %g0, %g1, %g2 = qat.quantize_bias_grad %db, %b, %si, %sw : tensor<{c}xf32>, tensor<{c}xf32>, tensor<f32>, {WT}
  return %q, %qi, %g0, %g1, %g2 : tensor<{c}xf32>, tensor<{c}xi32>, tensor<{c}xf32>, tensor<f32>, {WT}
}}"""
    q, qi, g0, g1, g2 = run(mlir, "f", [b, si, sw, db], 5)
    with np.errstate(all="ignore"):
        p = (si * sw).astype(f32)
        v = (b / p).astype(f32)
        q_ref = np.round(v).astype(f32)
        qs = np.clip(q_ref, f32(-2147483648.0), f32(2147483520.0))
        qi_ref = np.where(np.isnan(qs), 0, qs).astype(np.int64).astype(np.int32)
        g0_ref = (db / p).astype(f32)
        nv = (v * f32(-1)).astype(f32)
        ti = ((db * nv).astype(f32) / si).astype(f32)
        tw = ((db * nv).astype(f32) / sw).astype(f32)
    name = f"quantize_bias {'axis' if per_channel else 'tensor'}"
    report.compare(name + " f32", q, q_ref)
    report.check(name + " i32", np.array_equal(qi, qi_ref), f"{qi[:4]} vs {qi_ref[:4]}")
    report.compare(name + "_grad bias", g0, g0_ref)
    report.compare(name + "_grad input_scale", g1, seqsum(ti, 0, False))
    report.compare(name + "_grad weight_scale", g2, tw if per_channel else seqsum(tw, 0, False))
    # Finite differences of v = b / (si * sw) (the rounding is the identity).
    ok = np.isfinite(v)
    bd, sid, swd, g = b.astype(f64), f64(si), np.asarray(sw, f64), db.astype(f64)
    h = 1e-4
    fd_si = np.sum(np.where(ok, g * (bd / ((sid * (1 + h)) * swd) - bd / ((sid * (1 - h)) * swd))
                            / (2 * h * sid), 0))
    report.check(name + "_grad input_scale vs FD",
                 np.isclose(seqsum(np.where(ok, ti, 0), 0, False), fd_si, rtol=1e-4))
    report.check(name + "_grad bias vs FD", np.allclose(g0, g / (sid * swd), rtol=1e-6))


# -------------------------------------------------------------- requantize
def check_requantize(shape, axis, f32_acc):
    c = shape[axis] if axis is not None else None
    pshape = (c,) if axis is not None else ()
    m = (10.0 ** rng.uniform(-4, -2, pshape)).astype(f32)
    z = rng.integers(-20, 20, pshape).astype(np.int32)
    acc = rng.integers(-40000, 40000, shape).astype(np.int32)
    mb, zb = bcast(m, shape, axis), bcast(z, shape, axis)
    flat = acc.reshape(-1)
    # accumulators whose code lands exactly on the bounds
    for i, code in enumerate([-128, 127, -129, 128]):
        flat[i] = int(np.round((code - zb.reshape(-1)[i]) / f64(mb.reshape(-1)[i])))
    dq = rng.standard_normal(shape).astype(f32)
    accin = acc.astype(f32) if f32_acc else acc
    T, PT, ZT = ttype(shape), ttype(pshape), ttype(pshape, "i32")
    AT = ttype(shape, "f32" if f32_acc else "i32")
    mlir = f"""
func.func @f(%dq: {T}, %acc: {AT}, %m: {PT}, %z: {ZT}) -> ({T}, {PT}) {{
  %da, %dm = qat.requantize_grad %dq, %acc, %m, %z {attrs(-128, 127, axis)} : {T}, {AT}, {PT}, {ZT}
  return %da, %dm : {T}, {PT}
}}"""
    da, dm = run(mlir, "f", [dq, accin, m, z], 2)
    a = acc.astype(f32)
    t = (np.round((a * mb).astype(f32)) + zb.astype(f32)).astype(f32)
    inside = (t >= -128) & (t <= 127)
    name = f"requantize_grad {'axis' if axis is not None else 'tensor'} {'f32' if f32_acc else 'i32'}"
    report.check(name + " mask has both sides", inside.any() and (~inside).any())
    report.compare(name + " dacc", da, ((dq * mb).astype(f32) * mask01(inside)).astype(f32))
    term = np.where(inside, (dq * a).astype(f32), f32(0))
    report.compare(name + " dm", dm, seqsum(term, axis, axis is not None))
    # FD of the relaxed clamp(a * m + z + resid).
    ad, md = a.astype(f64), mb.astype(f64)
    resid = (t - zb) - ad * md

    def relaxed(av, mv):
        return np.where(inside, av * mv + zb + resid, np.clip(t, -128, 127))
    g = dq.astype(f64)
    fd_a = g * (relaxed(ad + 0.5, md) - relaxed(ad - 0.5, md))
    fd_m = g * (relaxed(ad, md * 1.001) - relaxed(ad, md * 0.999)) / (0.002 * md)
    fd_m = fd_m.sum() if axis is None else np.moveaxis(fd_m, axis, 0).reshape(c, -1).sum(1)
    report.check(name + " dacc vs FD", np.allclose(da, fd_a, rtol=1e-5, atol=1e-7))
    report.check(name + " dm vs FD", np.allclose(dm, fd_m, rtol=1e-4, atol=1e-3))


def check_requantize_add(shape, axis):
    c = shape[axis] if axis is not None else None
    pshape = (c,) if axis is not None else ()
    ml = (10.0 ** rng.uniform(-4, -3, pshape)).astype(f32)
    mr = np.full(pshape, 0.8, f32)
    zl, zr, zo = (np.full(pshape, v, np.int32) for v in (0, -7, 5))
    lhs = rng.integers(-200000, 200000, shape).astype(f32)
    rhs = rng.integers(-128, 128, shape).astype(f32)
    dq = rng.standard_normal(shape).astype(f32)
    T, PT, ZT = ttype(shape), ttype(pshape), ttype(pshape, "i32")
    mlir = f"""
func.func @f(%dq: {T}, %l: {T}, %ml: {PT}, %zl: {ZT}, %r: {T}, %mr: {PT}, %zr: {ZT}, %zo: {ZT})
    -> ({T}, {PT}, {T}, {PT}) {{
  %a, %b, %c, %d = qat.requantize_add_grad %dq, %l, %ml, %zl, %r, %mr, %zr, %zo {attrs(-128, 127, axis)} : {T}, {T}, {PT}, {ZT}, {T}, {PT}, {ZT}, {ZT}
  return %a, %b, %c, %d : {T}, {PT}, {T}, {PT}
}}"""
    dl, dml, dr, dmr = run(mlir, "f", [dq, lhs, ml, zl, rhs, mr, zr, zo], 4)
    mlb, mrb = bcast(ml, shape, axis), bcast(mr, shape, axis)
    zlb, zrb, zob = (bcast(v, shape, axis).astype(f32) for v in (zl, zr, zo))
    ta = ((lhs - zlb).astype(f32) * mlb).astype(f32)
    tb = ((rhs - zrb).astype(f32) * mrb).astype(f32)
    v = (np.round((ta + tb).astype(f32)) + zob).astype(f32)
    inside = (v >= -128) & (v <= 127)
    name = f"requantize_add_grad {'axis' if axis is not None else 'tensor'}"
    report.check(name + " mask has both sides", inside.any() and (~inside).any())
    report.compare(name + " dlhs", dl, ((dq * mlb).astype(f32) * mask01(inside)).astype(f32))
    report.compare(name + " drhs", dr, ((dq * mrb).astype(f32) * mask01(inside)).astype(f32))
    tl = np.where(inside, (dq * (lhs - zlb).astype(f32)).astype(f32), f32(0))
    tr = np.where(inside, (dq * (rhs - zrb).astype(f32)).astype(f32), f32(0))
    report.compare(name + " dml", dml, seqsum(tl, axis, axis is not None))
    report.compare(name + " dmr", dmr, seqsum(tr, axis, axis is not None))
    # FD of the relaxed clamp(a ml + b mr + z + resid) in the lhs multiplier.
    a64, b64 = (lhs - zlb).astype(f64), (rhs - zrb).astype(f64)
    resid = (v - zob) - (a64 * mlb + b64 * mrb)

    def relaxed(mlv):
        return np.where(inside, a64 * mlv + b64 * mrb + zob + resid, np.clip(v, -128, 127))
    g = dq.astype(f64)
    md = mlb.astype(f64)
    fd = g * (relaxed(md * 1.001) - relaxed(md * 0.999)) / (0.002 * md)
    fd = fd.sum() if axis is None else np.moveaxis(fd, axis, 0).reshape(c, -1).sum(1)
    report.check(name + " dml vs FD", np.allclose(dml, fd, rtol=1e-4, atol=1e-2))


# ----------------------------------------------------------------- rescale
def fixed_point(mult):
    e = np.frexp(f64(mult))[1]
    n = 31 - e
    return int(np.round(np.ldexp(f64(mult), n))), n


def check_rescale(shape, axis, f32_acc):
    c = shape[axis] if axis is not None else None
    pshape = (c,) if axis is not None else ()
    mults = (10.0 ** rng.uniform(-4, -2, pshape)).astype(f32)
    pairs = [fixed_point(v) for v in np.atleast_1d(mults)]
    M = np.array([p[0] for p in pairs], np.int32).reshape(pshape)
    n = np.array([p[1] for p in pairs], np.int8).reshape(pshape)
    # rescale_add: a residual multiplier below M sharing the shift
    M2 = (M // 3 + 12345).astype(np.int32)
    z = np.int32(3)
    acc = rng.integers(-40000, 40000, shape).astype(np.int64)
    Mb, nb = bcast(M, shape, axis).astype(np.int64), bcast(n, shape, axis).astype(np.int64)
    M2b = bcast(M2, shape, axis).astype(np.int64)
    flat = acc.reshape(-1)
    for i, code in enumerate([-128, 127, -129, 128]):
        flat[i] = int(np.round((code - z) * 2.0 ** nb.reshape(-1)[i] / Mb.reshape(-1)[i]))
    acc32 = acc.astype(np.int32)
    res = rng.integers(-128, 128, shape).astype(np.int32)
    zr = np.int32(-9)
    dq = rng.standard_normal(shape).astype(f32)
    accin = acc32.astype(f32) if f32_acc else acc32
    resin = res.astype(f32) if f32_acc else res
    T, AT = ttype(shape), ttype(shape, "f32" if f32_acc else "i32")
    MT, NT, ZT = ttype(pshape, "i32"), ttype(pshape, "i8"), ttype(pshape, "i32")
    zs = np.full(pshape, z, np.int32)
    zrs = np.full(pshape, zr, np.int32)
    zero = np.zeros(pshape, np.int32)
    mlir = f"""
func.func @f(%dq: {T}, %acc: {AT}, %m: {MT}, %n: {NT}, %z: {ZT}, %res: {AT}, %m2: {MT}, %zr: {ZT}, %z0: {ZT})
    -> ({T}, {T}, {T}, {T}) {{
  %da = qat.rescale_grad %dq, %acc, %m, %n, %z {attrs(-128, 127, axis)} : {T}, {AT}, {MT}, {NT}, {ZT}
  %q = qat.rescale_add %acc, %m, %z0, %res, %m2, %zr, %n, %z {attrs(-128, 127, axis)} : {AT}, {MT}, {ZT}, {AT}, {MT}, {ZT}, {NT}, {ZT} -> {T}
  %dl, %dr = qat.rescale_add_grad %dq, %acc, %m, %z0, %res, %m2, %zr, %n, %z {attrs(-128, 127, axis)} : {T}, {AT}, {MT}, {ZT}, {AT}, {MT}, {ZT}, {NT}, {ZT}
  return %da, %q, %dl, %dr : {T}, {T}, {T}, {T}
}}"""
    da, q, dl, dr = run(mlir, "f", [dq, accin, M, n, zs, resin, M2, zrs, zero], 4)
    half = np.int64(1) << (nb - 1)
    v = ((acc * Mb + half) >> nb) + z
    inside = (v >= -128) & (v <= 127)
    r = (Mb.astype(f64) / (2.0 ** nb)).astype(f32)
    r2 = (M2b.astype(f64) / (2.0 ** nb)).astype(f32)
    name = f"rescale {'axis' if axis is not None else 'tensor'} {'f32' if f32_acc else 'i32'}"
    report.check(name + "_grad mask has both sides", inside.any() and (~inside).any())
    report.compare(name + "_grad", da, ((dq * r).astype(f32) * mask01(inside)).astype(f32))
    # rescale_add in Python integers: ((acc M + (res - zr) M2 + 2^(n-1)) >> n) + z.
    v2 = ((acc * Mb + (res - zr) * M2b + half) >> nb) + z
    inside2 = (v2 >= -128) & (v2 <= 127)
    report.compare(name + "_add forward", q, np.clip(v2, -128, 127).astype(f32))
    report.check(name + "_add_grad mask has both sides", inside2.any() and (~inside2).any())
    report.compare(name + "_add_grad lhs", dl, ((dq * r).astype(f32) * mask01(inside2)).astype(f32))
    report.compare(name + "_add_grad rhs", dr, ((dq * r2).astype(f32) * mask01(inside2)).astype(f32))
    # FD of the relaxed clamp(acc * M 2^-n + z + resid).
    g = dq.astype(f64)
    ok = inside
    report.check(name + "_grad vs FD", np.allclose(da[ok], (g * Mb / 2.0 ** nb)[ok], rtol=1e-6))


def check_relu_bound():
    """A fused ReLU (quant_min equal to the output zero point, the code of
    0.0): accumulators whose unrounded value lies in [-0.5, 0.5) all give
    code 0; the mask passes the gradient only where the unrounded value is
    above 0 (ReLU's mask, as fake quantization after a ReLU), for the four
    requantizations. A quant_min that is not the zero point keeps the
    rounded-code mask (the other checks)."""
    shape = (64, 40)
    T, IT = ttype(shape), ttype(shape, "i32")
    S, SI, S8 = ttype(()), ttype((), "i32"), ttype((), "i8")
    m = f32(1.0 / 64)
    M, n = fixed_point(m)
    acc = rng.integers(-100, 100, shape).astype(np.int32)  # |v| < 1.6
    acc.reshape(-1)[:4] = [0, -1, 1, -32]  # 0, just below, just above, -0.5
    res = rng.integers(-3, 3, shape).astype(np.int32)
    dq = rng.standard_normal(shape).astype(f32)
    z0 = np.int32(0)
    a = attrs(0, 127)
    mlir = f"""
func.func @f(%dq: {T}, %acc: {IT}, %m: {S}, %mm: {SI}, %n: {S8}, %z: {SI}, %res: {IT}) -> ({T}, {T}, {T}, {T}, {T}, {T}) {{
  %da, %dm = qat.requantize_grad %dq, %acc, %m, %z {a} : {T}, {IT}, {S}, {SI}
  %dl, %dml, %dr, %dmr = qat.requantize_add_grad %dq, %acc, %m, %z, %res, %m, %z, %z {a} : {T}, {IT}, {S}, {SI}, {IT}, {S}, {SI}, {SI}
  %ra = qat.rescale_grad %dq, %acc, %mm, %n, %z {a} : {T}, {IT}, {SI}, {S8}, {SI}
  %rl, %rr = qat.rescale_add_grad %dq, %acc, %mm, %z, %res, %mm, %z, %n, %z {a} : {T}, {IT}, {SI}, {SI}, {IT}, {SI}, {SI}, {S8}, {SI}
  return %da, %dl, %dr, %ra, %rl, %rr : {T}, {T}, {T}, {T}, {T}, {T}
}}"""
    da, dl, dr, ra, rl, rr = run(mlir, "f", [dq, acc, np.array(m, f32), np.array(M, np.int32),
                                             np.array(n, np.int8), np.array(z0), res], 6)
    a64, r64 = acc.astype(f64), res.astype(f64)
    for name, v, outs, mult in [
            ("requantize_grad", a64 * m, [da], m),
            ("requantize_add_grad", (a64 + r64) * m, [dl, dr], m),
            ("rescale_grad", a64 * M / 2.0 ** n, [ra], f32(M / 2.0 ** n)),
            ("rescale_add_grad", (a64 + r64) * M / 2.0 ** n, [rl, rr], f32(M / 2.0 ** n))]:
        code = np.floor(v + 0.5) if name.startswith("rescale") else np.round(v)
        inside = (code >= 0) & (code <= 127) & (v > 0)
        report.check("relu bound %s: code 0 on both sides of 0" % name,
                     ((code == 0) & (v > 0)).any() and ((code == 0) & (v <= 0)).any())
        for o in outs:
            report.compare("relu bound " + name, o, ((dq * f32(mult)).astype(f32)
                                                     * mask01(inside)).astype(f32))


for shape, axis in [((64, 40), None), ((8, 6, 16), 2), ((16, 24), 0)]:
    for qmin, qmax in [(-128, 127), (0, 255)]:
        check_quantize(shape, axis, qmin, qmax)
    check_dequantize(shape, axis)
    for f32_acc in (False, True):
        check_requantize(shape, axis, f32_acc)
        check_rescale(shape, axis, f32_acc)
    check_requantize_add(shape, axis)
for per_channel in (False, True):
    check_quantize_bias(24, per_channel)
check_relu_bound()

sys.exit(report.finish())
