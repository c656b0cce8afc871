"""torchvision ResNet-18, ResNet-50 and MobileNetV2 (weights=None, fixed
seed, batch norm statistics estimated on random data so that eval-mode
batch norm is not the identity): exported, compiled in-process and run in
float on one 1x3x64x64 image, and compared with PyTorch's float outputs.

Metric: max |ours - torch| / max |torch| over the 1000 logits, <= 1e-4.
PyTorch run in float64 gives the float32 noise floor: our distance to it
must be comparable to PyTorch float32's own. The figures and times are
printed in the pytest summary."""
import copy
import time

import numpy as np
import pytest
import torch

import qat_mlir
from helpers import estimate_batch_norm, rel_error, record

torchvision = pytest.importorskip("torchvision")

SHAPE = (1, 3, 64, 64)
TOL = 1e-4


@pytest.mark.parametrize("name", ["resnet18", "resnet50", "mobilenet_v2"])
def test_torchvision_float(name):
    torch.manual_seed(0)
    net = getattr(torchvision.models, name)(weights=None)
    estimate_batch_norm(net, (4,) + SHAPE[1:], batches=2, seed=0)
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = net(x).numpy()
        ref64 = copy.deepcopy(net).double()(x.double()).numpy()

    start = time.perf_counter()
    text = qat_mlir.export(net, x)
    t_export = time.perf_counter() - start
    start = time.perf_counter()
    model = qat_mlir.compile(text)
    t_compile = time.perf_counter() - start
    ours = model(x.numpy())
    t_run = model.last_time

    assert ours.shape == ref.shape == (1, 1000)
    err = rel_error(ours, ref)
    ours64, torch64 = rel_error(ours, ref64), rel_error(ref, ref64)
    max_abs = float(np.max(np.abs(ours.astype(np.float64) - ref)))
    same_top5 = list(np.argsort(-ours[0])[:5]) == list(np.argsort(-ref[0])[:5])
    record("%-12s max|ours-torch|/max|torch| = %.2e (max abs diff %.2e, max |torch| %.3g, "
           "top-5 %s; vs float64: ours %.2e, torch f32 %.2e); MLIR %.0f MB; export %.1f s, "
           "compile (parse + JIT) %.1f s, first call %.2f s"
           % (name, err, max_abs, np.max(np.abs(ref)), "equal" if same_top5 else "DIFFERENT",
              ours64, torch64, len(text) / 1e6, t_export, t_compile, t_run))
    assert np.max(np.abs(ref)) > 1e-2, "degenerate reference: outputs all near zero"
    assert err <= TOL
    assert ours64 <= 2 * torch64 + 1e-6
