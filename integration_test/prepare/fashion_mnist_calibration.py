# REQUIRES: torch, fashion-mnist
# RUN: %python %s %qat_src_root
#
# Calibrates the bundled Fashion-MNIST CNN on 20 batches of 32 real training
# images (qat-prepare, qat-calibrate, qat-freeze-qparams) for x86 (moving
# average, u8 affine), bpu (moving average, s8 symmetric) and a min/max
# variant of x86 from a target file. PyTorch 1.13's MovingAverageMinMaxObserver
# / MinMaxObserver are fed the same tensors our observers saw (qat-calibrate
# --save-observed), batch by batch. Compared bit for bit: the final range of
# every activation quantizer, and the frozen scale and zero point against
# calculate_qparams().
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import torch
from torch.ao.quantization import observer as tob

ROOT = sys.argv[1]
sys.path.insert(0, os.path.join(ROOT, "examples", "fashion_mnist"))
sys.path.insert(0, os.path.join(ROOT, "integration_test", "pytorch"))
import fmnist  # noqa: E402
from harness import qat_run_path  # noqa: E402

BIN = os.path.dirname(qat_run_path())
MODEL = os.path.join(ROOT, "examples", "fashion_mnist", "model.mlir")
BATCHES, BATCH = 20, 32


def tool(name, *args):
    return subprocess.run([os.path.join(BIN, name), *args], check=True,
                          capture_output=True, text=True).stdout


def torch_observer(target):
    if target == "bpu":
        return tob.MovingAverageMinMaxObserver(
            averaging_constant=0.01, dtype=torch.qint8,
            qscheme=torch.per_tensor_symmetric, quant_min=-128, quant_max=127)
    if target.endswith("x86_minmax.json"):
        return tob.MinMaxObserver(dtype=torch.quint8, qscheme=torch.per_tensor_affine,
                                  quant_min=0, quant_max=255)
    return tob.MovingAverageMinMaxObserver(
        averaging_constant=0.01, dtype=torch.quint8, qscheme=torch.per_tensor_affine,
        quant_min=0, quant_max=255)


def f32(text):
    return np.float32(float(text))


images, _ = fmnist.load("train")
failures = compared = 0
targets = ["x86", "bpu", os.path.join(ROOT, "integration_test", "prepare", "x86_minmax.json")]
with tempfile.TemporaryDirectory() as tmp:
    data = []
    for i in range(BATCHES):
        p = os.path.join(tmp, "batch%02d.npy" % i)
        np.save(p, images[i * BATCH:(i + 1) * BATCH])
        data += ["--data", p]
    for target in targets:
        label = os.path.basename(target)
        prepared = os.path.join(tmp, "prepared.mlir")
        with open(prepared, "w") as f:
            f.write(tool("qat-opt", MODEL, "--qat-prepare=target=" + target,
                             "--mlir-print-debuginfo"))
        calibrated = os.path.join(tmp, "calibrated.mlir")
        obs_dir = os.path.join(tmp, "observed-" + label)
        tool("qat-calibrate", prepared, "--entry", "main", *data, "-o", calibrated,
             "--quiet", "--save-observed", obs_dir, "--mlir-print-debuginfo")
        text = open(calibrated).read()
        state = {m.group(1): f32(m.group(2)) for m in re.finditer(
            r"ml_program\.global private mutable @(\w+)\(dense<([^>]+)> : tensor<f32>\)", text)}
        frozen = tool("qat-opt", calibrated, "--qat-freeze-qparams",
                      "--mlir-print-debuginfo", "--mlir-print-local-scope")
        consts = {m.group(1): m.group(2) for m in re.finditer(
            r"(%\w+) = arith\.constant dense<([^>]+)> : tensor<(?:f32|i32)>", frozen)}
        frozen_q = {}
        for m in re.finditer(r"qat\.fake_quant %\w+, (%\w+), (%\w+) .*loc\(\"(act\d+)\"", frozen):
            frozen_q[m.group(3)] = (f32(consts[m.group(1)]), int(consts[m.group(2)]))
        names = sorted({k[:-4] for k in state if k.endswith("_min")}, key=lambda n: int(n[3:]))
        assert names and set(names) == set(frozen_q), (names, frozen_q.keys())
        for name in names:
            ob = torch_observer(target)
            for i in range(BATCHES):
                ob(torch.from_numpy(np.load(os.path.join(obs_dir, "%s_batch%d.npy" % (name, i)))))
            t_min, t_max = np.float32(ob.min_val.item()), np.float32(ob.max_val.item())
            s, z = ob.calculate_qparams()
            t_scale, t_zp = np.float32(s.item()), int(z.item())
            ours = (state[name + "_min"], state[name + "_max"]) + frozen_q[name]
            theirs = (t_min, t_max, t_scale, t_zp)
            same = all(np.float32(a).tobytes() == np.float32(b).tobytes()
                       for a, b in zip(ours[:3], theirs[:3])) and ours[3] == theirs[3]
            compared += 1
            print("%-16s %-6s min %+.8g max %+.8g scale %.8g zp %4d  %s"
                  % (label, name, *ours, "identical" if same else
                     "DIFFERS (torch: %r)" % (theirs,)))
            if not same:
                failures += 1
print("%d quantizers compared, %d differ" % (compared, failures))
sys.exit(1 if failures or not compared else 0)
