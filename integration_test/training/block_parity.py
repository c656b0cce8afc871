# REQUIRES: torch
# RUN: %python %s
#
# One QAT step of a ResNet basic block with a strided downsample and of a
# MobileNetV2 inverted residual (torchvision's modules, random weights and
# batch-norm statistics: gradient_parity.exported_block) against PyTorch
# 1.13's own eager QAT modules, not an interpreter of our IR: for each
# target (x86, bpu) and batch-norm mode,
#   - train: every conv + batch norm (+ ReLU) is torch.ao's
#     ConvBnReLU2d / ConvBn2d (nni fused module -> nniqat .from_float;
#     batch statistics, running statistics updated, the weight quantizer on
#     W * gamma / sqrt(running_var + eps)); ReLU6 (MobileNetV2) as F.relu6
#     after a ConvBn2d;
#   - fold: batch norm folded before training (fuse_conv_bn_eval), then
#     nniqat.ConvReLU2d / nnqat.Conv2d;
# with torch.ao FakeQuantize modules where our target puts its quantizers
# (qat-prepare): the block's input; each conv's weight (x86: s8 symmetric
# per output channel, bpu: s8 symmetric per tensor, from the current
# weight's range); the output of each conv + ReLU; the downsample's output;
# the block's output after the residual add (+ ReLU). The conv before the
# add is not quantized (it fuses into the add). Activations: x86 u8 affine,
# bpu s8 symmetric per tensor, MovingAverageMinMaxObserver (0.01).
# PyTorch's parameters are loaded from our trainable module's (the same
# weights; fold: our folded ones, which are compared with
# fuse_conv_bn_eval's and printed), the input is fed channels last (our
# NHWC: PyTorch's batch norm then sums as qat.batch_norm_train does), loss
# MSE against a random target, batch 4. Checked, one step:
#   - every parameter gradient within 1e-5 of PyTorch's (max|diff| /
#     max|ref|, each printed); a conv bias before batch norm on batch
#     statistics (zero up to rounding in both) below P * 2^-24 of beta's
#     gradient in both;
#   - every quantizer's clip mask identical (ours from
#     qat-generate-train-step{return-quantizer-inputs}, PyTorch's from its
#     FakeQuantize modules' inputs and parameters);
#   - observer ranges (activations and weights) and batch-norm running
#     statistics after the step within 1 ulp.
import argparse
import copy
import os
import sys

import numpy as np
import torch
import torch.nn.intrinsic as nni
import torch.nn.intrinsic.qat as nniqat
import torch.nn.qat as nnqat
import torch.ao.quantization as tq
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.fusion import fuse_conv_bn_eval

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import qat_mlir  # noqa: E402
from common import check, finish, rel, ulps  # noqa: E402
from convbn_parity import qconfig  # noqa: E402
from gradient_parity import exported_block  # noqa: E402
from qat_mlir import passes, training  # noqa: E402

GRAD_TOL = 1e-5
# A conv bias before batch norm on batch statistics has a gradient that is
# zero up to rounding: a sum over P = N*H*W <= 256 positions, below
# P * 2^-24 of the scale of beta's gradient.
ZERO_TOL = 256 * 2.0 ** -24


def qat_conv(conv, bn, qc, bn_mode, relu):
    """The torch.ao QAT module of conv + bn (+ ReLU)."""
    conv, bn = copy.deepcopy(conv), copy.deepcopy(bn)
    if bn_mode == "train":
        if conv.bias is None:  # ours has a (zero) bias before batch norm
            conv.bias = nn.Parameter(torch.zeros(conv.out_channels))
        fused = nni.ConvBnReLU2d(conv, bn, nn.ReLU()) if relu else nni.ConvBn2d(conv, bn)
        fused.qconfig = qc
        return (nniqat.ConvBnReLU2d if relu else nniqat.ConvBn2d).from_float(fused).train()
    folded = fuse_conv_bn_eval(conv.eval(), bn.eval())
    if relu:
        fused = nni.ConvReLU2d(folded, nn.ReLU())
        fused.qconfig = folded.qconfig = qc  # from_float reads the conv's
        return nniqat.ConvReLU2d.from_float(fused).train()
    folded.qconfig = qc
    return nnqat.Conv2d.from_float(folded).train()


class ResNetBlock(nn.Module):
    def __init__(self, net, qc, bn_mode):
        super().__init__()
        self.q_in, self.q1, self.q2, self.q3 = (qc.activation() for _ in range(4))
        self.c1 = qat_conv(net.conv1, net.bn1, qc, bn_mode, relu=True)
        self.c2 = qat_conv(net.conv2, net.bn2, qc, bn_mode, relu=False)
        self.ds = qat_conv(net.downsample[0], net.downsample[1], qc, bn_mode, relu=False)
        # our names -> (module, float conv, float bn)
        self.layers = {"conv0": (self.c1, net.conv1, net.bn1),
                       "conv1": (self.c2, net.conv2, net.bn2),
                       "conv2": (self.ds, net.downsample[0], net.downsample[1])}

    def forward(self, x):
        x = self.q_in(x)
        a = self.q1(self.c1(x))
        b = self.c2(a)
        d = self.q2(self.ds(x))
        return self.q3(F.relu(b + d))


class MobileNetBlock(nn.Module):
    def __init__(self, net, qc, bn_mode):
        super().__init__()
        self.q_in, self.q1, self.q2, self.q3 = (qc.activation() for _ in range(4))
        c = net.conv
        self.e = qat_conv(c[0][0], c[0][1], qc, bn_mode, relu=False)
        self.dw = qat_conv(c[1][0], c[1][1], qc, bn_mode, relu=False)
        self.p = qat_conv(c[2], c[3], qc, bn_mode, relu=False)
        self.layers = {"conv0": (self.e, c[0][0], c[0][1]), "dwconv0": (self.dw, c[1][0], c[1][1]),
                       "conv1": (self.p, c[2], c[3])}

    def forward(self, x):
        x = self.q_in(x)
        a = self.q1(F.relu6(self.e(x)))
        b = self.q2(F.relu6(self.dw(a)))
        return self.q3(x + self.p(b))


def to_ours(name, t):
    """PyTorch layout -> ours (conv OIHW -> OHWI; depthwise [C, 1, kh, kw]
    -> HWCM)."""
    if t.dim() == 4:
        return t.permute(2, 3, 0, 1) if name.startswith("dwconv") else t.permute(0, 2, 3, 1)
    return t


def from_ours(name, a, like):
    t = torch.from_numpy(np.ascontiguousarray(a))
    if t.dim() == 4:
        t = t.permute(2, 3, 0, 1) if name.startswith("dwconv") else t.permute(0, 3, 1, 2)
    return t.reshape(like.shape)


def torch_params(model, bn_mode):
    """Our parameter names -> PyTorch's tensors."""
    out = {}
    for k, (m, _, _) in model.layers.items():
        out[k + "_weight"] = m.weight
        out[k + "_bias"] = m.bias
        if bn_mode == "train":
            out[k + "_bn_weight"] = m.bn.weight
            out[k + "_bn_bias"] = m.bn.bias
    return out


class Masks:
    """Every FakeQuantize module's input and clip mask during a forward
    (PyTorch's cachemask rule: the code before clamping in range)."""

    def __init__(self, model):
        self.seen = []
        self.handles = [m.register_forward_hook(self._hook(n)) for n, m in model.named_modules()
                        if isinstance(m, tq.FakeQuantize)]

    def _hook(self, name):
        def hook(m, inputs, output):
            x = inputs[0].detach()
            scale, zp = m.scale, m.zero_point
            if m.is_per_channel:
                shape = [1] * x.dim()
                shape[m.ch_axis] = -1
                scale, zp = scale.reshape(shape), zp.reshape(shape)
            q = torch.round(x * (1.0 / scale)) + zp
            self.seen.append((name, x, (q >= m.quant_min) & (q <= m.quant_max)))
        return hook


def run(kind, target, bn_mode):
    tag = "%s %s %s" % (kind, target, bn_mode)
    name, text, entry, xs, ys, loss = exported_block(kind)
    torch.manual_seed(16 if kind == "resnet" else 17)  # exported_block's float net again
    net = block_net(kind)

    # Ours: the trainable module with every quantizer's input and mask.
    record = " record-bn=true" if bn_mode == "train" else ""
    prepared = passes._apply(text, "qat-prepare{target=%s%s}" % (target, record))
    mlir = passes._apply(prepared, "qat-make-trainable{entry=%s bn-mode=%s},"
                         "qat-generate-train-step{%s return-quantizer-inputs}"
                         % (entry, bn_mode, training.train_step_options(loss="mse",
                                                                        entry=entry)),
                         debug_info=False)
    names = training.global_names(mlir)
    mod = qat_mlir.compile(mlir, entry=[entry + "_gradients", entry + "_get_state"])
    state0 = dict(zip(names, mod[entry + "_get_state"]()))

    qc = qconfig(target)
    model = (ResNetBlock if kind == "resnet" else MobileNetBlock)(net, qc, bn_mode).train()
    tp = torch_params(model, bn_mode)
    params = [n for n in names if n in tp]
    check(len(params) == len(tp), "%s: parameters %s, PyTorch's %s" % (tag, params, sorted(tp)))
    if bn_mode == "fold":
        # Our folded weights against fuse_conv_bn_eval's, then PyTorch gets ours.
        fw = max(ulps(state0[n], to_ours(n, tp[n].detach()).numpy()) for n in params
                 if n.endswith("_weight"))
        fb = max(ulps(state0[n], tp[n].detach().numpy()) for n in params if n.endswith("_bias"))
        print("%s: our folded weights within %d ulp, biases %d ulp of fuse_conv_bn_eval's "
              "(PyTorch gets ours)" % (tag, fw, fb))
    with torch.no_grad():
        for n in params:
            tp[n].copy_(from_ours(n, state0[n], tp[n]))
        if bn_mode == "train":
            for k, (m, _, _) in model.layers.items():
                for s in ("mean", "var"):
                    ref = getattr(m.bn, "running_" + s)
                    check(np.array_equal(state0["%s_bn_running_%s" % (k, s)], ref.numpy()),
                          "%s %s: initial running %s differ" % (tag, k, s))

    x = torch.from_numpy(xs[0]).contiguous(memory_format=torch.channels_last)
    target_t = torch.from_numpy(ys[0])
    masks = Masks(model)
    bn_inputs = {}
    if bn_mode == "train":
        for k, (m, _, _) in model.layers.items():
            m.bn.register_forward_pre_hook(
                lambda mod, inp, k=k: bn_inputs.__setitem__(k, inp[0].detach().numpy()))
    out = model(x)
    ref_loss = F.mse_loss(out, target_t)
    ref_loss.backward()
    res = mod[entry + "_gradients"](xs[0], ys[0])
    loss, grads = res[0], res[1:1 + len(params)]
    qouts = res[1 + len(params):]
    our_x, our_mask = qouts[0::2], qouts[1::2]
    state = dict(zip(names, mod[entry + "_get_state"]()))
    print("%s: loss ours %.7g, PyTorch %.7g" % (tag, float(loss), float(ref_loss)))
    check(rel(loss, ref_loss.item()) <= GRAD_TOL, "%s loss" % tag)

    worst = 0.0
    for n, g in zip(params, grads):
        ref_g = to_ours(n, tp[n].grad).numpy()
        if bn_mode == "train" and n.endswith("_bias") and not n.endswith("_bn_bias"):
            beta = float(np.max(np.abs(tp[n[:-len("_bias")] + "_bn_bias"].grad.numpy())))
            ro, rr = float(np.max(np.abs(g))) / beta, float(np.max(np.abs(ref_g))) / beta
            print("  grad %-20s zero up to rounding: max|ours|, max|PyTorch| / max|beta grad| "
                  "= %.3g, %.3g" % (n, ro, rr))
            check(ro <= ZERO_TOL and rr <= ZERO_TOL, "%s gradient of %s not zero up to "
                  "rounding: %.3g, %.3g" % (tag, n, ro, rr))
            continue
        r = rel(g, ref_g)
        worst = max(worst, r)
        print("  grad %-20s max|diff|/max|ref| = %.3g" % (n, r))
        check(r <= GRAD_TOL, "%s gradient of %s: %.3g" % (tag, n, r))

    # Masks, in program order (ours) = call order (PyTorch).
    check(len(masks.seen) == len(our_mask), "%s: %d quantizers, PyTorch %d"
          % (tag, len(our_mask), len(masks.seen)))
    bad = total = 0
    xdiff = 0.0
    for (qname, tx, tm), ox, om in zip(masks.seen, our_x, our_mask):
        if tx.dim() == 4 and "weight" in qname:
            lay = "dwconv" if qname.startswith("dw") else "conv"
            tm, tx = to_ours(lay, tm), to_ours(lay, tx)
        elif tx.dim() == 4:
            tm, tx = tm.permute(0, 2, 3, 1), tx.permute(0, 2, 3, 1)  # NCHW -> NHWC
        tm = tm.numpy()
        om = np.asarray(om) != 0
        if tm.shape != om.shape:
            check(False, "%s quantizer %s: shape %s, ours %s" % (tag, qname, tm.shape, om.shape))
            continue
        bad += int(np.sum(tm != om))
        total += tm.size
        xdiff = max(xdiff, rel(ox, tx.numpy()))
    print("  clip masks: %d quantizers, %d elements, %d differ; quantizer inputs within %.2g"
          % (len(our_mask), total, bad, xdiff))
    check(bad == 0, "%s clip masks: %d of %d differ" % (tag, bad, total))

    # Observer ranges after the step. From the initial (inf, -inf) a
    # moving-average observer takes the batch's min and max: ours must be
    # exactly those of our quantizer input; against PyTorch's own forward
    # they differ only as the extreme inputs do (float sums of the conv
    # before in another order), by at most 1 ulp or the difference of the
    # two inputs' extremes.
    seen = {q[0]: k for k, q in enumerate(masks.seen)}
    worst_u = 0
    for i, a in enumerate(("q_in", "q1", "q2", "q3")):
        o = getattr(model, a).activation_post_process
        ox = np.asarray(our_x[seen[a]])
        tx = masks.seen[seen[a]][1].numpy()
        for s, v, f in (("min", o.min_val, np.min), ("max", o.max_val, np.max)):
            ours = state["act%d_%s" % (i, s)]
            check(ulps(ours, f(ox)) == 0, "%s act%d %s: not our input's %s" % (tag, i, s, s))
            u = ulps(ours, v.numpy())
            worst_u = max(worst_u, u)
            check(u <= max(1, ulps(f(ox), f(tx))), "%s act%d %s: %d ulp from PyTorch's"
                  % (tag, i, s, u))
    # Weight ranges (the current weight's; bn train: of W * gamma / sigma).
    for k, (m, _, _) in model.layers.items():
        o = m.weight_fake_quant.activation_post_process
        for s, v in (("min", o.min_val), ("max", o.max_val)):
            u = ulps(state["%s_weight_%s" % (k, s)], v.numpy())
            worst_u = max(worst_u, u)
            check(u <= 1, "%s %s weight %s: %d ulp" % (tag, k, s, u))
    # Running statistics within 1 ulp; a running mean where the batch mean
    # cancels (|mean| far below the inputs) within 0.4 ulp of the channel's
    # largest batch-norm input (momentum 0.1 times the mean of inputs that
    # differ by a few ulps: the conv's float sums in another order).
    stat_u = 0
    if bn_mode == "train":
        for k, (m, _, _) in model.layers.items():
            big = np.max(np.abs(bn_inputs[k]), axis=(0, 2, 3)).astype(np.float32)
            for s, v in (("mean", m.bn.running_mean), ("var", m.bn.running_var)):
                ours, ref = state["%s_bn_running_%s" % (k, s)], v.numpy()
                u = ulps(ours, ref)
                stat_u = max(stat_u, u)
                ok = u <= 1
                if not ok and s == "mean":
                    d = np.abs(ours.astype(np.float64) - ref) - np.spacing(np.abs(ref))
                    worst_big = float(np.max(d / np.spacing(big)))
                    print("  %s running mean: %d ulp; max |diff| = %.2g ulp of the channel's "
                          "largest input" % (k, u, worst_big))
                    ok = worst_big <= 0.4
                check(ok, "%s %s running %s: %d ulp" % (tag, k, s, u))
    print("%s: gradients within %.2g, masks equal: %s, observer ranges within %d ulp%s"
          % (tag, worst, bad == 0, worst_u,
             ", running statistics within %d ulp" % stat_u if bn_mode == "train" else ""))


def block_net(kind):
    """exported_block's float module (the same seed and initialisation)."""
    import torchvision.models.mobilenetv2 as mv2
    import torchvision.models.resnet as rn
    torch.manual_seed(16 if kind == "resnet" else 17)
    if kind == "resnet":
        ds = nn.Sequential(nn.Conv2d(8, 16, 1, 2, bias=False), nn.BatchNorm2d(16))
        net = rn.BasicBlock(8, 16, stride=2, downsample=ds)
    else:
        net = mv2.InvertedResidual(16, 16, 1, 6)
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return net.eval()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="resnet,mobilenet")
    ap.add_argument("--targets", default="x86,bpu")
    ap.add_argument("--bn", default="fold,train")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for kind in args.models.split(","):
        for target in args.targets.split(","):
            for bn in args.bn.split(","):
                run(kind, target, bn)
    finish()


if __name__ == "__main__":
    main()
