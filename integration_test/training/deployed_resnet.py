# REQUIRES: numpy, torch, torchvision, fashion-mnist
# RUN: %python %s --float-steps 40 --steps 10 --images 1024
#
# Deployed numerics (issue 18, docs/Deployed.md) on a small ResNet for
# --size x --size inputs (Fashion-MNIST padded with zeros; default 33: on an
# even size the exported strided 1x1 downsamples slice their input (TOSA's
# divisibility rule), which bpu refuses (no slice): for bpu the exporter
# then widens those kernels by zero taps instead (crops="taps", 2x2 kernels
# whose extra taps start at 0 and train in both modes)):
# stem conv 3x3 1->8, three torchvision BasicBlocks (8->8, 8->16 stride 2,
# 16->32 stride 2, strided 1x1 downsamples), an unpadded average pool over
# the last 9x9 (8x8 for 32) and a linear layer. Trained in float with
# PyTorch (SGD, --float-steps steps of 64), exported, prepared for x86 and
# bpu, calibrated on 20 x 32 training images, frozen; then --steps SGD steps
# (batch 32, lr 0.005, momentum 0.9, the same batches) in
# numerics=fake-quant and in numerics=deployed. Checks: in deployed mode
# @main_eval equals the int8 model of the trained parameters bit for bit on
# the --images first test images. Prints both modes' mismatch counts and
# int8 accuracies. --seed sets the float model's initialisation and the
# order of the batches (float and QAT); --schedule cosine decays both
# phases' learning rates (float 0.05, QAT --lr) to 0. Figures of
# docs/Deployed.md:
#   --float-steps 1875 --steps 1875 --images 10000 --schedule cosine --seed 0..2
#   [--size 32]. --float-cache DIR keeps the float model per seed for later
# runs; --compare-every K prints, every K steps of the deployed run, the
# fake-quant gradient at the same parameters beside the deployed one.
import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import deployed_common as dc  # noqa: E402

sys.path.insert(0, os.path.join(dc.ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("--float-steps", type=int, default=100)
ap.add_argument("--steps", type=int, default=20)
ap.add_argument("--lr", type=float, default=0.005)
ap.add_argument("--images", type=int, default=2048)
ap.add_argument("--targets", default="x86,bpu")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--schedule", choices=["constant", "cosine"], default="constant",
                help="learning rate per step: --lr, or cosine from --lr to 0")
ap.add_argument("--size", type=int, default=33)
ap.add_argument("--float-cache", default="",
                help="directory: reuse the float model of the same seed, size, steps and "
                     "schedule if saved there, else save it")
ap.add_argument("--compare-every", type=int, default=0,
                help="every K steps of the deployed run, also the fake-quant gradient at the "
                     "same parameters and batch: per-parameter norm ratio and cosine")
args = ap.parse_args()


def lr_at(step):
    """The learning rate of step `step` (the same in both modes)."""
    if args.schedule == "cosine":
        return 0.5 * args.lr * (1 + np.cos(np.pi * step / max(args.steps, 1)))
    return args.lr
# Spatial size after the stem and two stride-2 3x3 convolutions (padding 1).
POOL = ((args.size - 1) // 2) // 2 + 1


def small_resnet():
    import torch.nn as nn
    from torchvision.models.resnet import BasicBlock

    def ds(i, o):
        return nn.Sequential(nn.Conv2d(i, o, 1, 2, bias=False), nn.BatchNorm2d(o))
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
        BasicBlock(8, 8), BasicBlock(8, 16, 2, ds(8, 16)), BasicBlock(16, 32, 2, ds(16, 32)),
        nn.AvgPool2d(POOL), nn.Flatten(), nn.Linear(32, 10))


def pad(x):
    """NHWC 28x28 -> NCHW size x size (zeros around, 2 before)."""
    out = np.zeros((len(x), 1, args.size, args.size), np.float32)
    out[:, 0, 2:30, 2:30] = x[..., 0]
    return out


torch.manual_seed(args.seed)
torch.set_num_threads(1)
train, train_labels = fmnist.load("train")
test, labels = fmnist.load("t10k")
train, test = pad(train), pad(test[:args.images])
labels = labels[:args.images]
net = small_resnet()
opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-4)
rng = np.random.default_rng(1 + args.seed)
start = time.perf_counter()
net.train()
cache = args.float_cache and os.path.join(args.float_cache, "float_s%d_%d_%d_%s.pt" % (
    args.seed, args.size, args.float_steps, args.schedule))
loaded = bool(cache) and os.path.exists(cache)
if loaded:
    saved = torch.load(cache)
    net.load_state_dict(saved["net"])
    rng.bit_generator.state = saved["rng"]
for s in range(0 if loaded else args.float_steps):
    if args.schedule == "cosine":
        for g in opt.param_groups:
            g["lr"] = 0.025 * (1 + np.cos(np.pi * s / args.float_steps))
    idx = rng.integers(0, len(train), 64)
    opt.zero_grad()
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(train[idx])),
                                             torch.from_numpy(train_labels[idx]))
    loss.backward()
    opt.step()
if cache and not os.path.exists(cache):
    torch.save({"net": net.state_dict(), "rng": rng.bit_generator.state}, cache)
net.eval()
with torch.no_grad():
    float_acc = np.mean(net(torch.from_numpy(test)).argmax(1).numpy() == labels)
print("float: %d steps of 64 (%s), accuracy %.2f%% on %d test images"
      % (args.float_steps, "from %s" % cache if loaded else "%.0f s" % (time.perf_counter() - start),
         100 * float_acc, len(test)), flush=True)

def compare(dep, fq, names, x, y, step):
    """The fake-quant gradient at the deployed run's parameters (set into the
    fake-quant module's state) beside the deployed gradient, same batch."""
    params = [np.array(p) for p in dep.main_get_parameters()]
    state = [np.array(v) for v in fq.main_get_state()]
    fq.main_set_state(*(params + state[len(params):]))
    gd, gf = dep.main_gradients(x, y), fq.main_gradients(x, y)
    cells = []
    for i, n in enumerate(names):
        a, b = np.array(gd[1 + i], np.float64).ravel(), np.array(gf[1 + i], np.float64).ravel()
        na, nb = np.linalg.norm(a), np.linalg.norm(b)
        cos = a @ b / (na * nb) if na and nb else float("nan")
        cells.append("%s %.2f/%.2f" % (n, na / nb if nb else float("nan"), cos))
    print("step %d loss deployed %.4f fake-quant %.4f; per parameter norm ratio deployed / "
          "fake-quant and cosine: %s" % (step, float(np.array(gd[0])), float(np.array(gf[0])),
                                         ", ".join(cells)), flush=True)


B = 32
order = np.concatenate([rng.permutation(len(train)) for _ in range(
    (args.steps * B + len(train) - 1) // len(train) + 1)])
failures = 0
with tempfile.TemporaryDirectory() as tmp:
    data = []
    for i in range(20):
        p = os.path.join(tmp, "b%02d.npy" % i)
        np.save(p, train[i * B:(i + 1) * B])
        data.append(p)
    for target in args.targets.split(","):
        # bpu has no slice: on an even size the strided 1x1 downsamples'
        # crops become zero kernel taps (2x2 kernels, the extra taps start
        # at 0 and train in both modes alike).
        crops = "taps" if target.split(":")[0] == "bpu" else "slice"
        path = os.path.join(tmp, "resnet.%s.mlir" % crops)
        with open(path, "w") as f:
            f.write(dc.qat_mlir.export(net, torch.from_numpy(train[:B]), crops=crops))
        trainable = dc.frozen_trainable(path, target, data, tmp)
        fq = None
        for numerics in ["fake-quant", "deployed"]:
            module = dc.train_module(trainable, numerics)
            m = dc.compile_train(module, extra=("_get_state", "_set_state")
                                 if args.compare_every else ())
            names = dc.parameter_names(module)
            t0 = time.perf_counter()
            for s in range(args.steps):
                idx = order[s * B:(s + 1) * B]
                if fq is not None and s % args.compare_every == 0:
                    compare(m, fq, names, train[idx], train_labels[idx].astype(np.int32), s)
                m.main_train_step(train[idx], train_labels[idx].astype(np.int32),
                                  np.array(lr_at(s), np.float64))
            ms = (time.perf_counter() - t0) * 1e3 / max(args.steps, 1)
            ev = dc.run_batches(m.main_eval, test, B)
            params = dict(zip(names, [np.array(p) for p in m.main_get_parameters()]))
            int8 = dc.tool("qat-opt", "-", "--qat-convert-to-integer",
                           stdin=dc.with_parameters(trainable, params))
            iq = dc.run_batches(dc.qat_mlir.compile(int8), test, B)
            differ = int(np.sum(ev.view(np.uint32) != iq.view(np.uint32)))
            ok = numerics != "deployed" or differ == 0
            print("seed %d %s %s: %d steps (%.0f ms/step); eval accuracy %.2f%%, int8 %.2f%%; "
                  "eval vs int8: %d of %d logits differ%s"
                  % (args.seed, target, numerics, args.steps, ms,
                     100 * np.mean(ev.argmax(1) == labels),
                     100 * np.mean(iq.argmax(1) == labels), differ, ev.size,
                     "" if ok else "  FAILED"), flush=True)
            failures += not ok
            if args.compare_every and numerics == "fake-quant":
                fq = m
print("FAILED" if failures else "OK")
sys.exit(1 if failures else 0)
