#!/usr/bin/env python3
"""The compiled training step against PyTorch 1.13 (issue 17).

For each model, four training steps (forward, cross-entropy, backward, SGD
with momentum 0.9) on the same batch, timed in one process, interleaved:

- ours float: qat-make-trainable + qat-generate-train-step of the float
  model, compiled once in-process (qat_mlir.compile, kernels=auto: the fp32
  kernels of docs/Kernels.md for the convolutions, fully connected layers
  and their adjoints);
- ours QAT: the same after qat-prepare{target=x86} (fake quantization,
  observers updating every step);
- PyTorch float: the same network, batch norm folded into the convolutions
  (eval-mode fusion, as our export folds it), train mode;
- PyTorch QAT: eager mode, that network fused and prepared with
  get_default_qat_qconfig('onednn') (FusedMovingAvgObsFakeQuantize,
  per-channel weights), observers on.

Models: the bundled Fashion-MNIST CNN at batch 32 (examples/fashion_mnist)
and ResNet-18 (torchvision, 1000 classes, random weights) at batch 8 x 3 x
112 x 112 (--resnet-size). Each step kind runs `--rounds` rounds of at
least `--min-seconds` each, the four kinds interleaved within a round; the
table shows the median time per step and the ratios. With --threads 1,2
both thread counts run (ours: the kernels' OpenMP loops; PyTorch:
torch.set_num_threads).

--breakdown adds our QAT step with parts of the quantization removed
(activation observers, activation fake quantization, their gradient masks,
the weight quantizers): not the same computation, only to see where the
QAT step's time over the float step goes.

Run on an otherwise idle machine: python3 bench/train_step.py
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

from timing import timed

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")


def setup_paths(build):
    sys.path.insert(0, os.path.join(ROOT, "python"))
    sys.path.insert(0, os.path.join(build, "python"))
    sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))


def qat_opt(build, text, *passes):
    r = subprocess.run([os.path.join(build, "bin", "qat-opt"), "-", *passes], input=text,
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("qat-opt %s failed:\n%s" % (" ".join(passes), r.stderr[-3000:]))
    return r.stdout


def train_module(build, float_text, entry, qat):
    passes = []
    if qat:
        passes.append("--qat-prepare=target=x86")
    passes += ["--qat-make-trainable=entry=%s" % entry,
               "--qat-generate-train-step=entry=%s momentum=0.9" % entry]
    return qat_opt(build, float_text, *passes)


_TOKEN = re.compile(r"%[A-Za-z0-9_.$#-]+")


def ablate(text, kinds, func="main_train_step"):
    """@func of a QAT training step with ops removed (--breakdown; not
    semantics-preserving): `kinds` among act_obs (per-tensor observers:
    their results become the stored range), act_fq (per-tensor fake quant:
    its result becomes its input), act_fq_grad (its straight-through mask)
    and w_q (the per-channel weight observers, fake quant and masks)."""
    out, inside, subst = [], False, {}
    patterns = [  # (regex, result groups -> replacement groups, type group)
        (r"\s*(%\S+), (%\S+) = qat\.observer (%\S+), (%\S+), (%\S+) .*: (\S+), (\S+)$",
         {1: 4, 2: 5}, 7, "act_obs"),
        (r"\s*(%\S+) = qat\.fake_quant (%\S+), (%\S+), (%\S+) .*: (\S+), (\S+), (\S+)$",
         {1: 2}, 6, "act_fq"),
        (r"\s*(%\S+) = qat\.fake_quant_grad (%\S+), (%\S+), (%\S+), (%\S+) .*: "
         r"(\S+), (\S+), (\S+)$", {1: 2}, 7, "act_fq_grad"),
    ]
    for line in text.split("\n"):
        if re.match(r"\s*func\.func @%s\(" % func, line):
            inside = True
        elif inside and re.match(r"^  \}", line):
            inside = False
        if inside:
            line = _TOKEN.sub(lambda m: subst.get(m.group(0), m.group(0)), line)
            removed = False
            for pattern, results, type_group, kind in patterns:
                m = re.match(pattern, line)
                if not m:
                    continue
                per_tensor = m.group(type_group) == "tensor<f32>"
                if (kind in kinds and per_tensor) or ("w_q" in kinds and not per_tensor):
                    for r, v in results.items():
                        subst[m.group(r)] = m.group(v)
                    removed = True
                break
            if removed:
                continue
        out.append(line)
    return "\n".join(out)


def fmnist_models():
    import fmnist
    net = fmnist.load_net().eval()
    fused = torch.ao.quantization.fuse_modules(
        net, [["0", "1", "2"], ["4", "5", "6"]])
    return fused, (32, 1, 28, 28), 10


def resnet18_models(size):
    import torchvision
    torch.manual_seed(0)
    net = torchvision.models.quantization.resnet18(quantize=False).eval()
    net.fuse_model()  # eval mode: batch norm folded into the convolutions
    return net, (8, 3, size, size), 1000


def torch_qat(fused_float):
    import copy
    q = copy.deepcopy(fused_float)
    q.train()
    q.qconfig = torch.ao.quantization.get_default_qat_qconfig("onednn")
    torch.ao.quantization.prepare_qat(q, inplace=True)
    return q


def torch_step(net, x, y):
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    net.train()

    def step():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(x), y)
        loss.backward()
        opt.step()
    return step


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default="fmnist,resnet18")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--min-seconds", type=float, default=1.0)
    ap.add_argument("--resnet-size", type=int, default=112)
    ap.add_argument("--kernels", default="auto")
    ap.add_argument("--frozen", action="store_true",
                    help="also time our QAT step with observers off")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time our QAT step without parts of the quantization")
    args = ap.parse_args()
    setup_paths(os.path.abspath(args.build))
    import qat_mlir

    rows = []
    for name in args.models.split(","):
        if name == "fmnist":
            fused, shape, classes = fmnist_models()
            batch_desc = "batch 32 x 1 x 28 x 28"
        elif name == "resnet18":
            fused, shape, classes = resnet18_models(args.resnet_size)
            batch_desc = "batch 8 x 3 x %d x %d" % (args.resnet_size, args.resnet_size)
        else:
            raise SystemExit("unknown model %s" % name)
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape, dtype=np.float32)
        y = rng.integers(0, classes, shape[0]).astype(np.int32)
        lr = np.array(0.01, np.float64)
        # Ours: the export of the fused float network (batch norm folded).
        float_text = qat_mlir.export(fused.eval(), torch.from_numpy(x), name="main")
        texts = {"ours float": train_module(args.build, float_text, "main", False),
                 "ours QAT": train_module(args.build, float_text, "main", True)}
        if args.breakdown:
            for kinds in (["act_obs"], ["act_fq"], ["act_fq_grad"], ["w_q"],
                          ["act_obs", "act_fq", "act_fq_grad", "w_q"]):
                texts["QAT -" + "-".join(kinds)] = ablate(texts["ours QAT"], kinds)
        for threads in [int(t) for t in args.threads.split(",")]:
            torch.set_num_threads(threads)
            steps = {}
            for kind, text in texts.items():
                t0 = time.perf_counter()
                m = qat_mlir.compile(text, entry=["main_train_step", "main_disable_observers"],
                                     kernels=args.kernels, threads=threads, progress=False)
                print("# %s %s, %d thread(s): compiled in %.1f s" % (
                    name, kind, threads, time.perf_counter() - t0), flush=True)
                f = m["main_train_step"]
                steps[kind] = (lambda f=f: f(x, y, lr))
                if kind == "ours QAT" and args.frozen:
                    # A second instance whose observers are off (frozen
                    # ranges): what the observers cost.
                    m2 = qat_mlir.compile(text, entry=["main_train_step", "main_disable_observers"],
                                          kernels=args.kernels, threads=threads, progress=False)
                    m2["main_disable_observers"]()
                    f2 = m2["main_train_step"]
                    steps["ours QAT frozen"] = (lambda f=f2: f(x, y, lr))
            tx, ty = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
            steps["PyTorch float"] = torch_step(__import__("copy").deepcopy(fused), tx, ty)
            steps["PyTorch QAT"] = torch_step(torch_qat(fused), tx, ty)
            for s in steps.values():  # warm up
                s()
                s()
            med = {k: [] for k in steps}
            for _ in range(args.rounds):
                for k, s in steps.items():
                    med[k].append(timed(s, args.min_seconds))
            t = {k: statistics.median(v) * 1e3 for k, v in med.items()}
            rows.append((name, batch_desc, threads, t))
            print("%s (%s), %d thread(s): ms per step: %s" % (
                name, batch_desc, threads,
                ", ".join("%s %.2f" % (k, v) for k, v in t.items())), flush=True)
            print("  PyTorch QAT / ours QAT = %.2fx (goal >= 2); ours QAT / ours float = %.2fx "
                  "(goal <= 1.10); PyTorch QAT / PyTorch float = %.2fx; "
                  "ours float / PyTorch float = %.2f" % (
                      t["PyTorch QAT"] / t["ours QAT"], t["ours QAT"] / t["ours float"],
                      t["PyTorch QAT"] / t["PyTorch float"],
                      t["ours float"] / t["PyTorch float"]), flush=True)
    by = {}
    for name, _, threads, t in rows:
        by.setdefault(name, {})[threads] = t
    for name, d in by.items():
        if 1 in d and 2 in d:
            print("%s: 2 threads vs 1: ours QAT %.2fx, ours float %.2fx, PyTorch QAT %.2fx "
                  "(goal >= 1.8 on ResNet-18)" % (
                      name, d[1]["ours QAT"] / d[2]["ours QAT"],
                      d[1]["ours float"] / d[2]["ours float"],
                      d[1]["PyTorch QAT"] / d[2]["PyTorch QAT"]))


if __name__ == "__main__":
    main()
