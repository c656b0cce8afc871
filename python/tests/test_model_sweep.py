"""The CI part of the model sweep (model_sweep.py; the big models are a
documented command there): small torchvision models, random weights.
Float: max |ours - torch| / max |torch| <= 1e-5, or, where PyTorch's own
float32 result is further than that from its float64 result, ours within
twice that of float64 (model_sweep.float_ok). int8 (x86): the integer model
equals its float simulation bit for bit. None of these passes bpu's rules
as exported (the entry transpose and the tosa.slice crops stay float)."""
import re

import pytest
import torch

from helpers import record

pytest.importorskip("torchvision")
import model_sweep  # noqa: E402


def _small(name, ctor, shape):
    model_sweep.MODELS.setdefault(name, (ctor, shape))
    return name


def _tv(name, **kw):
    import torchvision
    return lambda: getattr(torchvision.models, name)(**kw)


SMALL = [
    _small("mobilenet_v3_small", _tv("mobilenet_v3_small"), (1, 3, 32, 32)),
    _small("shufflenet_v2_x0_5", _tv("shufflenet_v2_x0_5"), (1, 3, 32, 32)),
    "squeezenet1_1",
    "vit_tiny",  # layer norm, multi-head attention, softmax, GELU (erf through libm)
]


@pytest.mark.parametrize("name", SMALL)
def test_float(name):
    r = model_sweep.float_check(name)
    record(r["line"])
    assert model_sweep.float_ok(r)


@pytest.mark.parametrize("name,target", [("squeezenet1_1", "x86"), ("mobilenet_v3_small", "x86")])
def test_int8(name, target):
    net, shape = model_sweep.make(name)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    text = model_sweep.qat_mlir.export(model_sweep.Unwrap(net), x)
    mismatches, y8, yf, int8 = model_sweep.int8_check(text, shape, target)
    record("%-20s %s int8: %d of %d outputs differ from the simulation; %d lookup tables"
           % (name, target, mismatches, y8.size, int8.count("tosa.table")))
    assert mismatches == 0
    if name == "mobilenet_v3_small" and target == "x86":
        assert "tosa.table" in int8  # hardswish / hardsigmoid as lookup tables


class _Grouped(torch.nn.Module):
    """ResNeXt/RegNet-style grouped convolutions: a grouped 3x3 + batch norm
    + ReLU and a grouped strided 3x3 without either, between ungrouped
    convolutions."""

    def __init__(self):
        super().__init__()
        self.stem = torch.nn.Conv2d(3, 32, 3, padding=1)
        self.g1 = torch.nn.Conv2d(32, 32, 3, padding=1, groups=2)
        self.bn = torch.nn.BatchNorm2d(32)
        g = torch.Generator().manual_seed(3)
        self.bn.running_mean.uniform_(-0.5, 0.5, generator=g)
        self.bn.running_var.uniform_(0.5, 2.0, generator=g)
        self.bn.weight.data.uniform_(0.5, 1.5, generator=g)
        self.g2 = torch.nn.Conv2d(32, 64, 3, stride=2, padding=1, groups=4)
        self.head = torch.nn.Conv2d(64, 10, 1)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.bn(self.g1(x)))
        return self.head(self.g2(x))


def test_grouped_conv_one_kernel():
    """qat-fold-conv-bn folds the batch norm after the groups' concat into
    each group; qat-prepare quantizes a grouped convolution as PyTorch's eager QAT does
    (one quantizer on its input, one after its ReLU, none between a group and
    the concat), so its groups stay one qat.packed_conv2d_f32 {groups} in the
    prepared model, and conversion makes each group a kernel on the output's
    grid: no float between them."""
    shape = (1, 3, 16, 16)
    net = _Grouped().eval()
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    text = model_sweep.qat_mlir.export(net, x)
    prepared = model_sweep.qat_mlir.prepare(text, "x86")
    defs = {}
    for line in prepared.splitlines():
        m = re.match(r"\s*(%[\w.]+) = (\S+)", line)
        if m:
            defs[m.group(1)] = m.group(2)
    concats = [line for line in prepared.splitlines() if "tosa.concat" in line]
    assert len(concats) == 2
    for line in concats:
        operands = re.search(r"tosa\.concat ([^{]*)\{", line).group(1).split(",")
        assert all(defs[o.strip()] == "tosa.conv2d" for o in operands), line
    packed = model_sweep.qat_mlir.passes._apply(prepared, "qat-pack-f32-kernels")
    assert len(re.findall(r"groups = [24] :", packed)) == 2
    assert "tosa.conv2d" not in packed
    mismatches, y8, yf, int8 = model_sweep.int8_check(text, shape, "x86")
    record("grouped convolutions x86 int8: %d of %d outputs differ from the simulation"
           % (mismatches, y8.size))
    assert mismatches == 0
    assert int8.count("qat.integer_kernel") == 1 + 2 + 4 + 1
    assert int8.count("qat.dequantize") == 1  # the output only
