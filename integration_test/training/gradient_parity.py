# REQUIRES: torch
# RUN: %python %s --quick
#
# Gradient parity of the compiled training step with PyTorch 1.13 autograd.
# For each model, target and batch-norm mode: the trainable module of
# qat-mlir (qat-prepare, qat-make-trainable, qat-generate-train-step) and its
# PyTorch reference (reference.py: the same graph and quantizers run with
# PyTorch's kernels, observers, fake quantization and autograd) take one
# step on the same batch from the same weights. Checked:
#   - every fake quantizer's clip mask is identical,
#   - every parameter gradient is within 1e-5 of PyTorch's, relative to its
#     largest magnitude (max |diff| / max |ref|); each is printed,
#   - observer ranges (and batch-norm running statistics) after the step
#     are equal or within 1 ulp,
# and then, from the same start, 20 steps of SGD with momentum 0.9 and
# weight decay 1e-4 (torch.optim.SGD on the reference) leave every
# parameter within 1e-4 relative.
#
# Models: the bundled Fashion-MNIST CNN (real images and labels), a ResNet
# basic block with a strided downsample and a MobileNetV2 inverted residual
# (torchvision, random weights and batch-norm statistics, exported by
# qat_mlir.export; loss: MSE against a random target). --quick (the lit
# test) runs one step on each model for both targets and the 20 steps on
# the Fashion-MNIST CNN; without it, the 20 steps on every model.
#
# Two implementations whose float sums differ in the last bits drift apart
# by about 1e-7 relative per step; when a weight or activation then falls
# on a rounding tie of its quantizer, the two round it to different codes
# and the trajectories separate (docs/Training.md shows such a case).
import argparse
import os
import re
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "fashion_mnist"))
from common import NP_ET, check, finish, rel, run_driver, trainable, ttype, ulps  # noqa: E402
from reference import (Module, Reference, calculate_qparams, observe,  # noqa: E402
                       pytorch_mask, quantizer_masks)

GRAD_TOL, STEP_TOL = 1e-5, 1e-4
# A gradient that is zero up to rounding (a convolution's bias before batch
# norm on batch statistics: the batch mean removes it) is the rounding of a
# sum over P = N*H*W positions: below P * 2^-24 of the scale of the batch
# norm's beta gradient, with P = 25,088 the largest here.
ZERO_TOL = 25088 * 2.0 ** -24



def signature(generic, name):
    m = re.search(r'function_type = \((.*?)\) -> \(?(.*?)\)?, sym_name = "%s"' % name, generic)
    args = [a.strip() for a in m.group(1).split(", tensor") if a.strip()]
    args = [a if a.startswith("tensor") else "tensor" + a for a in args]
    res = [r.strip() for r in m.group(2).split(", tensor") if r.strip()]
    res = [r if r.startswith("tensor") else "tensor" + r for r in res]
    return args, res


def state_names(mod):
    """Observer ranges and batch-norm running statistics."""
    out = []
    for n, a in mod.global_attrs.items():
        if "qat.parameter" in a:
            continue
        if re.search(r"(^act\d+_(min|max)$)|(_weight_(min|max)$)|(running_(mean|var)$)", n):
            out.append(n)
    return out


def one_step(name, text, generic, entry, x, labels, loss_kind):
    mod = Module(generic)
    params = mod.parameters()
    states = state_names(mod)
    args, res = signature(generic, entry + "_gradients")
    n_q = (len(res) - 1 - len(params)) // 2
    gtypes = [mod.global_attrs[s]["type"] for s in states]
    driver = ["  func.func @driver(%s) -> (%s) {" % (
        ", ".join("%%a%d: %s" % (i, t) for i, t in enumerate(args)),
        ", ".join(res + gtypes))]
    driver.append("    %%r:%d = func.call @%s_gradients(%s) : (%s) -> (%s)" % (
        len(res), entry, ", ".join("%%a%d" % i for i in range(len(args))), ", ".join(args),
        ", ".join(res)))
    for i, (s, t) in enumerate(zip(states, gtypes)):
        driver.append("    %%s%d = ml_program.global_load @%s : %s" % (i, s, t))
    driver.append("    return %s : %s" % (
        ", ".join(["%%r#%d" % i for i in range(len(res))] +
                  ["%%s%d" % i for i in range(len(states))]), ", ".join(res + gtypes)))
    driver.append("  }")
    outs = run_driver(text, "\n".join(driver), [x, labels], len(res) + len(states))
    loss, grads = outs[0], outs[1:1 + len(params)]
    qouts = outs[1 + len(params):1 + len(params) + 2 * n_q]
    our_x, our_mask = qouts[0::2], qouts[1::2]
    state = dict(zip(states, outs[len(res):]))

    ref = Reference(generic, entry)
    y = ref.forward(torch.tensor(x))[0]
    if loss_kind == "cross-entropy":
        rl = F.cross_entropy(y, torch.tensor(labels, dtype=torch.int64))
    else:
        rl = F.mse_loss(y, torch.tensor(labels))
    rl.backward()
    rgrads = ref.gradients()
    print("%s: loss ours %.7g, PyTorch %.7g" % (name, float(loss), float(rl)))
    check(rel(loss, rl.item()) <= GRAD_TOL, "%s loss" % name)
    worst = 0.0
    for p, g in zip(params, grads):
        ref_g = rgrads[p].numpy()
        base = p[:-len("_bias")] if p.endswith("_bias") else None
        if base and base + "_bn_bias" in rgrads:
            # A convolution's bias before batch norm on batch statistics:
            # its gradient is zero up to rounding (the batch mean removes
            # it); relative to the scale of the batch norm's beta gradient.
            # Both are rounding noise, so each must be below ZERO_TOL of
            # the beta gradient's scale (not compared with each other).
            scale = float(np.max(np.abs(rgrads[base + "_bn_bias"].numpy())))
            ro = float(np.max(np.abs(np.asarray(g, np.float64)))) / scale
            rr = float(np.max(np.abs(ref_g))) / scale
            print("  grad %-28s zero up to rounding: max|ours|, max|ref| / max|beta grad| = "
                  "%.3g, %.3g" % (p, ro, rr))
            check(ro <= ZERO_TOL and rr <= ZERO_TOL, "%s gradient of %s not zero up to rounding: "
                  "%.3g, %.3g" % (name, p, ro, rr))
            continue
        else:
            r = rel(g, ref_g)
            print("  grad %-28s max|diff|/max|ref| = %.3g" % (p, r))
        worst = max(worst, r)
        check(r <= GRAD_TOL, "%s gradient of %s: %.3g" % (name, p, r))

    quantizers, observers = ref.quantizers, ref.observers
    check(len(quantizers) == n_q, "%s: %d quantizers, reference %d" % (name, n_q, len(quantizers)))
    by_input = {q["input"]: k for k, q in enumerate(quantizers)}
    # 1. Observers: PyTorch's observer, from the same initial state, on the
    # input our forward computed, gives our new state bit for bit.
    obs_bad = 0
    for o in observers:
        k = by_input.get(o["input"])
        if k is None or None in o["states"]:
            continue
        lo, hi = observe(o["attrs"], o["init"], our_x[k])
        for st, v in zip(o["states"], (lo, hi)):
            u = ulps(state[st], v.numpy())
            obs_bad += u != 0
            check(u == 0, "%s observer state %s: %d ulp from PyTorch's observer on our input"
                  % (name, st, u))
    # 2. Clip masks: PyTorch's fake-quant backward on our input, with the
    # parameters PyTorch computes from our observer state, equals our mask.
    mask_bad, mask_total = 0, 0
    for k, q in enumerate(quantizers):
        if q["name"] == "qat.lsq" or not q["observers"]:
            s, z = q["s"].detach(), q["z"].detach()
        else:
            los = [torch.tensor(state[observers[i]["states"][0]]) for i in q["observers"]]
            his = [torch.tensor(state[observers[i]["states"][1]]) for i in q["observers"]]
            lo, hi = los[0], his[0]
            for a, b in zip(los[1:], his[1:]):
                lo, hi = torch.minimum(lo, a), torch.maximum(hi, b)
            s, z = calculate_qparams(lo, hi, q["choose"])
        m = pytorch_mask(q["name"], q["attrs"], our_x[k], s, z)
        mask_bad += int(np.sum(m != our_mask[k]))
        mask_total += m.size
    print("  clip masks: %d quantizers, %d elements, %d differ from PyTorch's backward "
          "on our inputs" % (n_q, mask_total, mask_bad))
    check(mask_bad == 0, "%s clip masks: %d of %d differ" % (name, mask_bad, mask_total))
    # 3. End to end (PyTorch's own forward): masks and state differ only
    # where the float sums of the layers before give a different input.
    e2e_masks = quantizer_masks([(q["x"], q["s"], q["z"], q["attrs"]) for q in quantizers])
    ours_masks = [np.asarray(m) != 0 for m in our_mask]
    diff_x = [np.asarray(a) != q["x"].numpy() for a, q in zip(our_x, quantizers)]
    unexplained = sum(int(np.sum((a != b) & ~d)) for a, b, d in
                      zip(ours_masks, e2e_masks, diff_x))
    differ = sum(int(np.sum(a != b)) for a, b in zip(ours_masks, e2e_masks))
    inputs_differ = sum(int(np.sum(d)) for d in diff_x)
    worst_ulp = max([ulps(state[s], ref.state[s].numpy()) for s in states] or [0])
    print("  against PyTorch's own forward: %d mask elements differ (%d where the "
          "inputs are equal), %d quantizer input elements differ in the last bits; state "
          "within %d ulp" % (differ, unexplained, inputs_differ, worst_ulp))
    check(unexplained == 0, "%s: %d mask elements differ on equal inputs" % (name, unexplained))
    return worst


def sgd_steps(name, text, generic, entry, xs, ys, loss_kind, lr, steps):
    mod = Module(generic)
    params = mod.parameters()
    ptypes = [mod.global_attrs[p]["type"] for p in params]
    xt, yt = ttype(xs.shape, NP_ET[xs.dtype]), ttype(ys.shape, NP_ET[ys.dtype])
    x1, y1 = ttype(xs.shape[1:], NP_ET[xs.dtype]), ttype(ys.shape[1:], NP_ET[ys.dtype])
    zeros = ", ".join(["0"] * (len(xs.shape) - 1))
    yzeros = ", ".join(["0"] * (len(ys.shape) - 1))
    step_res = "tensor<f32>, tensor<1xi32>" if loss_kind == "cross-entropy" else "tensor<f32>"
    xsizes = ", ".join(str(d) for d in (1,) + xs.shape[1:])
    ysizes = ", ".join(str(d) for d in (1,) + ys.shape[1:])
    ones_x = ", ".join(["1"] * len(xs.shape))
    ones_y = ", ".join(["1"] * len(ys.shape))
    driver = """  func.func @driver(%%xs: %s, %%ys: %s, %%lr: tensor<f64>) -> (%s) {
    %%c0 = arith.constant 0 : index
    %%c1 = arith.constant 1 : index
    %%n = arith.constant %d : index
    scf.for %%i = %%c0 to %%n step %%c1 {
      %%x = tensor.extract_slice %%xs[%%i, %s] [%s] [%s] : %s to %s
      %%y = tensor.extract_slice %%ys[%%i, %s] [%s] [%s] : %s to %s
      %%r:%d = func.call @%s_train_step(%%x, %%y, %%lr) : (%s, %s, tensor<f64>) -> (%s)
    }
    %%p:%d = func.call @%s_get_parameters() : () -> (%s)
    return %s : %s
  }""" % (xt, yt, ", ".join(ptypes), steps, zeros, xsizes, ones_x, xt, x1, yzeros, ysizes,
          ones_y, yt, y1, 2 if loss_kind == "cross-entropy" else 1, entry, x1, y1, step_res,
          len(params), entry, ", ".join(ptypes),
          ", ".join("%%p#%d" % i for i in range(len(params))), ", ".join(ptypes))
    if len(params) == 1:
        driver = driver.replace("%p:1 = ", "%p = ").replace("%p#0", "%p")
    ours = run_driver(text, driver, [xs, ys, np.array(lr, np.float64)], len(params))

    ref = Reference(generic, entry)
    opt = torch.optim.SGD(list(ref.params.values()), lr=lr, momentum=0.9, weight_decay=1e-4)
    for s in range(steps):
        opt.zero_grad()
        y = ref.forward(torch.tensor(xs[s]))[0]
        if loss_kind == "cross-entropy":
            loss = F.cross_entropy(y, torch.tensor(ys[s], dtype=torch.int64))
        else:
            loss = F.mse_loss(y, torch.tensor(ys[s]))
        loss.backward()
        opt.step()
    worst = 0.0
    for p, o in zip(params, ours):
        r = rel(o, ref.params[p].detach().numpy())
        worst = max(worst, r)
        print("  after %d steps %-22s max|diff|/max|ref| = %.3g" % (steps, p, r))
        check(r <= STEP_TOL, "%s after %d steps, %s: %.3g" % (name, steps, p, r))
    return worst


def fashion_mnist():
    import fmnist
    with open(os.path.join(HERE, "..", "..", "examples", "fashion_mnist", "model.mlir")) as f:
        text = f.read()
    x, y = fmnist.load("train")
    return "fashion_mnist", text, "main", x, y.astype(np.int32), "cross-entropy"


def exported_block(kind):
    import qat_mlir
    import torchvision.models.mobilenetv2 as mv2
    import torchvision.models.resnet as rn
    torch.manual_seed(16 if kind == "resnet" else 17)
    if kind == "resnet":
        ds = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 1, 2, bias=False),
                                 torch.nn.BatchNorm2d(16))
        net = rn.BasicBlock(8, 16, stride=2, downsample=ds)
        shape = (4, 8, 9, 9)
    else:
        net = mv2.InvertedResidual(16, 16, 1, 6)
        shape = (4, 16, 8, 8)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    net.eval()
    x = torch.randn(shape)
    text = qat_mlir.export(net, x, name="block")
    out = net(x).shape
    rng = np.random.default_rng(5)
    xs = rng.standard_normal((20,) + shape).astype(np.float32)
    ys = rng.standard_normal((20,) + tuple(out)).astype(np.float32)
    return ("%s_block" % kind, text, "block", xs, ys, "mse")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--models", default="fashion_mnist,resnet,mobilenet")
    ap.add_argument("--targets", default="x86,bpu")
    ap.add_argument("--bn", default="fold,train",
                    help="batch-norm modes: fold (folded before training), train "
                         "(ConvBn2d: batch statistics, running statistics updated)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = {"fashion_mnist": fashion_mnist, "resnet": lambda: exported_block("resnet"),
              "mobilenet": lambda: exported_block("mobilenet")}
    for key in args.models.split(","):
        name, text, entry, xs, ys, loss = models[key]()
        for target, bn in [(t, b) for t in args.targets.split(",") for b in args.bn.split(",")]:
            opts = "loss=%s momentum=0.9 weight-decay=1e-4" % loss
            mtext, generic = trainable(text, target, entry, opts, bn_mode=bn)
            if bn == "train" and "bn_running" not in mtext:
                check(False, "%s %s: bn-mode=train found no batch norm" % (name, target))
            tag = "%s %s %s" % (name, target, bn)
            if name == "fashion_mnist":
                x0, y0 = xs[:32], ys[:32]
            else:
                x0, y0 = xs[0], ys[0]
            one_step(tag, mtext, generic, entry, x0, y0, loss)
            # --quick: the 20 steps in the folded mode only (with batch
            # statistics, a last-bit difference in a batch mean moves
            # activation codes after batch norm within a few steps).
            if not args.quick or (name == "fashion_mnist" and bn == "fold"):
                if name == "fashion_mnist":
                    bx = xs[32:32 * 21].reshape(20, 32, 28, 28, 1)
                    by = ys[32:32 * 21].reshape(20, 32)
                else:
                    bx, by = xs, ys
                sgd_steps(tag, mtext, generic, entry, bx, by, loss, 0.01, 20)
    finish()


if __name__ == "__main__":
    main()
