# REQUIRES: torch
# RUN: %python %s
#
# The ops of the training step (QATTrainingOps.td) through qat-run against
# PyTorch 1.13 autograd: conv2d and depthwise conv2d (channel multiplier 1
# and 2) data and weight adjoints with strides, dilations and asymmetric
# padding, max and average pooling adjoints (overlapping windows, padding,
# ties), and softmax cross-entropy with its gradient. Sums may be added in
# another order than PyTorch's: each result must be within 1e-6 of the
# largest reference magnitude (max |diff| / max |ref|), except where the
# result is one product or one quotient per element (pooling without
# overlap, ties of max pooling), which must be equal bit for bit. The
# optimizer updates (qat.sgd_update, qat.adam_update) must equal
# torch.optim.SGD and torch.optim.Adam bit for bit over several steps.
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Report, f32, run, ttype, ulp_distance  # noqa: E402

rng = np.random.default_rng(16)
report = Report("training ops vs PyTorch autograd")
TOL = 1e-6


def rel(ours, ref):
    scale = float(np.max(np.abs(ref))) or 1.0
    return float(np.max(np.abs(ours.astype(np.float64) - ref))) / scale


def close(name, ours, ref):
    r = rel(ours, ref)
    n, bad = report.counts.get(name, (0, 0))
    report.counts[name] = (n + np.size(ref), bad + (0 if r <= TOL else np.size(ref)))
    if r > TOL:
        report.failures.append(f"{name}: relative difference {r:.3g} > {TOL}")
    print(f"{name}: max|diff|/max|ref| = {r:.3g}")


def nhwc(t):
    return t.detach().permute(0, 2, 3, 1).contiguous().numpy()


def attrs(pad, stride, dilation):
    return ("pad = array<i64: %d, %d, %d, %d>, stride = array<i64: %d, %d>, "
            "dilation = array<i64: %d, %d>" % (*pad, *stride, *dilation))


def conv_case(n, c, h, w, o, k, pad, stride, dilation, depthwise=False):
    """pad: (top, bottom, left, right). PyTorch pads symmetrically, so an
    asymmetric pad is an explicit F.pad before a conv without padding."""
    groups = c if depthwise else 1
    x = torch.tensor(rng.standard_normal((n, c, h, w)), dtype=torch.float32,
                     requires_grad=True)
    wt = torch.tensor(rng.standard_normal((o, c // groups, k[0], k[1])),
                      dtype=torch.float32, requires_grad=True)
    xp = F.pad(x, (pad[2], pad[3], pad[0], pad[1]))
    y = F.conv2d(xp, wt, stride=stride, dilation=dilation, groups=groups)
    dy = torch.tensor(rng.standard_normal(y.shape), dtype=torch.float32)
    y.backward(dy)
    dyn = nhwc(dy)
    xn = nhwc(x)
    a = attrs(pad, stride, dilation)
    tag = "%s n%d c%d %dx%d o%d k%dx%d pad%s s%s d%s" % (
        "depthwise" if depthwise else "conv2d", n, c, h, w, o, k[0], k[1],
        pad, stride, dilation)
    if depthwise:
        m = o // c
        # OIHW (C*M, 1, KH, KW) -> HWCM
        wn = wt.detach().numpy().reshape(c, m, k[0], k[1]).transpose(2, 3, 0, 1).copy()
        dw_ref = wt.grad.numpy().reshape(c, m, k[0], k[1]).transpose(2, 3, 0, 1)
        prefix = "qat.depthwise_conv2d"
    else:
        wn = wt.detach().numpy().transpose(0, 2, 3, 1).copy()
        dw_ref = wt.grad.numpy().transpose(0, 2, 3, 1)
        prefix = "qat.conv2d"
    mlir = f"""
func.func @data(%dy: {ttype(dyn.shape)}, %w: {ttype(wn.shape)}) -> {ttype(xn.shape)} {{
  %dx = {prefix}_backward_data %dy, %w {{{a}}} : ({ttype(dyn.shape)}, {ttype(wn.shape)}) -> {ttype(xn.shape)}
  return %dx : {ttype(xn.shape)}
}}
func.func @weight(%x: {ttype(xn.shape)}, %dy: {ttype(dyn.shape)}) -> {ttype(wn.shape)} {{
  %dw = {prefix}_backward_weight %x, %dy {{{a}}} : ({ttype(xn.shape)}, {ttype(dyn.shape)}) -> {ttype(wn.shape)}
  return %dw : {ttype(wn.shape)}
}}
"""
    dx, = run(mlir, "data", [dyn, wn], 1)
    dw, = run(mlir, "weight", [xn, dyn], 1)
    close(tag + " data", dx, nhwc(x.grad))
    close(tag + " weight", dw, dw_ref)


def pool_case(kind, n, c, h, w, k, stride, pad, ties=False):
    """Symmetric PyTorch padding (pad[0] == pad[1], pad[2] == pad[3])."""
    if ties:
        data = rng.integers(-2, 3, (n, c, h, w)).astype(f32)
    else:
        data = rng.standard_normal((n, c, h, w)).astype(f32)
    x = torch.tensor(data, requires_grad=True)
    if kind == "max":
        y = F.max_pool2d(x, k, stride, (pad[0], pad[2]))
    else:
        y = F.avg_pool2d(x, k, stride, (pad[0], pad[2]), count_include_pad=False)
    dy = torch.tensor(rng.standard_normal(y.shape), dtype=torch.float32)
    y.backward(dy)
    dyn, xn = nhwc(dy), nhwc(x)
    a = ("kernel = array<i64: %d, %d>, stride = array<i64: %d, %d>, "
         "pad = array<i64: %d, %d, %d, %d>" % (*k, *stride, *pad))
    if kind == "max":
        body = (f"%dx = qat.max_pool2d_backward %dy, %x {{{a}}} : ({ttype(dyn.shape)}, "
                f"{ttype(xn.shape)}) -> {ttype(xn.shape)}")
        args = f"%dy: {ttype(dyn.shape)}, %x: {ttype(xn.shape)}"
        inputs = [dyn, xn]
    else:
        body = (f"%dx = qat.avg_pool2d_backward %dy {{{a}}} : {ttype(dyn.shape)} -> "
                f"{ttype(xn.shape)}")
        args = f"%dy: {ttype(dyn.shape)}"
        inputs = [dyn]
    mlir = f"""
func.func @f({args}) -> {ttype(xn.shape)} {{
  {body}
  return %dx : {ttype(xn.shape)}
}}
"""
    dx, = run(mlir, "f", inputs, 1)
    tag = "%s_pool2d k%s s%s pad%s%s" % (kind, k, stride, pad, " ties" if ties else "")
    overlap = stride[0] < k[0] or stride[1] < k[1]
    if overlap:
        close(tag, dx, nhwc(x.grad))
    else:
        m = report.compare(tag, dx, nhwc(x.grad))
        print(f"{tag}: {m} of {dx.size} elements differ")


def loss_case(n, c, bad_label=False):
    logits = torch.tensor(rng.standard_normal((n, c)) * 3, dtype=torch.float32,
                          requires_grad=True)
    labels = rng.integers(0, c, n).astype(np.int32)
    loss = F.cross_entropy(logits, torch.tensor(labels, dtype=torch.int64))
    loss.backward()
    g = np.array(1.0, f32)
    mlir = f"""
func.func @f(%x: {ttype((n, c))}, %y: {ttype((n,), "i32")}, %g: tensor<f32>) -> (tensor<f32>, {ttype((n, c))}) {{
  %l = qat.softmax_cross_entropy %x, %y : ({ttype((n, c))}, {ttype((n,), "i32")}) -> tensor<f32>
  %d = qat.softmax_cross_entropy_grad %g, %x, %y : (tensor<f32>, {ttype((n, c))}, {ttype((n,), "i32")}) -> {ttype((n, c))}
  return %l, %d : tensor<f32>, {ttype((n, c))}
}}
"""
    x = logits.detach().numpy()
    lo, dx = run(mlir, "f", [x, labels, g], 2)
    close("softmax_cross_entropy %dx%d loss" % (n, c), lo, loss.detach().numpy())
    close("softmax_cross_entropy %dx%d grad" % (n, c), dx, logits.grad.numpy())
    # A label out of range: NaN loss, NaN row.
    bad = labels.copy()
    bad[1] = c
    lo, dx = run(mlir, "f", [x, bad, g], 2)
    report.check("softmax_cross_entropy label out of range", bool(np.isnan(lo))
                 and bool(np.all(np.isnan(dx[1]))) and not np.any(np.isnan(dx[0])),
                 "expected a NaN loss and a NaN row 1")


def optimizer_case(kind, shape, steps=5, **kw):
    """Several steps of qat.sgd_update / qat.adam_update against
    torch.optim.SGD / Adam on the same gradients, bit for bit (the fused
    multiply-adds are those of PyTorch's vectorized kernels); the largest
    distance in ulp is printed."""
    p0 = rng.standard_normal(shape).astype(f32)
    grads = [rng.standard_normal(shape).astype(f32) for _ in range(steps)]
    lr = 0.05
    t = torch.tensor(p0.copy(), requires_grad=True)
    if kind == "sgd":
        opt = torch.optim.SGD([t], lr=lr, **kw)
    else:
        opt = torch.optim.Adam([t], lr=lr, **kw)
    refs = []
    for g in grads:
        t.grad = torch.tensor(g)
        opt.step()
        refs.append(t.detach().numpy().copy())
    ty = ttype(shape)
    attrs = ", ".join("%s = %.17e : f64" % (k, float(v)) for k, v in kw.items()
                      if k not in ("nesterov", "betas"))
    if kind == "sgd":
        if kw.get("nesterov"):
            attrs += ", nesterov"
        mlir = f"""
func.func @f(%p: {ty}, %g: {ty}, %b: {ty}, %lr: tensor<f64>, %s: tensor<i64>) -> ({ty}, {ty}) {{
  %p1, %b1 = qat.sgd_update %p, %g, %b, %lr, %s {{{attrs}}} : {ty}, tensor<f64>, tensor<i64>
  return %p1, %b1 : {ty}, {ty}
}}
"""
        state = [np.zeros(shape, f32)]
    else:
        b1, b2 = kw.get("betas", (0.9, 0.999))
        attrs = ", ".join(a for a in [attrs, "beta1 = %.17e : f64" % b1, "beta2 = %.17e : f64" % b2]
                          if a)
        mlir = f"""
func.func @f(%p: {ty}, %g: {ty}, %m: {ty}, %v: {ty}, %lr: tensor<f64>, %s: tensor<i64>) -> ({ty}, {ty}, {ty}) {{
  %p1, %m1, %v1 = qat.adam_update %p, %g, %m, %v, %lr, %s {{{attrs}}} : {ty}, tensor<f64>, tensor<i64>
  return %p1, %m1, %v1 : {ty}, {ty}, {ty}
}}
"""
        state = [np.zeros(shape, f32), np.zeros(shape, f32)]
    p = p0
    worst = 0
    for i, g in enumerate(grads):
        outs = run(mlir, "f", [p, g] + state + [np.array(lr, np.float64),
                                               np.array(i, np.int64)], 1 + len(state))
        p, state = outs[0], outs[1:]
        worst = max(worst, ulp_distance(p, refs[i]))
    name = "%s %s %s" % (kind, shape, kw)
    n, bad = report.counts.get(name, (0, 0))
    report.counts[name] = (n + p.size, bad + (0 if worst == 0 else p.size))
    if worst:
        report.failures.append("%s: %d ulp from torch.optim after %d steps" % (name, worst, steps))
    print("%s: %d steps, largest distance %d ulp" % (name, steps, worst))


conv_case(2, 3, 9, 8, 5, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1))
conv_case(2, 4, 9, 10, 6, (3, 3), (1, 0, 2, 1), (2, 2), (1, 1))
conv_case(1, 5, 11, 11, 4, (3, 2), (2, 2, 1, 1), (1, 2), (2, 2))
conv_case(2, 6, 8, 8, 4, (1, 1), (0, 0, 0, 0), (2, 2), (1, 1))
conv_case(1, 3, 15, 15, 8, (7, 7), (3, 3, 3, 3), (2, 2), (1, 1))
conv_case(2, 6, 9, 9, 6, (3, 3), (1, 1, 1, 1), (1, 1), (1, 1), depthwise=True)
conv_case(2, 6, 10, 9, 6, (3, 3), (1, 1, 1, 1), (2, 2), (1, 1), depthwise=True)
conv_case(1, 4, 11, 12, 8, (3, 3), (2, 1, 0, 2), (2, 1), (2, 1), depthwise=True)
pool_case("max", 2, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0))
pool_case("max", 2, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0), ties=True)
pool_case("max", 2, 4, 9, 9, (3, 3), (2, 2), (1, 1, 1, 1))
pool_case("max", 1, 4, 9, 9, (3, 3), (2, 2), (1, 1, 1, 1), ties=True)
pool_case("avg", 2, 3, 7, 7, (7, 7), (1, 1), (0, 0, 0, 0))
pool_case("avg", 2, 3, 8, 8, (2, 2), (2, 2), (0, 0, 0, 0))
pool_case("avg", 2, 3, 9, 9, (3, 3), (2, 2), (1, 1, 1, 1))
loss_case(32, 10)
loss_case(5, 3)
optimizer_case("sgd", (64,), momentum=0.9, weight_decay=1e-4)
optimizer_case("sgd", (7, 5), momentum=0.9, dampening=0.1)
optimizer_case("sgd", (33,), momentum=0.9, nesterov=True, weight_decay=1e-3)
optimizer_case("sgd", (16,))
optimizer_case("adam", (64,))
optimizer_case("adam", (5, 7), betas=(0.8, 0.99), eps=1e-6, weight_decay=1e-2)
sys.exit(report.finish())
