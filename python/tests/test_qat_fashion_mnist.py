"""The acceptance test of the PyTorch QAT import (issue 7): a small CNN
trained with PyTorch eager QAT (onednn qconfig: fused observer + fake-quant
modules, conv-BN-ReLU fused) on Fashion-MNIST for one epoch, then

- PyTorch's converted int8 model (torch.ao.quantization.convert, onednn
  engine) on the 10,000 test images: the reference;
- qat_mlir.import_qat -> convert -> compile (x86 int8, JIT);
- torch.onnx.export of the converted model -> qat_mlir.import_onnx ->
  convert -> compile (torch.onnx cannot export the fused QAT modules).

Each qat-mlir model must agree with PyTorch's top-1 prediction on at least
99.5 % of the images, and its logits must be within 1 output LSB (the scale
of the last quantizer) of PyTorch's on at least 99 % of the elements.
"""
import copy
import io
import os
import sys
import time

import numpy as np
import pytest
import torch
import torch.ao.quantization as tq
import torch.nn as nn
import torch.nn.functional as F

import qat_mlir
from helpers import ROOT, record

sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
import fmnist  # noqa: E402


class Net(nn.Module):
    """The bundled example's CNN with PyTorch's quantization stubs."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1, self.bn1, self.relu1 = nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), \
            nn.ReLU()
        self.pool1 = nn.MaxPool2d(2)
        self.conv2, self.bn2, self.relu2 = nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), \
            nn.ReLU()
        self.pool2 = nn.MaxPool2d(2)
        self.fc = nn.Linear(784, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool1(self.relu1(self.bn1(self.conv1(self.quant(x)))))
        x = self.pool2(self.relu2(self.bn2(self.conv2(x))))
        return self.dequant(self.fc(torch.flatten(x, 1)))


def data_or_skip():
    path = os.path.join(fmnist.DATA_DIR, "train-images-idx3-ubyte.gz")
    if not os.path.exists(path):
        message = "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)"
        if os.environ.get("CI") == "true":
            pytest.fail(message + ": scripts/setup.sh installs it")
        pytest.skip(message)
    return fmnist.load("train"), fmnist.load("t10k")


def train_one_epoch(images, labels):
    torch.manual_seed(0)
    net = Net().train()
    net.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.fuse_modules_qat(net, [["conv1", "bn1", "relu1"], ["conv2", "bn2", "relu2"]],
                        inplace=True)
    tq.prepare_qat(net, inplace=True)
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    perm = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one core, deterministic and quick enough (~10-20 s)
    try:
        for i in range(0, len(images), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            F.cross_entropy(net(images[idx]), labels[idx]).backward()
            opt.step()
    finally:
        torch.set_num_threads(threads)
    return net.eval()


def test_fashion_mnist_qat_import():
    (x, y), (xt, yt) = data_or_skip()
    images = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    test_images = torch.from_numpy(xt).permute(0, 3, 1, 2).contiguous()
    start = time.perf_counter()
    net = train_one_epoch(images, torch.from_numpy(y))
    train_s = time.perf_counter() - start

    torch.backends.quantized.engine = "onednn"
    int8_torch = tq.convert(copy.deepcopy(net))
    with torch.no_grad():
        ref = int8_torch(test_images).numpy()
    lsb = float(int8_torch.fc.scale)
    batch = 500  # one qat-run call per 500 images (split=True)
    arrays = test_images.numpy()

    start = time.perf_counter()
    imported = qat_mlir.import_qat(net, test_images[:batch])
    qat_mlir.verify(imported)  # PyTorch's fused placement is x86's
    ours = qat_mlir.compile(qat_mlir.convert(imported))(arrays, split=True)
    qat_s = time.perf_counter() - start

    start = time.perf_counter()
    f = io.BytesIO()
    torch.onnx.export(int8_torch, test_images[:batch], f, opset_version=13)
    ours_onnx = qat_mlir.compile(qat_mlir.convert(qat_mlir.import_onnx(f.getvalue())))(
        arrays, split=True)
    onnx_s = time.perf_counter() - start

    record("Fashion-MNIST eager QAT (onednn), 1 epoch in %.0f s; PyTorch int8 (onednn) accuracy "
           "%.2f %%" % (train_s, 100 * np.mean(ref.argmax(1) == yt)))
    for name, out, secs in (("import_qat ", ours, qat_s), ("import_onnx", ours_onnx, onnx_s)):
        agree = float(np.mean(out.argmax(1) == ref.argmax(1)))
        d = np.abs(out.astype(np.float64) - ref) / lsb
        within = float(np.mean(d <= 1.0 + 1e-3))
        record("  %s -> x86 int8: accuracy %.2f %%, top-1 = PyTorch int8 on %.2f %% of 10,000 "
               "images, logits within 1 LSB on %.3f %% (%d of %d differ, max %.0f LSB); "
               "import + convert + run %.1f s"
               % (name, 100 * np.mean(out.argmax(1) == yt), 100 * agree, 100 * within,
                  int(np.sum(d > 0.5)), d.size, d.max(), secs))
        assert agree >= 0.995, name
        assert within >= 0.99, name
