"""The whole flow on a tiny CNN (conv-BN-ReLU, max pool, conv-BN + residual,
ReLU, global average pool, linear): export -> prepare -> calibrate ->
freeze -> convert -> run int8. The int8 model must equal its float
simulation bit for bit (docs/Conversion.md) and stay within a few output
LSB of the fake-quantized (frozen) model."""
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from helpers import estimate_batch_norm, record


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        y = self.pool(torch.relu(self.bn1(self.conv1(x))))
        y = torch.relu(self.bn2(self.conv2(y)) + y)
        return self.fc(torch.flatten(self.gap(y), 1))


def output_scale(int8_text):
    """Scale of the qat.dequantize whose result is returned."""
    ret = re.search(r"return (%\w+)", int8_text).group(1)
    scale = re.search(r"%s = qat\.dequantize %%\w+, (%%\w+)," % re.escape(ret),
                      int8_text).group(1)
    value = re.search(r"%s = arith\.constant dense<([^>]+)> : tensor<f32>" % re.escape(scale),
                      int8_text).group(1)
    return float(value)


@pytest.mark.parametrize("target", ["x86", "bpu"])
def test_tiny_cnn_int8(target, capfd):
    torch.manual_seed(0)
    net = estimate_batch_norm(Tiny(), (8, 3, 16, 16))
    x = torch.randn(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    text = qat_mlir.export(net, x)

    prepared = qat_mlir.prepare(text, target)
    assert "qat.fake_quant" in prepared and "qat.observer" in prepared
    g = torch.Generator().manual_seed(2)
    batches = [torch.randn(4, 3, 16, 16, generator=g).numpy() for _ in range(12)]
    calibrated = qat_mlir.calibrate(prepared, "main", batches)
    progress = capfd.readouterr().err
    assert "calibrate: 10/12 batches" in progress and "12 batches" in progress, progress
    frozen = qat_mlir.freeze(calibrated)
    assert "qat.observer" not in frozen
    int8 = qat_mlir.convert(frozen)
    simulation = qat_mlir.convert(frozen, simulate=True)
    assert "qat.integer_kernel <conv2d>" in int8 and "xi8>" in int8

    xs = x.numpy()
    y_float = qat_mlir.compile(text)(xs)
    y_fq = qat_mlir.compile(frozen)(xs)
    y_int8 = qat_mlir.compile(int8)(xs)
    y_sim = qat_mlir.compile(simulation)(xs)
    with torch.no_grad():
        ref = net(x).numpy()

    lsb = output_scale(int8)
    mismatches = int(np.sum(y_int8.view(np.uint32) != y_sim.view(np.uint32)))
    worst = float(np.max(np.abs(y_int8 - y_fq))) / lsb
    record("tiny CNN %-4s int8 vs simulation: %d of %d differ; int8 vs fake-quant: max %.1f LSB "
           "(LSB %.3g); fake-quant vs float: max %.3g of max |float| %.3g"
           % (target, mismatches, y_int8.size, worst, lsb, np.max(np.abs(y_fq - y_float)),
              np.max(np.abs(y_float))))
    assert np.max(np.abs(y_float - ref)) <= 1e-5 * np.max(np.abs(ref))
    assert mismatches == 0
    assert worst <= 3.0
    # Sanity only: observers average per-batch ranges, so large outputs clip.
    assert np.max(np.abs(y_fq - y_float)) <= 0.25 * np.max(np.abs(y_float))
