"""Module names in the MLIR locations, quantizers named after the value they
quantize, and the per-layer numeric comparison (compare_layers) with its
plot. The ResNet-18 report is a documented command (docs/Python.md,
"Per-layer comparison"), not a test."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from helpers import estimate_batch_norm, record


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + x)   # the second call of self.relu: "block.relu#2"


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.block = Block()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(self.block(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


def make_net():
    torch.manual_seed(0)
    return estimate_batch_norm(Net(), (8, 3, 16, 16))


def data(n=4, batch=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(batch, 3, 16, 16, generator=g), torch.zeros(batch)) for _ in range(n)]


def test_names_in_locations():
    net = make_net()
    text = qat_mlir.export(net, torch.randn(4, 3, 16, 16))
    for name in ("stem.0", "stem.1", "block.conv1", "block.relu", "block.relu#2", "block.add",
                 "flatten", "fc"):
        assert 'loc("%s"(' % name in text, name
    # The file location under the name: the module class's forward.
    assert '"block.conv1"("' in text and "conv.py" in text
    prepared = qat_mlir.prepare(text, "x86")
    for name in ("stem.0:input", "stem.2:output", "block.relu:output", "block.relu#2:output",
                 "fc:output", "block.conv1:weight"):
        assert '"%s"' % name in prepared, name
    # Batch norm folded into its conv: the folded conv is named after the
    # batch norm first (it computes the batch norm's value).
    assert 'fused["block.bn2"' in prepared or '"block.bn2"' in prepared
    # The integer model keeps the names (its fused kernels carry those of
    # the ops they fuse).
    frozen = qat_mlir.freeze(qat_mlir.calibrate(prepared, "main",
                                                [x.numpy() for x, _ in data()], progress=False))
    int8 = qat_mlir.convert(frozen)
    assert '"fc:output"' in int8 and '"block.conv2"' in int8 and '"block.bn2"' in int8


def sqnr(ref, x):
    ref, x = np.asarray(ref, np.float64), np.asarray(x, np.float64)
    e = np.sum((x - ref) ** 2)
    return math.inf if e == 0 else 10 * math.log10(np.sum(ref ** 2) / e)


@pytest.mark.parametrize("target", ["x86", "bpu"])
def test_compare_layers(target, tmp_path):
    net = make_net()
    qm = qat_mlir.quantize(net, data(), target, progress=False)
    x = data(1, seed=9)[0][0]
    report = qm.compare_layers(net, x)
    names = [r["name"] for r in report.rows]
    record("compare_layers %s: %d quantizers: %s" % (target, len(names), ", ".join(names)))
    assert report.outputs_equal
    assert names[0] == "stem.0:input"
    assert names[-1] == "fc:output"
    modules = {n for n, _ in net.named_modules()}
    for r in report.rows:
        module = r["module"].split("#")[0]
        assert module in modules or module.rsplit(".", 1)[-1] in ("add", "flatten"), r["name"]
    # The last row against independent references: PyTorch's float output,
    # the fake-quant model's output, the int8 model's output.
    with torch.no_grad():
        ref = net(x).numpy()
    y_fq = qat_mlir.compile(qm.frozen)(x.numpy())
    y8 = qm(x.numpy())
    last = report["fc:output"]
    assert abs(last["sqnr_fake_quant"] - sqnr(ref, y_fq)) < 1e-3
    assert abs(last["sqnr_int8"] - sqnr(ref, y8)) < 1e-3
    assert last["int8_vs_fake_quant_max_lsb"] == pytest.approx(
        np.abs(y8.astype(np.float64) - y_fq).max() / last["scale"])
    # The input quantizer's float reference is the input itself.
    first = report["stem.0:input"]
    assert first["sqnr_fake_quant"] > 30 and first["int8_vs_fake_quant_max_lsb"] == 0
    for r in report.rows:
        assert r.get("sqnr_int8") is not None, r["name"]
        assert r["int8_vs_fake_quant_max_lsb"] <= 3, r
    if target == "bpu":
        assert report.npu_error is None, report.npu_error
        assert all(r["npu_vs_int8_mismatches"] == 0 for r in report.rows)
    table = report.table()
    assert "block.relu#2:output" in table.replace(" ", "") or target == "bpu"
    png = report.plot(str(tmp_path / "layers.png"))
    with open(png, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    record("compare_layers %s table:\n%s" % (target, table))


def test_compare_layers_needs_frozen(tmp_path):
    net = make_net()
    qm = qat_mlir.quantize(net, data(2), "x86", progress=False)
    loaded = qat_mlir.load(qm.save(str(tmp_path / "m.qat.mlir")))
    with pytest.raises(ValueError, match="frozen fake-quant model"):
        loaded.compare_layers(net, data(1)[0][0])


def test_module_of_several_ops():
    """nn.Hardsigmoid is exported as add, clamp and mul, each quantized:
    "act:output", "act:output#2", ...; only the last holds the module's
    output and is compared with the float model's value (the others were
    compared with it too: -14 dB, 212 LSB on MobileNetV3's SE blocks)."""
    torch.manual_seed(0)
    net = estimate_batch_norm(nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8),
                                            nn.Hardsigmoid(), nn.Conv2d(8, 4, 1)), (8, 3, 8, 8))
    g = torch.Generator().manual_seed(3)
    batches = [(torch.randn(4, 3, 8, 8, generator=g), torch.zeros(4)) for _ in range(3)]
    qm = qat_mlir.quantize(net, batches, "x86", progress=False)
    report = qm.compare_layers(net, batches[0][0])
    rows = [r for r in report.rows if r["module"] == "2"]
    assert len(rows) >= 2, [r["name"] for r in report.rows]
    with_ref = [r for r in rows if "sqnr_int8" in r]
    assert [r["name"] for r in with_ref] == [rows[-1]["name"]]
    assert with_ref[0]["sqnr_int8"] > 20, with_ref[0]
    assert report.outputs_equal


def test_table_aligns_long_names():
    """The name column is as wide as the longest quantizer name (torchvision
    names run past 40 characters): every row's cells start where the
    header's do."""
    from qat_mlir.debug import LayerReport
    rows = [{"name": "conv1:input", "sqnr_fake_quant": 41.5, "sqnr_int8": 41.25,
             "int8_vs_fake_quant_max_lsb": 0.0},
            {"name": "features.10.block.2.scale_activation:output#2", "sqnr_fake_quant": 91.49,
             "sqnr_int8": float("inf"), "int8_vs_float_max_lsb": 0.01,
             "int8_vs_fake_quant_max_lsb": 1.0},
            {"name": "fc:output", "sqnr_int8": 30.0, "int8_vs_fake_quant_max_lsb": 2.0}]
    lines = LayerReport(rows, "x86", True).table().splitlines()
    table = lines[:1 + len(rows)]
    assert len({len(line) for line in table}) == 1, table
    header = table[0]
    starts = [header.index(t) + len(t) for t in ("fq dB", "int8 dB", "i8-fq max")]
    for line, want in zip(table[1:], (("41.50", "41.25", "0.00"), ("91.49", "inf", "1.00"),
                                      ("-", "30.00", "2.00"))):
        assert [line[:end].split()[-1] for end in starts] == list(want), line
    assert lines[1].startswith("conv1:input ")


def test_reference_across_unit_dimensions():
    """A module's float value is the reference of its quantizer when their
    shapes differ only by dimensions of size 1 (mobilenet_v3's classifier.0:
    the quantizer on the 1 x rows x out matmul, the module's rows x out)."""
    from qat_mlir.debug import _unit_dims_apart
    assert _unit_dims_apart((2, 1024), (1, 2, 1024))
    assert _unit_dims_apart((2, 1, 1, 576), (2, 576))
    assert not _unit_dims_apart((2, 1024), (1, 1024, 2))
    assert not _unit_dims_apart((2, 10), (1, 2, 5))
