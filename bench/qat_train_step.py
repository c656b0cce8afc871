#!/usr/bin/env python3
"""QAT training step time: qat-mlir's compiled step against PyTorch 1.13
eager QAT on the same model and batch (docs/Training.md, issue 16).

    /usr/bin/python3 bench/qat_train_step.py [--models fmnist,resnet_block]
        [--threads 1,2] [--rounds 5] [--steps 20] [--bn-modes fold,train]
        [--numerics fake-quant,deployed]

Models (float weights, prepared for x86):
- fmnist: the bundled Fashion-MNIST CNN (batch 32, 28x28x1, conv-bn-relu-pool
  twice, linear), real images;
- resnet_block: a torchvision ResNet BasicBlock 64->64 at 28x28, batch 8,
  MSE against a random target.

Ours: qat_mlir.training.Trainer (forward with observers and fake
quantizers, backward, SGD with momentum, compiled once; one call per step),
batch norm folded before training (bn fold) or trained on batch statistics
as the peer's ConvBnReLU2d (bn train), one row each.
Ours runs on --threads OpenMP threads (Trainer(threads=T): the fp32
kernels of docs/Kernels.md split their outputs; kernels below the default
parallel-min-macs, 2^23 multiply-adds, stay on one thread, as do the
elementwise loops), one compiled step per thread count.

Peer: the same network in PyTorch 1.13 eager mode, conv+bn(+relu) fused
(ConvBnReLU2d), prepare_qat with get_default_qat_qconfig("onednn") (u8
activations, s8 per-channel weights, FusedMovingAvgObsFakeQuantize: fused
observer + fake quantization), one step = zero_grad, forward, loss,
backward, torch.optim.SGD step; torch.set_num_threads(T).

Protocol: both warm up, then --rounds interleaved rounds of --steps steps
each (ours, peer, ours, peer, ...); the median per-step time of each, and
the ratio ours / peer (> 1: ours slower). Run on an otherwise idle machine
(no build beside it).
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "python"))
sys.path.insert(0, os.path.join(HERE, "..", "examples", "fashion_mnist"))


def fmnist_case():
    import fmnist
    x, y = fmnist.load("train")
    net = fmnist.load_net()
    xb = torch.from_numpy(x[:32]).permute(0, 3, 1, 2).contiguous()
    yb = torch.from_numpy(y[:32])
    fuse = [["net.0", "net.1", "net.2"], ["net.4", "net.5", "net.6"]]
    return "fmnist (batch 32)", net, xb, yb, "cross-entropy", fuse


def resnet_case():
    import torchvision.models.resnet as rn
    torch.manual_seed(0)
    net = rn.BasicBlock(64, 64).eval()
    xb = torch.randn(8, 64, 28, 28)
    yb = torch.randn(8, 64, 28, 28)
    # BasicBlock runs its one ReLU module twice (after bn1 and after the
    # add): fusing it into conv1 would drop the second; conv+bn only.
    fuse = [["net.conv1", "net.bn1"], ["net.conv2", "net.bn2"]]
    return "resnet BasicBlock 64 @28 (batch 8)", net, xb, yb, "mse", fuse


class Wrapped(nn.Module):
    def __init__(self, net):
        super().__init__()
        import torch.ao.quantization as tq
        self.quant, self.net, self.dequant = tq.QuantStub(), net, tq.DeQuantStub()

    def forward(self, v):
        return self.dequant(self.net(self.quant(v)))


def peer_step_fn(net, xb, yb, loss, fuse):
    import copy
    import torch.ao.quantization as tq
    torch.backends.quantized.engine = "onednn"
    model = Wrapped(copy.deepcopy(net)).train()
    tq.fuse_modules_qat(model, fuse, inplace=True)
    model.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.prepare_qat(model, inplace=True)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    lossf = F.cross_entropy if loss == "cross-entropy" else F.mse_loss

    def step():
        opt.zero_grad()
        lossf(model(xb), yb).backward()
        opt.step()
    return step


def ours_step_fn(net, xb, yb, loss, bn_mode="fold", numerics="fake-quant", target="x86",
                 threads=1):
    import qat_mlir
    from qat_mlir import passes, training
    text = qat_mlir.export(net, xb)
    if numerics == "deployed":
        # Deployed numerics train a calibrated model with frozen quantizers
        # and batch norm folded (docs/Deployed.md): calibrated here on the
        # bench batch.
        text = passes.calibrate(passes.prepare(text, target), "main", [xb.numpy()],
                                progress=False)
        tr = training.Trainer(text, target=target, prepared=True, loss=loss, momentum=0.9,
                              numerics="deployed", threads=threads)
    else:
        tr = training.Trainer(text, target=target, loss=loss, momentum=0.9, bn_mode=bn_mode,
                              threads=threads)
    x = xb.numpy()
    y = yb.numpy().astype(np.int32) if loss == "cross-entropy" else yb.numpy()

    def step():
        tr.step(x, y, 1e-3)
    return step


def timed(fn, steps):
    start = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - start) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", default="fmnist,resnet_block")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--bn-modes", default="fold,train",
                    help="ours: batch norm folded before training (fold) or trained as "
                         "ConvBn2d on batch statistics (train, as the peer's ConvBnReLU2d)")
    ap.add_argument("--numerics", default="fake-quant",
                    help="ours in numerics fake-quant, deployed, or both (fake-quant,deployed: "
                         "each against the same peer, and deployed / fake-quant with bn "
                         "fold); deployed numerics fold batch norm (one row)")
    args = ap.parse_args()
    cases = {"fmnist": fmnist_case, "resnet_block": resnet_case}
    print("QAT training step, x86 (ours: compiled step; peer: PyTorch %s eager QAT, onednn "
          "qconfig, fused fake quant); median of %d interleaved rounds of %d steps"
          % (torch.__version__, args.rounds, args.steps))
    for key in args.models.split(","):
        name, net, xb, yb, loss, fuse = cases[key]()
        numerics = args.numerics.split(",")
        modes = [(bn, "fake-quant") for bn in args.bn_modes.split(",")
                 if "fake-quant" in numerics]
        if "deployed" in numerics:
            modes.append(("fold", "deployed"))
        for threads in [int(t) for t in args.threads.split(",")]:
            ours = {m: ours_step_fn(net, xb, yb, loss, m[0], m[1], threads=threads)
                    for m in modes}
            torch.set_num_threads(threads)
            peer = peer_step_fn(net, xb, yb, loss, fuse)
            for fn in list(ours.values()) + [peer]:
                timed(fn, 3)
            a, b = {m: [] for m in modes}, []
            for _ in range(args.rounds):
                for m in modes:
                    a[m].append(timed(ours[m], args.steps))
                b.append(timed(peer, args.steps))
            mb = statistics.median(b)
            ma = {m: statistics.median(a[m]) for m in modes}
            for m in modes:
                print("%-36s threads %d: ours (bn %-5s %-10s) %8.2f ms  PyTorch %8.2f ms  "
                      "ratio ours/PyTorch %.2f" % (name, threads, m[0] + ",", m[1], 1e3 * ma[m],
                                                   1e3 * mb, ma[m] / mb), flush=True)
            if ("fold", "deployed") in ma and ("fold", "fake-quant") in ma:
                print("%-36s threads %d: deployed / fake-quant step time (bn fold) %.2f"
                      % (name, threads, ma[("fold", "deployed")] / ma[("fold", "fake-quant")]),
                      flush=True)


if __name__ == "__main__":
    main()
