"""Small PyTorch QAT models for the import tests: eager mode (fused modules,
QuantStub/DeQuantStub, FloatFunctional) and FX mode, trained for a few
steps on random data so that observers, batch-norm statistics and weights
have moved, and the comparison with PyTorch's converted int8 model."""
import copy

import numpy as np
import torch
import torch.ao.quantization as tq
import torch.nn as nn
import torch.nn.functional as F
from torch.ao.quantization.quantize_fx import convert_fx, prepare_qat_fx


class EagerNet(nn.Module):
    """conv-BN-ReLU, max pool, conv-BN + residual (FloatFunctional add_relu),
    depthwise conv-BN-ReLU, average pool, flatten, linear-ReLU, linear."""

    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.relu1 = nn.ReLU()
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.skip = torch.nn.quantized.FloatFunctional()
        self.dw = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8)
        self.bn3 = nn.BatchNorm2d(8)
        self.relu3 = nn.ReLU()
        self.avg = nn.AvgPool2d(2)
        self.fc1 = nn.Linear(8 * 2 * 2, 16)
        self.relu4 = nn.ReLU()
        self.fc2 = nn.Linear(16, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        y = self.pool(self.relu1(self.bn1(self.conv1(self.quant(x)))))
        y = self.skip.add_relu(self.bn2(self.conv2(y)), y)
        y = self.avg(self.relu3(self.bn3(self.dw(y))))
        y = self.relu4(self.fc1(torch.flatten(y, 1)))
        return self.dequant(self.fc2(y))


EAGER_FUSIONS = [["conv1", "bn1", "relu1"], ["conv2", "bn2"], ["dw", "bn3", "relu3"],
                 ["fc1", "relu4"]]


class FxNet(nn.Module):
    """The same kinds of layers written as FX sees them: torch.relu (float
    in FX's converted model, with its own quantizer), F.relu6 (kept on the
    input's parameters), a residual add + ReLU, adaptive average pool."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(8)
        self.dw = nn.Conv2d(8, 8, 3, padding=1, groups=8)
        self.bn3 = nn.BatchNorm2d(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Linear(8, 16)
        self.fc2 = nn.Linear(16, 10)

    def forward(self, x):
        y = self.pool(F.relu(self.bn1(self.conv1(x))))
        y = torch.relu(self.bn2(self.conv2(y)) + y)
        y = F.relu6(self.bn3(self.dw(y)))
        y = torch.flatten(self.gap(y), 1)
        return self.fc2(torch.relu(self.fc1(y)))


def train(model, shape, steps=30, seed=0):
    """A few SGD steps of cross entropy against random labels on random
    inputs (observers, batch-norm statistics and weights move), then eval."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    model.train()
    for _ in range(steps):
        x = torch.randn(shape, generator=g)
        labels = torch.randint(0, 10, (shape[0],), generator=g)
        opt.zero_grad()
        F.cross_entropy(model(x), labels).backward()
        opt.step()
    return model.eval()


def eager_qat(backend, version=1, seed=0, fuse_linear_relu=True):
    """EagerNet prepared with get_default_qat_qconfig(backend, version)
    (version 1: fused observer + fake-quant modules; 0: FakeQuantize, which
    torch.onnx can export). Without fuse_linear_relu, fc1's ReLU stays a
    separate module (torch.onnx cannot export quantized::linear_relu)."""
    torch.manual_seed(seed)
    net = EagerNet().train()
    net.qconfig = tq.get_default_qat_qconfig(backend, version)
    fusions = [f for f in EAGER_FUSIONS if fuse_linear_relu or f[0] != "fc1"]
    tq.fuse_modules_qat(net, fusions, inplace=True)
    tq.prepare_qat(net, inplace=True)
    return train(net, (16, 3, 16, 16), seed=seed)


def fx_qat(backend, seed=0):
    torch.manual_seed(seed)
    net = FxNet().train()
    model = prepare_qat_fx(net, tq.get_default_qat_qconfig_mapping(backend),
                           (torch.randn(2, 3, 16, 16),))
    return train(model, (16, 3, 16, 16), seed=seed)


def torch_int8(model, engine="onednn"):
    """PyTorch's converted int8 model (eager convert or convert_fx) of a
    copy, on `engine` (which stays selected: run the model on it).

    On qnnpack, PyTorch 1.13's quantized relu6 / hardtanh / clamp
    (qnnpack_clamp) given a channels-last tensor (what its convolutions
    return) writes the clamped NHWC data into a contiguous NCHW result: the
    values land on the wrong positions (93,249 of 131,072 codes of FxNet's
    relu6 moved; its memory equals the clamped input's). That is a layout
    bug, not arithmetic, so the input of each such call of a converted FX
    model is made contiguous first."""
    torch.backends.quantized.engine = engine
    m = copy.deepcopy(model)
    if isinstance(m, torch.fx.GraphModule):
        q = convert_fx(m)
        if engine == "qnnpack":
            clamps = (F.relu6, F.hardtanh, torch.clamp)
            for node in list(q.graph.nodes):
                if node.op == "call_function" and node.target in clamps:
                    with q.graph.inserting_before(node):
                        c = q.graph.call_method("contiguous", (node.args[0],))
                    node.replace_input_with(node.args[0], c)
            q.recompile()
        return q
    return tq.convert(m)


def output_lsb(int8_model, x):
    """The scale of the last quantized tensor a module of PyTorch's
    converted model produces on x (the output grid, before DeQuantize)."""
    scales = []

    def hook(module, inputs, output):
        if isinstance(output, torch.Tensor) and output.is_quantized:
            scales.append(float(output.q_scale()))
    handles = [m.register_forward_hook(hook) for m in int8_model.modules()
               if m is not int8_model]
    try:
        with torch.no_grad():
            int8_model(x)
    finally:
        for h in handles:
            h.remove()
    return scales[-1]


def lsb_stats(ours, ref, lsb):
    """(fraction of elements within 1 LSB, elements that differ, max |diff|
    in LSB) of two dequantized outputs on one grid."""
    d = np.abs(np.asarray(ours, np.float64) - np.asarray(ref, np.float64)) / lsb
    return float(np.mean(d <= 1.0 + 1e-3)), int(np.sum(d > 0.5)), float(d.max())
