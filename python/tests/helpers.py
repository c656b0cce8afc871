"""Helpers of the qat_mlir tests: PyTorch reference runs, batch norm
statistics, the error metric, and the figures printed at the end."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if os.path.join(ROOT, "python") not in sys.path:
    sys.path.insert(0, os.path.join(ROOT, "python"))

import torch  # noqa: E402

import qat_mlir  # noqa: E402

FIGURES = []


def record(line):
    """A measured figure, printed in the summary (and with -s at once)."""
    FIGURES.append(line)
    print(line)


def rel_error(ours, ref):
    """max |ours - ref| / max |ref|: the metric of these tests."""
    ours, ref = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    return float(np.max(np.abs(ours - ref)) / max(np.max(np.abs(ref)), 1e-30))


def torch_outputs(module, inputs):
    with torch.no_grad():
        out = module(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o.numpy() for o in outs]


def export_and_run(module, *inputs):
    """(our outputs, PyTorch's outputs, MLIR text) of an eval-mode module."""
    module.eval()
    text = qat_mlir.export(module, inputs if len(inputs) > 1 else inputs[0])
    ref = torch_outputs(module, inputs)
    ours = qat_mlir.compile(text)(*[x.numpy() for x in inputs])
    ours = list(ours) if isinstance(ours, tuple) else [ours]
    return ours, ref, text


def randomize_batch_norm(module, seed=0):
    """Gives every batch norm non-trivial parameters: random affine
    parameters and running statistics estimated on random data (so eval-mode
    batch norm is not the identity and activations keep their scale)."""
    g = torch.Generator().manual_seed(seed)
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    with torch.no_grad():
        for m in bns:
            if m.affine:
                m.weight.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module


def estimate_batch_norm(module, shape, batches=2, seed=0):
    """Running statistics of every batch norm from training-mode passes over
    random inputs of `shape` (cumulative averages), then eval mode."""
    bns = [m for m in module.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    g = torch.Generator().manual_seed(seed)
    randomize_batch_norm(module, seed)
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    with torch.no_grad():
        for _ in range(batches):
            module(torch.randn(shape, generator=g))
    return module.eval()
