"""Models as MLIR bytecode (export(binary=True); docs/Python.md, "Text or
bytecode"): the same module as the text export, about the size of its
weights, and every step (prepare, calibrate, freeze, convert, compile,
quantize, save/load) takes it and gives results equal to the text flow."""
import os
import subprocess

import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from qat_mlir import _native
from helpers import estimate_batch_norm, record


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 16, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(32 * 8 * 8, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        return self.fc2(torch.relu(self.fc1(torch.flatten(y, 1))))


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    m = Net().eval()
    estimate_batch_norm(m, (8, 3, 16, 16))
    return m


def weight_bytes(module):
    return sum(p.numel() * 4 for p in module.parameters()) + sum(
        b.numel() * 4 for name, b in module.named_buffers() if "running" in name)


def test_same_module_as_text(net):
    x = torch.randn(2, 3, 16, 16)
    text = qat_mlir.export(net, x)
    binary = qat_mlir.export(net, x, binary=True)
    assert isinstance(binary, bytes) and _native.is_bytecode(binary)
    assert "qat.weight" not in _native.parse(binary).to_text()
    # Printed the same way, both are the same module (weights as hex).
    assert _native.parse(binary).to_text() == _native.parse(text).to_text()
    size = weight_bytes(net)
    record("bytecode export: %d bytes for %d bytes of weights and statistics (%.3fx); "
           "text %d bytes (%.2fx)" % (len(binary), size, len(binary) / size, len(text),
                                      len(text) / size))
    assert len(binary) <= 1.1 * size
    y = qat_mlir.compile(binary)(x.numpy())
    assert np.array_equal(y, qat_mlir.compile(text)(x.numpy()))


def test_flow_equals_text_flow(net, tmp_path):
    x = torch.randn(2, 3, 16, 16)
    batches = [torch.randn(2, 3, 16, 16).numpy() for _ in range(3)]
    results = {}
    for form in ("text", "bytecode"):
        model = qat_mlir.export(net, x, binary=form == "bytecode")
        prepared = qat_mlir.prepare(model, "x86")
        calibrated = qat_mlir.calibrate(prepared, "main", batches, progress=False)
        frozen = qat_mlir.freeze(calibrated)
        int8 = qat_mlir.convert(frozen)
        for step in (prepared, calibrated, frozen, int8):
            assert isinstance(step, bytes if form == "bytecode" else str)
        results[form] = (_native.parse(int8).to_text(), qat_mlir.compile(int8)(x.numpy()))
    assert results["text"][0] == results["bytecode"][0]
    assert np.array_equal(results["text"][1], results["bytecode"][1])


def test_tools_read_bytecode(net, tmp_path):
    x = torch.randn(2, 3, 16, 16)
    int8 = qat_mlir.convert(qat_mlir.freeze(qat_mlir.calibrate(
        qat_mlir.prepare(qat_mlir.export(net, x, binary=True), "x86"), "main",
        [x.numpy()], progress=False)))
    path = tmp_path / "int8.mlirbc"
    path.write_bytes(int8)
    np.save(tmp_path / "x.npy", x.numpy())
    subprocess.run([qat_mlir.tool_path("qat-run"), str(path), "--input", str(tmp_path / "x.npy"),
                    "--output", str(tmp_path / "y.npy"), "--quiet"], check=True)
    assert np.array_equal(np.load(tmp_path / "y.npy"), qat_mlir.compile(int8)(x.numpy()))
    out = subprocess.run([qat_mlir.tool_path("qat-opt"), str(path)], check=True,
                         capture_output=True, text=True).stdout
    assert "qat.packed" in out or "qat.integer_kernel" in out or "qat.requantize" in out


def test_quantize_keeps_text_api(net, tmp_path):
    data = [(torch.randn(2, 3, 16, 16), torch.zeros(2)) for _ in range(2)]
    qm = qat_mlir.quantize(net, data, "x86", progress=False)
    assert isinstance(qm.mlir, str) and "func.func @main" in qm.mlir
    x = data[0][0]
    y = qm(x)
    assert np.array_equal(y.numpy(), qat_mlir.compile(qm.mlir)(x.numpy()))
    path = str(tmp_path / "m.qat.mlir")
    qm.save(path)
    assert np.array_equal(qat_mlir.load(path)(x).numpy(), y.numpy())
