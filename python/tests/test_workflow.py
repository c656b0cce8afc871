"""The PyTorch user's workflow: quantize in one call from a DataLoader of
(x, y), save, load in a new process, run on the host, ahead of time (a
shared library called from C) and on the NPU simulator: every output equal.
The ResNet-18 case is the acceptance test of issue 21 (1x3x64x64 images)."""
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from helpers import estimate_batch_norm, record

MAIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
int main(int argc, char **argv) {
  FILE *f = fopen(argv[1], "rb");
  long n = atol(argv[3]), m = atol(argv[4]);
  float *x = malloc(n * sizeof(float)), *y = malloc(m * sizeof(float));
  if (fread(x, sizeof(float), n, f) != (size_t)n) return 1;
  fclose(f);
  qat_main(x, y);
  f = fopen(argv[2], "wb");
  fwrite(y, sizeof(float), m, f);
  fclose(f);
  return 0;
}
"""

LOAD_PY = r"""
import sys
import numpy as np
import qat_mlir
qm = qat_mlir.load(sys.argv[1])
np.save(sys.argv[3], qm(np.load(sys.argv[2])))
print(qm.target, qm.batch, sorted(qm.metadata))
"""


def run_everywhere(qm, x, tmp_path):
    """Outputs of the quantized model: in-process, after save + load in a new
    process, from the shared library called by a C program, on the NPU."""
    outs = {"host": qm(x).numpy()}
    path = qm.save(str(tmp_path / "model.qat.mlir"))
    np.save(tmp_path / "x.npy", x.numpy())
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(qat_mlir.__file__)))
    proc = subprocess.run([sys.executable, "-c", LOAD_PY, path, str(tmp_path / "x.npy"),
                           str(tmp_path / "y.npy")], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    outs["loaded in a new process"] = np.load(tmp_path / "y.npy")

    loaded = qat_mlir.load(path)
    lib, header = loaded.export_library(str(tmp_path / "libmodel.so"),
                                        header=str(tmp_path / "model.h"))
    (tmp_path / "main.c").write_text(MAIN_C)
    cc = shutil.which("cc") or shutil.which("clang-22")
    subprocess.run([cc, "-I", str(tmp_path), str(tmp_path / "main.c"), "-o", str(tmp_path / "prog"),
                    "-L", str(tmp_path), "-lmodel", "-Wl,-rpath," + str(tmp_path), "-lm"],
                   check=True)
    x.numpy().astype(np.float32).tofile(tmp_path / "x.bin")
    subprocess.run([str(tmp_path / "prog"), str(tmp_path / "x.bin"), str(tmp_path / "y.bin"),
                    str(x.numel()), str(outs["host"].size)], check=True)
    outs["AOT shared library"] = np.fromfile(tmp_path / "y.bin", np.float32).reshape(
        outs["host"].shape)

    npu = qat_mlir.compile(loaded, target="npu")
    outs["NPU simulator"] = npu(x).numpy()
    return outs, npu.last_run


def check_equal(outs, run, label):
    ref = outs["host"]
    differ = {k: int((v != ref).sum()) for k, v in outs.items()}
    record("%s: outputs vs the in-process int8 model (%d values): %s; NPU vs CPU int8 codes: "
           "%s mismatches, %d cycles"
           % (label, ref.size, ", ".join("%s %d differ" % kv for kv in differ.items()),
              run["mismatches"], run["cycles"]))
    assert not any(differ.values()), differ
    assert run["mismatches"] == [0]


def small_net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                         nn.Conv2d(8, 8, 1, stride=2), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(8 * 4 * 4, 10)).eval()


def test_quantize_small(tmp_path, capsys):
    net = estimate_batch_norm(small_net(), (8, 3, 16, 16))
    # float64 images with labels; 44 images in batches of 8: the last one (4)
    # cannot run at the exported batch size and is left out.
    images = torch.randn(44, 3, 16, 16, dtype=torch.float64)
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(images, torch.randint(0, 10, (44,))), batch_size=8)
    qm = qat_mlir.quantize(net, data, "bpu")
    assert "left out 1 data item(s)" in capsys.readouterr().err
    md = qm.metadata
    assert md["target"] == "bpu" and md["batch"] == 8 and md["calibration_batches"] == 5
    assert md["input_shapes"] == [[8, 3, 16, 16]] and md["output_shapes"] == [[8, 10]]
    inq, = md["input_quantization"]
    assert inq["scale"] > 0 and inq["zero_point"] == 0 and (inq["quant_min"], inq["quant_max"]) \
        == (-128, 127) and inq["through"] == ["tosa.transpose"]
    assert md["module_names"]["7"] == "Linear"
    assert "tosa.slice" not in qm.mlir   # the 1x1 stride-2 crop is a zero tap for bpu
    x = torch.randn(8, 3, 16, 16)
    outs, run = run_everywhere(qm, x, tmp_path)
    check_equal(outs, run, "quantize small CNN (bpu)")
    # The same model through transform_fn, with an explicit example input.
    qm2 = qat_mlir.quantize(net, list(data)[:5], "bpu", transform_fn=lambda item: item[0] * 1.0,
                            progress=False)
    assert np.array_equal(qm2(x).numpy(), outs["host"])


def test_quantize_x86_float64_list():
    net = estimate_batch_norm(small_net(), (8, 3, 16, 16))
    data = [np.random.default_rng(i).standard_normal((4, 3, 16, 16)) for i in range(3)]
    qm = qat_mlir.quantize(net, data, "x86", progress=False)
    assert qm.target == "x86" and qm.batch == 4
    y = qm(data[0].astype(np.float32))
    assert y.shape == (4, 10) and y.dtype == np.float32
    assert qm(np.zeros((1, 3, 16, 16), np.float32)).shape == (1, 10)   # another batch size
    with pytest.raises(ValueError, match="target='gpu'"):
        qm.compile("gpu")


def test_resnet18_end_to_end(tmp_path):
    """torchvision ResNet-18 quantized for bpu in one call from a DataLoader
    of (x, y), saved, loaded in a new process, compiled ahead of time and
    for the NPU: every output equal, NPU vs CPU int8 0 mismatches."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    net = estimate_batch_norm(torchvision.models.resnet18(weights=None), (4, 3, 64, 64))
    g = torch.Generator().manual_seed(3)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        torch.randn(6, 3, 64, 64, generator=g), torch.randint(0, 1000, (6,), generator=g)),
        batch_size=2)
    qm = qat_mlir.quantize(net, data, "bpu", progress=False)
    x = torch.randn(2, 3, 64, 64, generator=g)
    outs, run = run_everywhere(qm, x, tmp_path)
    check_equal(outs, run, "quantize torchvision ResNet-18 (bpu, 2x3x64x64)")
