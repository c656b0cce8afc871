"""qat_mlir.export, one case per supported module or function: odd sizes,
strides, padding, dilation, no bias. Each case is exported, run by qat-run
and compared with PyTorch (max |ours - torch| / max |torch| <= 1e-5), and
the TOSA ops it must lower to are checked in the text."""
import re

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from helpers import export_and_run, randomize_batch_norm, rel_error

TOL = 1e-5


class Lambda(nn.Module):
    """forward = fn (traced by torch.fx like any forward)."""

    def __init__(self, fn, *children):
        super().__init__()
        self.fn = fn
        self.layers = nn.ModuleList(children)

    def forward(self, x):
        return self.fn(self, x)


def seq(*layers):
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        out = self.bn(self.conv(x))
        out += x  # in-place add, as in torchvision's BasicBlock
        return torch.relu(out)


class Branches(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Conv2d(3, 2, 1)
        self.b = nn.Conv2d(3, 5, 3, padding=1)

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], dim=1)


class ViewHead(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2)
        self.fc = nn.Linear(4 * 4 * 3, 7)

    def forward(self, x):
        y = self.conv(x)
        return self.fc(y.view(y.size(0), -1))


class TwoInTwoOut(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x, y):
        z = self.conv(x) - y * 0.5
        return z, torch.flatten(F.relu(z), 1) + 1.0


class ShapeBranch(nn.Module):
    """Control flow on a shape: torch.fx cannot trace it, make_fx can."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        if x.shape[2] > 4:
            x = F.max_pool2d(x, 2)
        y = F.relu6(self.bn(self.conv(x)))
        return self.fc(F.adaptive_avg_pool2d(y, 1).flatten(1))


def bn(c):
    return nn.BatchNorm2d(c)


# (id, module factory, input shapes, TOSA ops that must appear)
CASES = [
    ("conv_basic", lambda: nn.Conv2d(3, 5, 3), [(1, 3, 9, 7)], ["tosa.conv2d"]),
    ("conv_stride2_pad1_floor", lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1),
     [(2, 3, 10, 9)], ["tosa.conv2d"]),
    ("conv_stride3_crop", lambda: nn.Conv2d(2, 4, 2, stride=3), [(1, 2, 10, 11)],
     ["tosa.slice", "tosa.conv2d"]),
    ("conv_dilation_rect_nobias", lambda: nn.Conv2d(3, 6, (3, 5), stride=(1, 2), padding=2,
                                                    dilation=2, bias=False),
     [(1, 3, 11, 13)], ["tosa.conv2d"]),
    ("conv_same_even_kernel", lambda: nn.Conv2d(3, 4, 4, padding="same"), [(1, 3, 7, 6)],
     ["pad = array<i64: 1, 2, 1, 2>"]),
    ("conv_valid_1x1", lambda: nn.Conv2d(5, 3, 1, padding="valid"), [(3, 5, 5, 4)],
     ["tosa.conv2d"]),
    ("depthwise", lambda: nn.Conv2d(6, 6, 3, stride=2, padding=1, groups=6), [(1, 6, 9, 9)],
     ["tosa.depthwise_conv2d"]),
    ("depthwise_multiplier2_nobias", lambda: nn.Conv2d(3, 6, 5, padding=2, groups=3, bias=False),
     [(1, 3, 7, 8)], ["tosa.depthwise_conv2d"]),
    ("grouped_conv", lambda: nn.Conv2d(4, 6, 3, padding=1, groups=2), [(1, 4, 6, 5)],
     ["tosa.slice", "tosa.concat", "tosa.conv2d"]),
    ("conv_bn", lambda: seq(nn.Conv2d(3, 4, 3), bn(4)), [(2, 3, 7, 7)],
     ["tosa.sub", "tosa.rsqrt", "tosa.mul"]),
    ("bn_on_input", lambda: bn(3), [(1, 3, 5, 6)], ["tosa.rsqrt"]),
    ("bn_not_affine", lambda: nn.BatchNorm2d(3, affine=False), [(1, 3, 5, 5)], ["tosa.rsqrt"]),
    ("linear_bn1d", lambda: seq(nn.Linear(6, 5), nn.BatchNorm1d(5)), [(4, 6)],
     ["tosa.matmul", "tosa.rsqrt"]),
    ("relu", lambda: seq(nn.Conv2d(3, 3, 1), nn.ReLU()), [(1, 3, 5, 5)],
     ["min_val = 0.000000000e+00"]),
    ("relu6", lambda: seq(nn.Conv2d(3, 3, 1), nn.ReLU6(inplace=True)), [(1, 3, 5, 5)],
     ["max_val = 6.000000000e+00"]),
    ("hardtanh", lambda: seq(nn.Conv2d(3, 3, 1), nn.Hardtanh(-0.5, 0.7)), [(1, 3, 5, 5)],
     ["tosa.clamp"]),
    ("functional_relu_clamp", lambda: Lambda(lambda s, x: torch.clamp(F.relu(x) - 0.3, min=0.1)),
     [(2, 3, 4, 5)], ["tosa.clamp"]),
    ("linear_nobias", lambda: nn.Linear(7, 3, bias=False), [(5, 7)], ["tosa.matmul"]),
    ("linear_rank3", lambda: nn.Linear(4, 6), [(2, 3, 4)], ["tosa.matmul"]),
    ("residual_add", Residual, [(1, 4, 5, 7)], ["tosa.add"]),
    ("torch_add_mul_sub", lambda: Lambda(lambda s, x: torch.add(x, x * 2.0) - 1.5),
     [(1, 3, 4, 4)], ["tosa.add", "tosa.mul", "tosa.sub"]),
    ("cat_channels", Branches, [(1, 3, 5, 6)], ["tosa.concat"]),
    ("cat_height", lambda: Lambda(lambda s, x: torch.cat((x, x * 2.0), 2)), [(1, 3, 4, 5)],
     ["tosa.concat"]),
    ("view_size_linear", ViewHead, [(2, 3, 9, 7)], ["tosa.transpose", "tosa.matmul"]),
    ("flatten_module", lambda: seq(nn.Conv2d(3, 2, 3), nn.Flatten(), nn.Linear(2 * 3 * 4, 3)),
     [(1, 3, 5, 6)], ["tosa.reshape"]),
    ("reshape_method", lambda: Lambda(lambda s, x: x.reshape(2, 3, -1).flatten(1)),
     [(2, 3, 4, 5)], ["tosa.reshape"]),
    ("adaptive_avg_1x1", lambda: seq(nn.Conv2d(3, 4, 3), nn.AdaptiveAvgPool2d(1)),
     [(2, 3, 9, 8)], ["kernel = array<i64: 7, 6>"]),
    ("adaptive_avg_2x3", lambda: nn.AdaptiveAvgPool2d((2, 3)), [(1, 3, 6, 9)],
     ["kernel = array<i64: 3, 3>"]),
    ("adaptive_avg_functional", lambda: Lambda(lambda s, x: F.adaptive_avg_pool2d(x, (1, 1))),
     [(1, 3, 5, 7)], ["tosa.avg_pool2d"]),
    ("avgpool_plain", lambda: nn.AvgPool2d(2), [(1, 3, 7, 9)], ["tosa.avg_pool2d"]),
    ("avgpool_pad_count_include", lambda: nn.AvgPool2d(3, 2, 1), [(1, 3, 8, 7)],
     ["tosa.concat", "tosa.avg_pool2d"]),
    ("avgpool_pad_count_exclude", lambda: nn.AvgPool2d(3, 2, 1, count_include_pad=False),
     [(1, 3, 8, 7)], ["pad = array<i64: 1, 0, 1, 1>"]),
    ("avgpool_ceil", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True), [(1, 2, 8, 7)],
     ["tosa.avg_pool2d"]),
    ("maxpool_3_2_1", lambda: nn.MaxPool2d(3, 2, 1), [(1, 3, 8, 7)], ["tosa.max_pool2d"]),
    ("maxpool_ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), [(1, 3, 7, 9)],
     ["tosa.max_pool2d"]),
    ("maxpool_rect", lambda: Lambda(lambda s, x: F.max_pool2d(x, (2, 3), (1, 2))),
     [(1, 3, 6, 9)], ["tosa.max_pool2d"]),
    ("dropout_identity", lambda: seq(nn.Dropout(0.3), nn.Identity(), nn.Dropout2d(), nn.ReLU()),
     [(1, 3, 4, 4)], ["tosa.clamp"]),
    ("mean_hw", lambda: Lambda(lambda s, x: x.mean([2, 3])), [(2, 5, 3, 7)],
     ["tosa.avg_pool2d"]),
    ("mean_hw_keepdim", lambda: Lambda(lambda s, x: torch.mean(x, (-1, -2), keepdim=True)),
     [(1, 4, 5, 3)], ["tosa.avg_pool2d"]),
    ("mean_other_dim", lambda: Lambda(lambda s, x: x.mean(1)), [(2, 5, 3, 4)],
     ["tosa.reduce_sum"]),
    ("one_channel_input", lambda: seq(nn.Conv2d(1, 3, 3), nn.ReLU()), [(2, 1, 6, 6)],
     ["tosa.reshape"]),
    ("gelu_erf", lambda: seq(nn.Linear(6, 40), nn.GELU()), [(3, 6)], ["tosa.erf"]),
    ("gelu_tanh", lambda: Lambda(lambda s, x: F.gelu(x * 3.0, approximate="tanh")),
     [(2, 3, 4, 5)], ["tosa.tanh"]),
    ("two_inputs_two_outputs", TwoInTwoOut, [(1, 3, 4, 5), (1, 3, 4, 5)], ["tosa.sub"]),
    ("shape_control_flow_make_fx", ShapeBranch, [(1, 3, 8, 6)], ["tosa.max_pool2d"]),
]


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,make,shapes,ops", CASES, ids=[c[0] for c in CASES])
def test_module(name, make, shapes, ops):
    torch.manual_seed(sum(map(ord, name)))
    module = randomize_batch_norm(make(), seed=1)
    inputs = [torch.randn(s) for s in shapes]
    ours, ref, text = export_and_run(module, *inputs)
    for op in ops:
        assert op in text, "%s: %r not in the exported text" % (name, op)
    assert len(ours) == len(ref)
    for o, r in zip(ours, ref):
        assert o.shape == r.shape and o.dtype == np.float32
        err = rel_error(o, r)
        assert err <= TOL, "%s: max |ours - torch| / max |torch| = %.3g" % (name, err)


def test_exported_function_signature():
    """NCHW in, one transpose to NHWC at entry, NCHW out."""
    from qat_mlir import export
    text = export(nn.Conv2d(3, 4, 3, padding=1).eval(), torch.randn(2, 3, 5, 6), name="conv")
    assert "func.func @conv(%arg0: tensor<2x3x5x6xf32>) -> tensor<2x4x5x6xf32>" in text
    assert text.count("tosa.transpose") == 2
    assert "perms = array<i32: 0, 2, 3, 1>" in text and "perms = array<i32: 0, 3, 1, 2>" in text
    assert "tensor<4x3x3x3xf32>" in text  # OHWI weights


def test_weights_exact():
    """Weights are written bit for bit (hex), including -0.0 and subnormals."""
    from qat_mlir import writer as _tosa
    w = np.array([[1.0, -0.0, 1e-40, 3.4e38], [np.float32(0.1), -2.5, 7.0, 1e-8]], np.float32)
    body = _tosa.dense_f32(np.tile(w, (3, 1)))
    assert body.startswith('"0x')
    raw = bytes.fromhex(body[3:-1])
    assert np.array_equal(np.frombuffer(raw, "<u4"), np.tile(w, (3, 1)).view("<u4").ravel())
    small = _tosa.dense_f32(w)  # decimal: each literal parses back to the same f32
    values = np.array(re.findall(r"-?[0-9.]+e[-+][0-9]+", small), np.float32)
    assert np.array_equal(values.view("<u4"), w.view("<u4").ravel())
