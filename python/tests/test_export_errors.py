"""What qat_mlir.export refuses: an ExportError naming the module (its
qualified name) and the op, in one line, without a trace dump; and what it
leaves untouched (training flags, batch norm statistics)."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

import qat_mlir
from qat_mlir import ExportError


class WithLSTM(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.rnn = nn.LSTM(4, 4)

    def forward(self, x):
        return self.rnn(self.fc(x))[0]


class Sin(nn.Module):
    def forward(self, x):
        return torch.sin(x) + 1.0


class Outer(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.block = nn.Sequential(nn.ReLU(), Sin())

    def forward(self, x):
        return self.block(self.conv(x))


class ValueBranch(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)

    def forward(self, x):
        y = self.conv(x)
        if y.sum() > 0:  # on values: neither tracer can follow it
            y = y * 2.0
        return y


def message(module, x):
    with pytest.raises(ExportError) as info:
        qat_mlir.export(module.eval(), x)
    text = str(info.value)
    assert "\n" not in text and "Traceback" not in text, text
    assert info.value.__cause__ is None and info.value.__suppress_context__
    return text


def test_lstm_module():
    text = message(WithLSTM(), torch.randn(2, 3, 4))
    assert "module 'rnn'" in text and "LSTM" in text and "not supported" in text, text


def test_function_in_submodule():
    text = message(Outer(), torch.randn(1, 3, 4, 4))
    assert "torch.sin" in text and "module 'block.1'" in text and "Sin" in text, text


@pytest.mark.parametrize("module,shape,words", [
    (nn.Sequential(nn.Conv2d(3, 3, 3, padding=1, padding_mode="reflect")), (1, 3, 5, 5),
     ["module '0'", "Conv2d", "padding_mode='reflect'"]),
    (nn.Sequential(nn.Identity(), nn.AdaptiveAvgPool2d(3)), (1, 3, 5, 5),
     ["module '1'", "AdaptiveAvgPool2d", "5x5 to 3x3"]),
    (nn.Sequential(nn.MaxPool2d(2, dilation=2)), (1, 3, 6, 6),
     ["module '0'", "MaxPool2d", "dilation"]),
    (nn.Sequential(nn.AvgPool2d(2, divisor_override=3)), (1, 3, 6, 6),
     ["module '0'", "AvgPool2d", "divisor_override"]),
    (nn.Sequential(nn.BatchNorm2d(3, track_running_stats=False)), (2, 3, 4, 4),
     ["module '0'", "BatchNorm2d", "track_running_stats=False"]),
    (nn.Sequential(nn.Softplus()), (1, 3, 4, 4), ["module '0'", "Softplus", "not supported"]),
    (nn.Sequential(nn.ConvTranspose2d(3, 3, 2)), (1, 3, 4, 4),
     ["module '0'", "ConvTranspose2d"]),
], ids=["padding_mode", "adaptive_not_divisible", "maxpool_dilation", "divisor_override",
        "bn_batch_stats", "softplus", "conv_transpose"])
def test_unsupported_module_arguments(module, shape, words):
    text = message(module, torch.randn(shape))
    for w in words:
        assert w in text, (w, text)


def test_slicing_names_the_op():
    class Slice(nn.Module):
        def forward(self, x):
            return F.relu(x)[:, ::2]  # slices with a step are not supported
    text = message(Slice(), torch.randn(1, 3, 4, 4))
    assert "operator.getitem" in text and "module '<root>'" in text and "step 2" in text, text


def test_value_dependent_control_flow():
    text = message(ValueBranch(), torch.randn(1, 3, 4, 4))
    assert "torch.fx" in text and "make_fx" in text and "ValueBranch" in text, text


def test_make_fx_fallback_names_aten_op():
    class ShapeSin(nn.Module):
        def forward(self, x):
            if x.shape[1] == 3:
                x = torch.sin(x)
            return x
    text = message(ShapeSin(), torch.randn(1, 3, 4, 4))
    assert "aten.sin" in text and "torch.fx could not trace" in text, text


def test_bad_example_input():
    with pytest.raises(ExportError, match="float32"):
        qat_mlir.export(nn.ReLU(), torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ExportError, match="example input"):
        qat_mlir.export(nn.Conv2d(3, 3, 1), torch.randn(1, 4, 5, 5))


def test_state_untouched():
    net = nn.Sequential(nn.Conv2d(3, 3, 1), nn.BatchNorm2d(3), nn.Dropout())
    net.train()
    net[2].eval()
    mean = net[1].running_mean.clone()
    qat_mlir.export(net, torch.randn(4, 3, 5, 5))
    assert net.training and net[1].training and not net[2].training
    assert torch.equal(net[1].running_mean, mean) and net[1].num_batches_tracked == 0
