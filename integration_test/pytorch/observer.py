# REQUIRES: torch
# RUN: %python %s
#
# qat.observer and qat.choose_qparams against PyTorch 1.13's MinMaxObserver,
# MovingAverageMinMaxObserver, PerChannelMinMaxObserver and
# MovingAveragePerChannelMinMaxObserver: the observed range after each of
# several batches, and calculate_qparams() for quint8/qint8, affine and
# symmetric, with and without reduce_range, default and custom ranges, bit
# for bit. (The unsigned symmetric zero point with reduce_range is 128 in
# PyTorch, outside its 0..127 range; this op gives 64 by design, so that
# combination is not compared.)
import os
import sys
import warnings

import numpy as np
import torch
from torch.ao.quantization import observer as tob

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Report, f32, run, ttype  # noqa: E402

warnings.filterwarnings("ignore")
rng = np.random.default_rng(11)
report = Report("observer vs PyTorch")
SHAPE = (6, 8, 5, 5)
BATCHES = 4

# (dtype, scheme, reduce_range, quant_min, quant_max): None = the default range.
CONFIGS = [
    (torch.quint8, "affine", False, None, None),
    (torch.quint8, "affine", True, None, None),
    (torch.qint8, "affine", False, None, None),
    (torch.qint8, "affine", True, None, None),
    (torch.quint8, "symmetric", False, None, None),
    (torch.qint8, "symmetric", False, None, None),
    (torch.qint8, "symmetric", True, None, None),
    (torch.qint8, "symmetric", False, -127, 127),
    (torch.quint8, "affine", False, 0, 15),
    (torch.qint8, "affine", True, -8, 7),
]


def batches(axis, shape=SHAPE):
    out = []
    for b in range(BATCHES):
        x = (rng.standard_normal(shape) * rng.uniform(0.1, 4)).astype(f32)
        if b == 1:
            x = np.abs(x) + f32(0.5)  # all positive: the range is widened to 0
        if axis is not None:
            idx = [slice(None)] * len(shape)
            idx[axis] = 0
            x[tuple(idx)] = 0.0  # a channel of zeros: scale becomes eps
            idx[axis] = 1
            x[tuple(idx)] = f32(-3.25)  # a constant negative channel
        out.append(x)
    return out


def default_range(dtype):
    return (0, 255) if dtype == torch.quint8 else (-128, 127)


def torch_observer(kind, axis, dtype, scheme, reduce_range, qmin, qmax):
    per_channel = axis is not None
    qscheme = {(False, "affine"): torch.per_tensor_affine,
               (False, "symmetric"): torch.per_tensor_symmetric,
               (True, "affine"): torch.per_channel_affine,
               (True, "symmetric"): torch.per_channel_symmetric}[(per_channel, scheme)]
    kw = dict(dtype=dtype, qscheme=qscheme, reduce_range=reduce_range,
              quant_min=qmin, quant_max=qmax)
    if per_channel:
        cls = tob.PerChannelMinMaxObserver if kind == "min_max" else \
            tob.MovingAveragePerChannelMinMaxObserver
        return cls(ch_axis=axis, **kw)
    cls = tob.MinMaxObserver if kind == "min_max" else tob.MovingAverageMinMaxObserver
    return cls(**kw)


def case(kind, axis, shape=SHAPE):
    xs = batches(axis, shape)
    c = shape[axis] if axis is not None else None
    pshape = [c] if c else []
    t, p, pz = ttype(shape), ttype(pshape), ttype(pshape, "i32")
    ax = f", axis = {axis} : i64" if axis is not None else ""
    args = [f"%x{b}: {t}" for b in range(BATCHES)] + [f"%lo: {p}", f"%hi: {p}"]
    body, rets, rtypes = [], [], []
    lo, hi = "%lo", "%hi"
    for b in range(BATCHES):
        body.append(f"  %lo{b}, %hi{b} = qat.observer %x{b}, {lo}, {hi} "
                    f"{{kind = #qat.observer<{kind}>{ax}}} : {t}, {p}")
        lo, hi = f"%lo{b}", f"%hi{b}"
        rets += [lo, hi]
        rtypes += [p, p]
    for i, (dtype, scheme, rr, qmin, qmax) in enumerate(CONFIGS):
        dmin, dmax = (qmin, qmax) if qmin is not None else default_range(dtype)
        body.append(f"  %s{i}, %z{i} = qat.choose_qparams {lo}, {hi} {{quant_min = {dmin} : i64, "
                    f"quant_max = {dmax} : i64, qscheme = #qat.qscheme<{scheme}>, "
                    f"reduce_range = {'true' if rr else 'false'}}} : {p} -> {pz}")
        rets += [f"%s{i}", f"%z{i}"]
        rtypes += [p, pz]
    mlir = (f"func.func @f({', '.join(args)}) -> ({', '.join(rtypes)}) {{\n" + "\n".join(body) +
            f"\n  return {', '.join(rets)} : {', '.join(rtypes)}\n}}\n")
    init_lo = np.full(pshape, np.inf, f32)
    init_hi = np.full(pshape, -np.inf, f32)
    outs = run(mlir, "f", xs + [init_lo, init_hi], len(rets))

    name = f"{kind} {'per-channel axis ' + str(axis) if axis is not None else 'per-tensor'}"
    if shape != SHAPE:
        name += " " + "x".join(map(str, shape))
    ref_obs = torch_observer(kind, axis, torch.quint8, "affine", False, None, None)
    for b in range(BATCHES):
        ref_obs(torch.tensor(xs[b]))
        report.compare(f"{name} range", outs[2 * b], ref_obs.min_val.numpy().reshape(pshape))
        report.compare(f"{name} range", outs[2 * b + 1], ref_obs.max_val.numpy().reshape(pshape))
    base = 2 * BATCHES
    for i, (dtype, scheme, rr, qmin, qmax) in enumerate(CONFIGS):
        obs = torch_observer(kind, axis, dtype, scheme, rr, qmin, qmax)
        for x in xs:
            obs(torch.tensor(x))
        s_ref, z_ref = obs.calculate_qparams()
        report.compare(f"{name} qparams scale", outs[base + 2 * i], s_ref.numpy().reshape(pshape))
        z_ours = outs[base + 2 * i + 1].astype(np.int64).reshape(-1)
        z_theirs = z_ref.numpy().astype(np.int64).reshape(-1)
        report.check(f"{name} qparams zero point", bool(np.array_equal(z_ours, z_theirs)),
                     f"{dtype} {scheme} reduce_range={rr}: {z_ours[:4]} vs {z_theirs[:4]}")


for kind in ["min_max", "moving_average"]:
    for axis in [None, 1, 0]:
        case(kind, axis)
    # An OHWI weight (axis 0, 3 x 3 x 16 elements per channel: the lane
    # ranges of qat-convert-qat-to-linalg).
    case(kind, 0, (8, 3, 3, 16))

# An observer that saw nothing: scale 1, zero point 0 (PyTorch warns).
mlir = """func.func @f(%lo: tensor<f32>, %hi: tensor<f32>) -> (tensor<f32>, tensor<i32>) {
  %s, %z = qat.choose_qparams %lo, %hi {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<f32> -> tensor<i32>
  return %s, %z : tensor<f32>, tensor<i32>
}
"""
s, z = run(mlir, "f", [np.array(np.inf, f32), np.array(-np.inf, f32)], 2)
s_ref, z_ref = tob.MinMaxObserver().calculate_qparams()
report.compare("uninitialised observer scale", s, s_ref.numpy().reshape(()))
report.check("uninitialised observer zero point", int(z) == int(z_ref.item()), f"{z} vs {z_ref}")
report.finish()
