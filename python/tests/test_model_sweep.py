"""The CI part of the model sweep (model_sweep.py; the big models are a
documented command there): small torchvision models, random weights.
Float: max |ours - torch| / max |torch| <= 1e-5, or, where PyTorch's own
float32 result is further than that from its float64 result, ours within
twice that of float64 (model_sweep.float_ok). int8 (x86): the integer model
equals its float simulation bit for bit. None of these passes bpu's rules
as exported (the entry transpose and the tosa.slice crops stay float)."""
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
