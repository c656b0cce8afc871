"""Batch size: a model exported and calibrated at batch 32, frozen and
converted, runs at batch 1, 8 and 64 (qat-rebatch, compiled once per size on
first use), each output equal to running the images one by one."""
import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from helpers import record


class Net(nn.Module):
    """conv/BN/ReLU, a residual add, a strided conv on an odd size (the
    exporter's crop slice), a concat, max and global average pools, a
    linear head: every reshape and slice the exporter writes."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.body = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8))
        self.down = nn.Conv2d(8, 8, 1, stride=2)
        self.side = nn.Conv2d(8, 8, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.head = nn.Linear(16 * 3 * 3, 10)

    def forward(self, x):
        x = self.stem(x)
        x = torch.relu(self.body(x) + x)
        x = torch.cat([self.down(x), self.side(x)], 1)
        return self.head(torch.flatten(self.pool(x), 1))


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    net = Net().eval()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    calib = [torch.randn(32, 3, 13, 13) for _ in range(2)]
    text = qat_mlir.export(net, calib[0])
    frozen = qat_mlir.freeze(qat_mlir.calibrate(qat_mlir.prepare(text, "x86"), "main", calib,
                                                progress=False))
    return {"float": text, "frozen fake-quant": frozen, "int8": qat_mlir.convert(frozen)}


@pytest.mark.parametrize("kind", ["float", "frozen fake-quant", "int8"])
def test_batch_1_8_64_equal_one_by_one(models, kind):
    x = torch.randn(64, 3, 13, 13, generator=torch.Generator().manual_seed(5)).numpy()
    # The rewritten shapes are really there (qat-convert-to-integer turns
    # the linear head's tosa.matmul into a qat.integer_kernel <matmul>).
    matmul = "qat.integer_kernel <matmul>" if kind == "int8" else "tosa.matmul"
    for op in ("tosa.slice", "tosa.concat", matmul, "tosa.reshape"):
        assert op in models[kind], op
    f = qat_mlir.compile(models[kind])
    assert f.batch == 32
    one = f.at_batch(1)
    assert one.arg_types == [((1, 3, 13, 13), np.float32)]
    ref = np.concatenate([one(x[i:i + 1]) for i in range(64)])
    differ = {}
    for n in (1, 8, 32, 64):
        y = f(x[:n])                       # another batch size: compiled for it on first use
        assert y.shape == (n, 10)
        differ[n] = int((y != ref[:n]).sum())
    record("batch %s: outputs at batch 1, 8, 32, 64 vs one by one: %s differ"
           % (kind, ", ".join(str(differ[n]) for n in (1, 8, 32, 64))))
    assert not any(differ.values())
    assert sorted(f._batches) == [1, 8, 64]


def test_rebatch_errors(models):
    f = qat_mlir.compile(models["int8"], rebatch=False)
    with pytest.raises(ValueError, match=r"shape \(8, 3, 13, 13\), expected \(32, 3, 13, 13\)"):
        f(np.zeros((8, 3, 13, 13), np.float32))
    prepared = qat_mlir.prepare(models["float"], "x86")
    with pytest.raises(ValueError, match="mutable globals"):
        qat_mlir.compile(prepared).at_batch(8)
    text = qat_mlir.rebatch(models["int8"], 3)
    assert "func.func @main(%arg0: tensor<3x3x13x13xf32>" in text
