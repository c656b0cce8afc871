#!/usr/bin/env python3
"""The per-layer numeric report of a torchvision model (docs/Python.md,
"Per-layer comparison"): quantize it in one call from a DataLoader of
(x, y) pairs, then compare float, fake-quant, int8 (and for bpu the NPU
simulator) quantizer by quantizer, by PyTorch module name. Prints the table
and writes the plot.

    PYTHONPATH=python /usr/bin/python3 examples/layer_report.py --model resnet18 --target bpu -o resnet18_layers.png

Random weights with batch-norm statistics estimated on random data, random
images (--size, batch 2): the figures show where the quantized models part
from float, not an accuracy.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))

import torch  # noqa: E402
import torchvision  # noqa: E402

import qat_mlir  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet18", help="a torchvision.models name (resnet18)")
    ap.add_argument("--target", default="x86", help="x86 or bpu (bpu adds the NPU column)")
    ap.add_argument("--size", type=int, default=64, help="image size (64)")
    ap.add_argument("--batches", type=int, default=4, help="calibration batches of 2 (4)")
    ap.add_argument("-o", "--output", default="layers.png", help="the PNG plot (layers.png)")
    args = ap.parse_args()

    torch.manual_seed(0)
    net = getattr(torchvision.models, args.model)(weights=None)
    net.train()
    for m in net.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.momentum = None
    with torch.no_grad():
        net(torch.randn(8, 3, args.size, args.size))
    net.eval()
    g = torch.Generator().manual_seed(1)
    n = 2 * args.batches
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.randn(n, 3, args.size, args.size, generator=g),
        torch.randint(0, 1000, (n,), generator=g)), batch_size=2)
    start = time.perf_counter()
    qm = qat_mlir.quantize(net, loader, args.target, progress=False)
    t_quantize = time.perf_counter() - start
    x = torch.randn(2, 3, args.size, args.size, generator=g)
    start = time.perf_counter()
    report = qm.compare_layers(net, x)
    t_report = time.perf_counter() - start
    print(report.table())
    report.plot(args.output, title="%s %s, %dx%d, per quantizer" % (
        args.model, args.target, args.size, args.size))
    print("%s: quantize %.1f s, compare_layers %.1f s; plot %s"
          % (args.model, t_quantize, t_report, args.output))


if __name__ == "__main__":
    main()
