#!/usr/bin/env python3
"""QAT fine-tuning of the bundled Fashion-MNIST CNN in the compiler, against
PyTorch 1.13 eager QAT on the same recipe (docs/Training.md, "End to end").

    /usr/bin/python3 examples/fashion_mnist/qat_train.py [--targets x86,bpu]
        [--epochs 1] [--lr 0.001] [--momentum 0.9] [--weight-decay 0]
        [--batch 32] [--seed 0] [--via trainer,prepare_qat,qat-train] [--no-pytorch]
        [--bn-mode fold|train]

Recipe (both): start from the bundled float checkpoint (model.npz, the
weights of model.mlir), batches of --batch training images in the order of
numpy.random.default_rng(seed).permutation, SGD with momentum (and weight
decay) at a constant learning rate, cross-entropy, observers on from the
first batch (no separate calibration), --epochs epochs.

Ours, three ways (--via), each prepared for the target by qat-prepare
(batch norm folded, fake quantizers and observers) and compiled once:
- trainer: qat_mlir.training.Trainer, the whole step (forward, backward,
  SGD) compiled, called per batch in this process;
- prepare_qat: qat_mlir.prepare_qat(net, ...), a torch.nn.Module whose
  forward and backward are compiled, in a PyTorch loop (F.cross_entropy,
  torch.optim.SGD);
- qat-train: the tool, on the batches written to .npy in the same order.
Each gives the int8 model (qat-finish-training, qat-freeze-qparams,
qat-convert-to-integer), compiled and run on the 10,000 test images; its
float simulation is run too and must give the same logits bit for bit.

PyTorch: the same network with QuantStub/DeQuantStub, conv+bn+relu fused
(ConvBnReLU2d: batch norm with batch statistics during training, folded at
convert), prepare_qat with
- x86: get_default_qat_qconfig("onednn") (u8 activations over the full
  range, s8 per-channel symmetric weights, fused fake quantization), then
  torch.ao.quantization.convert and the onednn int8 engine;
- bpu: s8 symmetric per-tensor activations and weights (the bpu target's
  scheme); PyTorch's int8 engines take no s8 activations, so its accuracy
  is the QAT model's (fake quantization, eval mode).
Prints float accuracy, ours and PyTorch's per target, and times per step.
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import fmnist  # noqa: E402


def batches(n, batch, seed, epoch):
    perm = np.random.default_rng(seed + 1000003 * epoch).permutation(n)
    return [perm[i:i + batch] for i in range(0, n - batch + 1, batch)]


def evaluate_int8(int8_mlir, sim_mlir, xt, yt, batch):
    """Accuracy of the int8 model on the test images, and how many of its
    logits differ from its float simulation's."""
    import qat_mlir
    int8, sim = qat_mlir.compile(int8_mlir), qat_mlir.compile(sim_mlir)
    n = (len(xt) + batch - 1) // batch * batch
    pad = np.zeros((n,) + xt.shape[1:], np.float32)
    pad[:len(xt)] = xt
    a = int8(pad, split=True)[:len(xt)]
    b = sim(pad, split=True)[:len(xt)]
    return 100.0 * np.mean(a.argmax(1) == yt), int(np.sum(a != b)), a.size


def ours_trainer(target, args, x, y, xt, yt):
    """qat_mlir.training.Trainer: the whole step (forward, backward, SGD)
    compiled, called once per batch."""
    from qat_mlir import training
    text = fmnist.export_tosa(fmnist.load_net(), args.batch)
    start = time.perf_counter()
    tr = training.Trainer(text, target=target, momentum=args.momentum,
                          weight_decay=args.weight_decay, bn_mode=args.bn_mode)
    compile_s = time.perf_counter() - start
    steps, start = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for idx in batches(len(x), args.batch, args.seed, epoch):
            loss, _ = tr.step(x[idx], y[idx], args.lr)
            if not np.isfinite(loss):
                sys.exit("%s: loss %r at step %d" % (target, loss, steps))
            steps += 1
    step_ms = 1e3 * (time.perf_counter() - start) / steps
    return evaluate_int8(tr.convert(), tr.convert(simulate=True), xt, yt, args.batch) + (
        step_ms, compile_s)


def ours_prepare_qat(target, args, x, y, xt, yt):
    """qat_mlir.prepare_qat: a torch.nn.Module (compiled forward and
    backward) in a PyTorch loop with F.cross_entropy and torch.optim.SGD."""
    import qat_mlir
    import torch
    X = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    Y = torch.from_numpy(y.astype(np.int64))
    start = time.perf_counter()
    model = qat_mlir.prepare_qat(fmnist.load_net(), X[:args.batch], target=target,
                                 bn_mode=args.bn_mode)
    compile_s = time.perf_counter() - start
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    model.train()
    steps, start = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for idx in batches(len(x), args.batch, args.seed, epoch):
            ti = torch.from_numpy(idx)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[ti]), Y[ti]).backward()
            opt.step()
            steps += 1
    step_ms = 1e3 * (time.perf_counter() - start) / steps
    # The converted model keeps the exported interface: NCHW images.
    xt_nchw = np.ascontiguousarray(xt.transpose(0, 3, 1, 2))
    return evaluate_int8(model.convert(), model.convert(simulate=True), xt_nchw, yt,
                         args.batch) + (step_ms, compile_s)


def ours_tool(target, args, x, y, xt, yt):
    """qat-train on .npy files: the epochs' batches written in the recipe's
    order (--shuffle=false), one pass; -o the trained model."""
    import subprocess
    import tempfile
    import qat_mlir
    from qat_mlir import passes
    with tempfile.TemporaryDirectory() as tmp:
        order = np.concatenate([np.concatenate(batches(len(x), args.batch, args.seed, e))
                                for e in range(args.epochs)])
        np.save(os.path.join(tmp, "x.npy"), x[order])
        np.save(os.path.join(tmp, "y.npy"), y[order])
        with open(os.path.join(tmp, "model.mlir"), "w") as f:
            f.write(fmnist.export_tosa(fmnist.load_net(), args.batch))
        start = time.perf_counter()
        r = subprocess.run([qat_mlir.tool_path("qat-train"), "model.mlir", "--data", "x.npy",
                            "--labels", "y.npy", "--target", target, "--epochs", "1",
                            "--shuffle=false", "--lr", repr(args.lr),
                            "--bn-mode", args.bn_mode,
                            "--momentum", repr(args.momentum),
                            "--weight-decay", repr(args.weight_decay), "--print-every", "0",
                            "-o", "trained.mlir"], cwd=tmp, capture_output=True, text=True)
        if r.returncode:
            sys.exit(r.stderr)
        total_s = time.perf_counter() - start
        with open(os.path.join(tmp, "trained.mlir")) as f:
            frozen = passes.freeze(f.read())
    steps = len(order) // args.batch
    return evaluate_int8(passes.convert(frozen), passes.convert(frozen, simulate=True), xt, yt,
                         args.batch) + (1e3 * total_s / steps, 0.0)


OURS = {"trainer": ours_trainer, "prepare_qat": ours_prepare_qat, "qat-train": ours_tool}


def pytorch(target, args, x, y, xt, yt):
    import torch
    import torch.ao.quantization as tq
    from torch.ao.quantization.fake_quantize import FusedMovingAvgObsFakeQuantize
    from torch.ao.quantization.observer import MovingAverageMinMaxObserver
    torch.manual_seed(args.seed)
    net = fmnist.load_net()

    class Q(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.quant, self.net, self.dequant = tq.QuantStub(), net, tq.DeQuantStub()

        def forward(self, v):
            return self.dequant(self.net(self.quant(v)))
    model = Q(net).train()
    tq.fuse_modules_qat(model, [["net.0", "net.1", "net.2"], ["net.4", "net.5", "net.6"]],
                        inplace=True)
    if target == "x86":
        torch.backends.quantized.engine = "onednn"
        model.qconfig = tq.get_default_qat_qconfig("onednn")
    else:
        s8 = FusedMovingAvgObsFakeQuantize.with_args(
            observer=MovingAverageMinMaxObserver, quant_min=-128, quant_max=127,
            dtype=torch.qint8, qscheme=torch.per_tensor_symmetric)
        model.qconfig = tq.QConfig(activation=s8, weight=s8)
    tq.prepare_qat(model, inplace=True)
    opt = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum,
                          weight_decay=args.weight_decay)
    X = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    Y = torch.from_numpy(y.astype(np.int64))
    steps, start = 0, time.perf_counter()
    for epoch in range(args.epochs):
        for idx in batches(len(x), args.batch, args.seed, epoch):
            ti = torch.from_numpy(idx)
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(X[ti]), Y[ti]).backward()
            opt.step()
            steps += 1
    step_ms = 1e3 * (time.perf_counter() - start) / steps
    XT = torch.from_numpy(xt).permute(0, 3, 1, 2).contiguous()
    model.eval()
    with torch.no_grad():
        fq = 100.0 * float(np.mean(model(XT).argmax(1).numpy() == yt))
        if target == "x86":
            q = tq.convert(model)
            acc = 100.0 * float(np.mean(q(XT).argmax(1).numpy() == yt))
        else:
            acc = None
    return acc, fq, step_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--targets", default="x86,bpu")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=0.001)
    ap.add_argument("--momentum", type=float, default=0.9)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-pytorch", action="store_true")
    ap.add_argument("--bn-mode", default="fold",
                    help="ours: fold (batch norm folded before training) or train "
                         "(ConvBn2d, as PyTorch's eager QAT does)")
    ap.add_argument("--via", default="trainer,prepare_qat,qat-train",
                    help="our entries to run: trainer (the compiled step), prepare_qat "
                         "(a torch.nn.Module in a PyTorch loop), qat-train (the tool)")
    args = ap.parse_args()
    import torch
    torch.set_num_threads(1)
    x, y = fmnist.load("train")
    y = y.astype(np.int32)
    xt, yt = fmnist.load("t10k")
    net = fmnist.load_net()
    with torch.no_grad():
        flt = 100.0 * float(np.mean(
            net(torch.from_numpy(xt).permute(0, 3, 1, 2)).argmax(1).numpy() == yt))
    print("recipe: %d epoch(s), batch %d, SGD lr %g momentum %g weight decay %g, seed %d; "
          "ours: batch norm %s" % (args.epochs, args.batch, args.lr, args.momentum,
                                   args.weight_decay, args.seed, args.bn_mode))
    print("float checkpoint: %.2f%%" % flt)
    ok = True
    for target in args.targets.split(","):
        accs = []
        for via in args.via.split(","):
            acc, differ, total, ms, cs = OURS[via](target, args, x, y, xt, yt)
            accs.append(acc)
            print("%s ours via %s: int8 %.2f%% (int8 vs simulation: %d of %d logits differ), "
                  "%.2f ms per step%s" % (target, via, acc, differ, total, ms,
                                          " (compiled in %.1f s)" % cs if cs else
                                          " (whole run, compilation included)"), flush=True)
            ok = ok and differ == 0 and acc >= flt - 0.1
        if not args.no_pytorch:
            pacc, pfq, pms = pytorch(target, args, x, y, xt, yt)
            print("%s PyTorch 1.13 eager QAT: %s fake-quant (eval) %.2f%%, %.2f ms per step"
                  % (target, "int8 (onednn) %.2f%%," % pacc if pacc is not None else
                     "no int8 engine for s8 activations;", pfq, pms), flush=True)
            ref = pacc if pacc is not None else pfq
            ok = ok and min(accs) >= ref
    print("done-when (int8 >= PyTorch's, >= float - 0.1, = simulation): %s"
          % ("met" if ok else "NOT met"))


if __name__ == "__main__":
    main()
