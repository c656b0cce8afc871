"""torchvision's quantizable models through import_qat (issue 19):
eager QAT (fuse_model(is_qat=True), prepare_qat with the onednn or qnnpack
qconfig, random weights, a few training steps on random images), then
import_qat -> qat-verify-target -> qat-convert-to-integer, and
- the int8 model against its float simulation (bit for bit),
- the int8 model, and the imported fake-quant model, against PyTorch's
  converted int8 model (torch convert, run on the engine of the qconfig)
  on 16 inputs: logits that differ, and by how many output LSB at most.
  import_qat's default engine="auto" picks the PyTorch-exact arithmetic of
  the qconfig's engine (x86:pytorch-onednn, x86:per-tensor:pytorch-qnnpack;
  docs/Python.md "PyTorch's int8 arithmetic and ours").

    PYTHONPATH=python /usr/bin/python3 python/tests/quantizable_sweep.py [--size 32] [NAME[:BACKEND]...]

Without names: resnet18, resnet50, mobilenet_v2, mobilenet_v3_large,
shufflenet_v2_x1_0, each with onednn and qnnpack (minutes). One line per
model and qconfig; a failing stage is reported and the sweep goes on.
"""
import argparse
import copy
import sys
import time

import numpy as np
import torch
import torch.ao.quantization as tq

import qat_mlir
from helpers import estimate_batch_norm
from qat_models import lsb_stats, output_lsb

NAMES = ["resnet18", "resnet50", "mobilenet_v2", "mobilenet_v3_large", "shufflenet_v2_x1_0"]
BACKENDS = ["onednn", "qnnpack"]


def qat_model(name, backend, size, steps=3, seed=0):
    import torchvision
    torch.manual_seed(seed)
    m = getattr(torchvision.models.quantization, name)(weights=None, quantize=False)
    # Batch-norm statistics of the data (random init would let activations
    # die out in eval mode: MobileNetV3's logits were all 0).
    estimate_batch_norm(m, (8, 3, size, size), batches=2, seed=seed)
    m.train()
    m.fuse_model(is_qat=True)
    m.qconfig = tq.get_default_qat_qconfig(backend)
    tq.prepare_qat(m, inplace=True)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _ in range(steps):
            m(torch.randn(8, 3, size, size, generator=g))
    m.eval()
    return m


def pytorch_int8(model, backend):
    torch.backends.quantized.engine = backend
    return tq.convert(copy.deepcopy(model))


def check(name, backend, size, n=16):
    """A dict of the figures (stage -> error message where one failed)."""
    r = dict(name=name, backend=backend)
    t0 = time.perf_counter()
    m = qat_model(name, backend, size)
    x = torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(7))
    q = pytorch_int8(m, backend)
    try:
        with torch.no_grad():
            ref = q(x).numpy()
        lsb = output_lsb(q, x[:2])
    except Exception as e:
        ref = None
        r["torch_failed"] = " ".join(str(e).split())[:200]
    try:
        text = qat_mlir.import_qat(m, x[:2])
    except Exception as e:
        r["failed"] = "import_qat: " + " ".join(str(e).split())[:400]
        return r
    try:
        qat_mlir.verify(text)
    except Exception as e:
        r["failed"] = "verify: " + " ".join(str(e).split())[:400]
        return r
    try:
        int8 = qat_mlir.convert(text)
        sim = qat_mlir.convert(text, simulate=True)
        y8 = qat_mlir.compile(int8)(x.numpy(), split=True)
        ys = qat_mlir.compile(sim)(x.numpy(), split=True)
        yf = qat_mlir.compile(text)(x.numpy(), split=True)
    except Exception as e:
        r["failed"] = "convert/compile: " + " ".join(str(e).split())[:400]
        return r
    r["sim"] = int(np.sum(y8.view(np.uint32) != ys.view(np.uint32)))
    r["seconds"] = time.perf_counter() - t0
    if ref is not None:
        r["varies"] = float((ref[1:] != ref[:1]).mean())
        within, differ, worst = lsb_stats(y8, ref, lsb)
        r.update(differ=differ, size=ref.size, worst=worst,
                 top1=int(np.sum(y8.argmax(1) == ref.argmax(1))))
        _, r["fq_differ"], r["fq_worst"] = lsb_stats(yf, ref, lsb)
    return r


def line(r, size):
    head = "%-20s %-8s %dx3x%dx%d" % (r["name"], r["backend"], 16, size, size)
    if "failed" in r:
        return head + "  FAILED at " + r["failed"]
    head += "  verifies; int8 vs simulation: %d differ" % r["sim"]
    if "torch_failed" in r:
        return head + "; PyTorch's int8 model fails: %s (%.0f s)" % (r["torch_failed"],
                                                                   r["seconds"])
    return (head + "; vs PyTorch int8 (%.0f %% of its logits vary with the input): int8 %d of "
            "%d logits differ (max %.0f LSB), top-1 equal %d of 16; imported fake-quant %d "
            "differ (max %.0f LSB) (%.0f s)" % (100 * r["varies"], r["differ"], r["size"], r["worst"], r["top1"],
                          r["fq_differ"], r["fq_worst"], r["seconds"]))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--size", type=int, default=32)
    args = ap.parse_args(argv)
    # One thread: PyTorch's quantized add runs its scalar tail per thread's
    # chunk (pytorch_int8.py), which would make its result depend on it.
    torch.set_num_threads(1)
    runs = []
    for spec in args.names or NAMES:
        name, _, backend = spec.partition(":")
        runs += [(name, b) for b in ([backend] if backend else BACKENDS)]
    bad = 0
    for name, backend in runs:
        r = check(name, backend, args.size)
        print(line(r, args.size), flush=True)
        bad += "failed" in r or r["sim"] != 0
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
