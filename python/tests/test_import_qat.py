"""qat_mlir.import_qat: PyTorch QAT models (eager prepare_qat with fused
modules, FX prepare_qat_fx; qconfigs onednn, qnnpack, fbgemm) imported as
frozen fake-quant modules, converted and compiled by qat-mlir, against
PyTorch's own converted int8 model (torch.ao.quantization.convert /
convert_fx, onednn engine) on the same inputs. Also: the weight codes equal
PyTorch's, the model is left untouched, the target is chosen from the
quantizers, and what cannot be imported gets an ExportError naming it."""
import copy
import re

import numpy as np
import pytest
import torch
import torch.ao.quantization as tq
import torch.nn as nn

import qat_mlir
from helpers import estimate_batch_norm, record
from qat_models import (EAGER_FUSIONS, EagerNet, eager_qat, fx_qat, lsb_stats, output_lsb,
                        torch_int8, train)
from qat_mlir import ExportError

TARGETS = {"onednn": "x86:pytorch-onednn", "qnnpack": "x86:per-tensor:pytorch-qnnpack",
           "fbgemm": "x86:reduce-range"}
# The engine PyTorch's converted model runs on, by qconfig (no fbgemm here).
ENGINE = {"onednn": "onednn", "qnnpack": "qnnpack", "fbgemm": "onednn"}


def inputs(n=256, seed=5):
    return torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def run_one_thread(q, x):
    """PyTorch's int8 model on x, on one thread: its quantized add
    dequantizes the scalar tail of each thread's chunk without an FMA
    (pytorch_int8.py), so its result depends on the thread count."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with torch.no_grad():
            return q(x).numpy()
    finally:
        torch.set_num_threads(threads)


def compare(kind, backend, model, min_within=0.99, max_lsb=2.0):
    x = inputs()
    q = torch_int8(model, ENGINE[backend])
    ref = run_one_thread(q, x)
    lsb = output_lsb(q, x[:4])
    text = qat_mlir.import_qat(model, x[:64])
    assert re.match(r'module attributes \{qat.target = "%s"\}' % re.escape(TARGETS[backend]),
                    text), text[:200]
    int8 = qat_mlir.convert(text)
    assert "qat.fake_quant" not in int8 and "xi8>" in int8
    y8 = qat_mlir.compile(int8)(x.numpy(), split=True)
    within, differ, worst = lsb_stats(y8, ref, lsb)
    record("import_qat %-5s %-7s -> %-16s int8 vs PyTorch int8 (%s): %d of %d logits differ, "
           "%.2f %% within 1 LSB, max %.0f LSB" % (kind, backend, TARGETS[backend],
                                                   ENGINE[backend], differ, ref.size,
                                                   100 * within, worst))
    assert within >= min_within and worst <= max_lsb + 1e-3
    if backend != "fbgemm":  # PyTorch-exact (engine="auto" picks the qconfig's engine)
        assert differ == 0 and np.array_equal(y8, ref)
    return text, int8, q


@pytest.mark.parametrize("backend", ["onednn", "qnnpack", "fbgemm"])
def test_eager(backend):
    model = eager_qat(backend)
    before = copy.deepcopy(model.state_dict())
    text, int8, q = compare("eager", backend, model, min_within=1.0, max_lsb=1.0)
    # Nothing of the model moved (observers, statistics, weights).
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    # Every kernel is integer; the weight codes are PyTorch's (BN folded and
    # quantized as convert does it).
    assert int8.count("qat.integer_kernel") >= 5 and "qat.quantize " in int8
    codes = i8_constants(int8)
    for mod, qmod in [("conv1", q.conv1), ("conv2", q.conv2)]:
        want = qmod.weight().int_repr().permute(0, 2, 3, 1).numpy()
        assert any(c.shape == want.shape and np.array_equal(c, want) for c in codes), mod
    dw = q.dw.weight().int_repr().permute(2, 3, 0, 1).numpy()  # HWCM
    assert any(c.shape == dw.shape and np.array_equal(c, dw) for c in codes)
    fc2 = q.fc2.weight().int_repr().numpy().T[None]  # 1 x in x out
    assert any(c.shape == fc2.shape and np.array_equal(c, fc2) for c in codes)


@pytest.mark.parametrize("backend", ["onednn", "qnnpack", "fbgemm"])
def test_fx(backend):
    compare("fx", backend, fx_qat(backend))


@pytest.mark.parametrize("kind", ["eager", "fx"])
@pytest.mark.parametrize("backend", ["onednn", "qnnpack"])
def test_pytorch_exact_onednn(kind, backend):
    """engine="onednn" (x86:pytorch-onednn): the int8 model computes PyTorch's
    converted model on the onednn engine bit for bit, whichever qconfig
    (onednn: per-channel weights, qnnpack: per-tensor) prepared it, with the
    VNNI and the portable kernels and the generic lowering, and equals its
    float simulation."""
    model = eager_qat(backend) if kind == "eager" else fx_qat(backend)
    x = inputs()
    ref = run_one_thread(torch_int8(model), x)
    text = qat_mlir.import_qat(model, x[:64], engine="onednn")
    assert ":pytorch-onednn\"" in text.split("\n", 1)[0]
    int8 = qat_mlir.convert(text)
    assert "float_bias" in int8 and "fma_offset = 128" in int8
    sim = qat_mlir.convert(text, simulate=True)
    ys = qat_mlir.compile(sim)(x.numpy(), split=True)
    differ = {}
    for kernels in ("auto", "portable", "none"):
        y8 = qat_mlir.compile(int8, kernels=kernels)(x.numpy(), split=True)
        differ[kernels] = int(np.sum(y8 != ref))
        assert np.array_equal(y8.view(np.uint32), ys.view(np.uint32)), kernels
    record("import_qat %-5s %-7s engine=onednn: int8 vs PyTorch int8 (onednn): %s of %d logits "
           "differ" % (kind, backend, differ, ref.size))
    assert all(v == 0 for v in differ.values()), differ


@pytest.mark.parametrize("kind", ["eager", "fx"])
def test_pytorch_exact_qnnpack(kind):
    """engine="auto" on a model of the qnnpack qconfig (x86:per-tensor:
    pytorch-qnnpack): the int8 model computes PyTorch's converted model on
    the qnnpack engine bit for bit (qnnpack's kernel constants, its
    fixed-point add rounding ties away from zero), with the VNNI and the
    portable kernels and the generic lowering, and equals its float
    simulation. qat-mlir's own x86 arithmetic (engine=None) is counted."""
    model = eager_qat("qnnpack") if kind == "eager" else fx_qat("qnnpack")
    x = inputs()
    ref = run_one_thread(torch_int8(model, "qnnpack"), x)
    text = qat_mlir.import_qat(model, x[:64])
    assert ":pytorch-qnnpack\"" in text.split("\n", 1)[0]
    int8 = qat_mlir.convert(text)
    assert "round_half_away_from_zero" in int8 and "float_bias" not in int8
    sim = qat_mlir.convert(text, simulate=True)
    ys = qat_mlir.compile(sim)(x.numpy(), split=True)
    differ = {}
    for kernels in ("auto", "portable", "none"):
        y8 = qat_mlir.compile(int8, kernels=kernels)(x.numpy(), split=True)
        differ[kernels] = int(np.sum(y8 != ref))
        assert np.array_equal(y8.view(np.uint32), ys.view(np.uint32)), kernels
    default = qat_mlir.compile(qat_mlir.convert(qat_mlir.import_qat(model, x[:64], engine=None)))(
        x.numpy(), split=True)
    record("import_qat %-5s qnnpack engine=auto (pytorch-qnnpack): int8 vs PyTorch int8 "
           "(qnnpack): %s of %d logits differ (engine=None: %d)"
           % (kind, differ, ref.size, int(np.sum(default != ref))))
    assert all(v == 0 for v in differ.values()), differ


def test_pytorch_qnnpack_add_ties():
    """qnnpack's add on power-of-two scales, where many sums fall exactly on
    a tie of its rounding shift: x86:pytorch-qnnpack (ties away from zero)
    equals torch.ops.quantized.add(_relu) on the qnnpack engine on every
    pair of codes; qat-mlir's own fixed point (ties up) is counted."""
    torch.backends.quantized.engine = "qnnpack"
    sa, sb, s = 2.0 ** -4, 2.0 ** -5, 2.0 ** -3
    za, zb, z = 131, 77, 120
    A, B = np.meshgrid(np.arange(256), np.arange(256))
    A, B = A.reshape(1, -1), B.reshape(1, -1)
    qa = torch._make_per_tensor_quantized_tensor(torch.from_numpy(A.astype(np.uint8)), sa, za)
    qb = torch._make_per_tensor_quantized_tensor(torch.from_numpy(B.astype(np.uint8)), sb, zb)
    counts = {}
    for relu in (False, True):
        op = torch.ops.quantized.add_relu if relu else torch.ops.quantized.add
        want = op(qa, qb, s, z).int_repr().numpy().astype(np.int64)
        clamp = ("%r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : "
                 "(tensor<1x65536xf32>) -> tensor<1x65536xf32>" if relu else "")
        fq = ("qat.fake_quant %%%s, %%s%d, %%z%d {quant_min = 0 : i64, quant_max = 255 : i64} : "
              "tensor<1x65536xf32>, tensor<f32>, tensor<i32>")
        body = "\n".join([
            "  %%s%d = arith.constant dense<%r> : tensor<f32>\n"
            "  %%z%d = arith.constant dense<%d> : tensor<i32>" % (i, sv, i, zv)
            for i, (sv, zv) in enumerate([(sa, za), (sb, zb), (s, z)])])
        text = ('module attributes {qat.target = "TARGET"} {\n'
                "func.func @main(%%x: tensor<1x65536xf32>, %%y: tensor<1x65536xf32>) -> "
                "tensor<1x65536xf32> {\n%s\n  %%xq = %s\n  %%yq = %s\n"
                "  %%a = tosa.add %%xq, %%yq : (tensor<1x65536xf32>, tensor<1x65536xf32>) -> "
                "tensor<1x65536xf32>\n  %s\n  %%rq = %s\n  return %%rq : tensor<1x65536xf32>\n}\n}\n"
                % (body, fq % ("x", 0, 0), fq % ("y", 1, 1), clamp,
                   fq % ("r" if relu else "a", 2, 2)))
        x = ((A - za) * sa).astype(np.float32)
        y = ((B - zb) * sb).astype(np.float32)
        for target in ("x86:pytorch-qnnpack", "x86"):
            int8 = qat_mlir.convert(text.replace("TARGET", target))
            got = qat_mlir.compile(int8)(x, y)
            codes = np.rint(got / np.float32(s)).astype(np.int64) + z
            counts[(target, relu)] = int(np.sum(codes != want))
    record("qnnpack add on power-of-two scales (65,536 code pairs, add / add_relu): %s differ"
           % counts)
    assert counts[("x86:pytorch-qnnpack", False)] == 0
    assert counts[("x86:pytorch-qnnpack", True)] == 0
    assert counts[("x86", False)] > 0


class MeanNet(nn.Module):
    """conv-BN-ReLU with a stride, then x.mean([2, 3]) (ShuffleNetV2's last
    pool) and a linear layer."""

    def __init__(self, stride):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv, self.bn = nn.Conv2d(3, 24, 3, stride=stride, padding=1), nn.BatchNorm2d(24)
        self.relu, self.fc = nn.ReLU(), nn.Linear(24, 10)

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        return self.dequant(self.fc(x.mean([2, 3])))


@pytest.mark.parametrize("size,stride", [(12, 4), (8, 4), (9, 5)])
def test_pytorch_exact_mean(size, stride):
    """PyTorch's quantized mean over H x W of a convolution's (channels-last)
    output on the onednn engine dequantizes, sums in f32 in memory order and
    divides (n = 9, 4, 4 elements here): x86:pytorch-onednn computes the
    same (the importer marks the pool qat.torch_mean), 0 logits differ;
    int8 = simulation; the integer pool (engine=None) is counted."""
    torch.manual_seed(0)
    net = MeanNet(stride).train()
    net.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.fuse_modules_qat(net, [["conv", "bn", "relu"]], inplace=True)
    tq.prepare_qat(net, inplace=True)
    net = train(net, (16, 3, size, size))
    x = torch.randn(256, 3, size, size, generator=torch.Generator().manual_seed(3))
    ref = run_one_thread(torch_int8(net), x)
    text = qat_mlir.import_qat(net, x[:64])
    assert "qat.torch_mean" in text
    int8 = qat_mlir.convert(text)
    assert "arith.divf" in int8
    y8 = qat_mlir.compile(int8)(x.numpy(), split=True)
    ys = qat_mlir.compile(qat_mlir.convert(text, simulate=True))(x.numpy(), split=True)
    assert np.array_equal(y8.view(np.uint32), ys.view(np.uint32))
    default = qat_mlir.compile(qat_mlir.convert(qat_mlir.import_qat(net, x[:64], engine=None)))(
        x.numpy(), split=True)
    differ = int(np.sum(y8 != ref))
    record("import_qat mean over %dx%d (onednn): int8 vs PyTorch int8: %d of %d logits differ "
           "(engine=None: %d)" % ((size - 1) // stride + 1, (size - 1) // stride + 1, differ,
                                  ref.size, int(np.sum(default != ref))))
    assert differ == 0


class HardNet(nn.Module):
    """MobileNetV3's pieces: hardswish, a squeeze-excite block (adaptive
    average pool, 1x1 convolutions, hardsigmoid, FloatFunctional.mul), a
    depthwise convolution and a global average pool."""

    def __init__(self):
        super().__init__()
        self.quant, self.dequant = tq.QuantStub(), tq.DeQuantStub()
        self.conv1, self.bn1, self.hs1 = nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), \
            nn.Hardswish()
        self.pool, self.fc1, self.relu = nn.AdaptiveAvgPool2d(1), nn.Conv2d(16, 8, 1), nn.ReLU()
        self.fc2, self.hsig = nn.Conv2d(8, 16, 1), nn.Hardsigmoid()
        self.mul = torch.ao.nn.quantized.FloatFunctional()
        self.conv2, self.bn2 = nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16)
        self.hs2, self.gap, self.fc = nn.Hardswish(), nn.AdaptiveAvgPool2d(1), nn.Linear(16, 10)

    def forward(self, x):
        x = self.hs1(self.bn1(self.conv1(self.quant(x))))
        s = self.hsig(self.fc2(self.relu(self.fc1(self.pool(x)))))
        x = self.hs2(self.bn2(self.conv2(self.mul.mul(s, x))))
        return self.dequant(self.fc(torch.flatten(self.gap(x), 1)))


@pytest.mark.parametrize("backend", ["onednn", "qnnpack"])
def test_pytorch_exact_hardswish_se(backend):
    """PyTorch's quantized hardswish and hardsigmoid (onednn: its vectorized
    kernels, qnnpack: its operators' lookup tables, as 256-entry tables),
    the squeeze-excite multiply and the average pools: 0 logits differ on
    x86:pytorch-onednn / x86:per-tensor:pytorch-qnnpack."""
    torch.manual_seed(0)
    net = HardNet().train()
    net.qconfig = tq.get_default_qat_qconfig(backend)
    tq.fuse_modules_qat(net, [["conv1", "bn1"], ["fc1", "relu"], ["conv2", "bn2"]],
                        inplace=True)
    tq.prepare_qat(net, inplace=True)
    net = train(net, (16, 3, 16, 16))
    x = inputs()
    ref = run_one_thread(torch_int8(net, backend), x)
    text = qat_mlir.import_qat(net, x[:64])
    int8 = qat_mlir.convert(text)
    assert int8.count("tosa.table") == 3
    y8 = qat_mlir.compile(int8)(x.numpy(), split=True)
    ys = qat_mlir.compile(qat_mlir.convert(text, simulate=True))(x.numpy(), split=True)
    assert np.array_equal(y8.view(np.uint32), ys.view(np.uint32))
    differ = int(np.sum(y8 != ref))
    default = qat_mlir.compile(qat_mlir.convert(qat_mlir.import_qat(net, x[:64], engine=None)))(
        x.numpy(), split=True)
    record("import_qat hardswish/SE net (%s): int8 vs PyTorch int8: %d of %d logits differ "
           "(engine=None: %d)" % (backend, differ, ref.size, int(np.sum(default != ref))))
    assert differ == 0


@pytest.mark.parametrize("backend", ["onednn", "qnnpack"])
@pytest.mark.parametrize("fn", ["hardswish", "hardsigmoid"])
def test_pytorch_exact_tables(fn, backend):
    """Every input code of a quantized hardswish / hardsigmoid, for input
    ranges of several widths and offsets: the table of x86:pytorch-onednn
    (x86:per-tensor:pytorch-qnnpack) equals PyTorch's kernel on the onednn
    (qnnpack) engine on all 256 codes (qat-mlir's own table, f64
    evaluation, is also counted)."""
    counts = []
    for lo, hi in [(-4.0, 4.0), (-1.0, 7.0), (-9.0, 2.5), (-0.3, 0.9)]:
        torch.manual_seed(0)
        module = nn.Hardswish() if fn == "hardswish" else nn.Hardsigmoid()
        net = nn.Sequential(tq.QuantStub(), module, tq.DeQuantStub())
        net.qconfig = tq.get_default_qat_qconfig(backend)
        tq.prepare_qat(net.train(), inplace=True)
        with torch.no_grad():
            for _ in range(3):
                net(torch.rand(64, 1, 4, 4) * (hi - lo) + lo)
        net.eval()
        q = torch_int8(net, backend)
        s, z = float(q[0].scale), int(q[0].zero_point)
        x = ((torch.arange(256, dtype=torch.float32) - z) * s).reshape(1, 1, 16, 16)
        ref = run_one_thread(q, x)
        got = {}
        for engine in ("auto", None):
            text = qat_mlir.import_qat(net, x, engine=engine)
            got[engine] = qat_mlir.compile(qat_mlir.convert(text))(x.numpy())
        assert np.array_equal(got["auto"], ref), (lo, hi)
        counts.append(int(np.sum(got[None] != ref)))
    record("import_qat %s tables (4 input ranges x 256 codes): %s 0 differ from PyTorch "
           "(%s); qat-mlir's f64 tables %s" % (fn, TARGETS[backend], backend, counts))


def test_engine_argument():
    model = eager_qat("qnnpack")
    x = inputs(4)
    assert 'qat.target = "x86:per-tensor:pytorch-qnnpack"' in qat_mlir.import_qat(model, x)
    assert 'qat.target = "x86:per-tensor"' in qat_mlir.import_qat(model, x, engine=None)
    assert 'qat.target = "x86:per-tensor:pytorch-onednn"' in qat_mlir.import_qat(
        model, x, engine="onednn")
    assert 'qat.target = "x86:pytorch-qnnpack"' in qat_mlir.import_qat(
        eager_qat("onednn"), x, engine="qnnpack")
    assert 'qat.target = "x86"' in qat_mlir.import_qat(eager_qat("onednn"), x, engine=None)
    with pytest.raises(ExportError, match="engine='fbgemm': expected 'auto', 'onednn', "
                                          "'qnnpack' or None"):
        qat_mlir.import_qat(model, x, engine="fbgemm")


def test_fx_keeps_shared_parameters():
    """FX inserts quantizers after F.relu, max pool, F.relu6, the average
    pool and flatten, which convert_fx drops (those ops keep their input's
    parameters); after torch.relu it keeps one (FX dequantizes, applies
    torch.relu in float and quantizes again). A quantizer before a shared
    clamp is written after it (the same function), so the clamp fuses."""
    text = qat_mlir.import_qat(fx_qat("onednn"), inputs(4))
    ops = re.findall(r"= (qat\.fake_quant|tosa\.\w+) (.*)", text)
    seq = [op.split(".")[1] for op, rest in ops
           if op != "tosa.const" and op != "tosa.reshape" and op != "tosa.transpose"
           and op != "tosa.const_shape" and "axis = " not in rest]
    fq = "fake_quant"
    assert seq == [fq, "conv2d", "clamp", fq, "max_pool2d", "conv2d", fq, "add", "clamp", fq,
                   "depthwise_conv2d", "clamp", fq, "avg_pool2d", fq, "matmul", "add", fq,
                   "clamp", fq, "matmul", "add", fq], seq
    assert text.count("qat.fake_quant") == 9 + 5  # activations + weights
    # The average pool's output is requantized onto its input's grid.
    consts = dict(re.findall(r"(%\d+) = arith\.constant dense<([^>]+)> : tensor<f32>", text))
    scales = [consts[s] for s in re.findall(r"= qat\.fake_quant %\d+, (%\d+), %\d+ \{quant",
                                             text)]
    assert scales[4] == scales[5]  # relu6 output, avg pool output


def test_verify_and_fashion_mnist_shape():
    """A model whose placement is x86's (conv-BN-ReLU kernels, max pool,
    linear) passes qat-verify-target as imported."""
    torch.manual_seed(0)
    net = nn.Sequential(tq.QuantStub(), nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4),
                        nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 10),
                        tq.DeQuantStub())
    net.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.fuse_modules_qat(net, [["1", "2", "3"]], inplace=True)
    tq.prepare_qat(net.train(), inplace=True)
    net = train(net, (16, 1, 8, 8))
    text = qat_mlir.import_qat(net, torch.randn(8, 1, 8, 8))
    assert qat_mlir.verify(text) == text


def test_reduce_range_saturation():
    """fbgemm's reduce_range: QAT clamps activations to [0, 127] and so does
    the import (x86:reduce-range); PyTorch's converted model saturates at
    255 instead. Inputs beyond the observed range show the difference."""
    model = eager_qat("fbgemm")
    x = inputs(64) * 4
    q = torch_int8(model)
    with torch.no_grad():
        ref = q(x).numpy()
        codes = q.quant(x).int_repr()
    text = qat_mlir.import_qat(model, x)
    assert "quant_max = 127" in text and "quant_max = 255" not in text
    y8 = qat_mlir.compile(qat_mlir.convert(text))(x.numpy())
    within, differ, worst = lsb_stats(y8, ref, output_lsb(q, x[:4]))
    record("import_qat fbgemm, inputs x4: PyTorch's input codes reach %d (> 127); int8 vs PyTorch "
           "int8: %d of %d logits differ, max %.0f LSB" % (int(codes.max()), differ, y8.size,
                                                          worst))
    assert int(codes.max()) > 127


def i8_constants(text):
    """The i8 constant arrays (tosa.const, arith.constant) of a module, in
    order."""
    out = []
    for m in re.finditer(r'(?:"tosa\.const"\(\) <\{values = |arith\.constant )dense<(.*?)> : '
                         r'tensor<([\dx]+)xi8>', text):
        body, shape = m.group(1), tuple(int(d) for d in m.group(2).split("x"))
        if body.startswith('"0x'):
            a = np.frombuffer(bytes.fromhex(body[3:-1]), np.int8)
        else:
            a = np.array([int(v) for v in re.findall(r"-?\d+", body)], np.int8)
            if a.size == 1:
                a = np.full(int(np.prod(shape)), a[0], np.int8)
        out.append(a.reshape(shape))
    return out


# ---------------------------------------------------------------------------
# Errors


def test_not_trained():
    net = EagerNet()
    net.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.fuse_modules_qat(net, EAGER_FUSIONS, inplace=True)
    tq.prepare_qat(net.train(), inplace=True)
    with pytest.raises(ExportError, match=r"quantizer 'quant.activation_post_process' has not "
                                          r"observed any data"):
        qat_mlir.import_qat(net.eval(), inputs(2))


def test_unsupported_module():
    net = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 4, 1), nn.Sigmoid(), tq.DeQuantStub())
    net.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.prepare_qat(net.train(), inplace=True)
    net(inputs(4))
    with pytest.raises(ExportError) as e:
        qat_mlir.import_qat(net.eval(), inputs(2))
    msg = str(e.value)
    assert "module '2' (nn.Sigmoid)" in msg and "\n" not in msg


def test_post_training_observers():
    net = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 4, 1), tq.DeQuantStub())
    net.qconfig = tq.get_default_qconfig("onednn")
    tq.prepare(net.eval(), inplace=True)
    net(inputs(4))
    with pytest.raises(ExportError, match=r"is an observer \(.*\): import_qat takes models "
                                          r"prepared with prepare_qat"):
        qat_mlir.import_qat(net, inputs(2))


def test_no_builtin_target():
    """4-bit activations fit no built-in target: a clear error, and with
    target= the module is written for the named target."""
    act = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=0,
                                    quant_max=15, dtype=torch.quint8)
    net = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 4, 1), tq.DeQuantStub())
    net.qconfig = tq.QConfig(activation=act, weight=tq.default_per_channel_weight_fake_quant)
    tq.prepare_qat(net.train(), inplace=True)
    net(inputs(4))
    with pytest.raises(ExportError, match=r"activation quantizer '0.activation_post_process' has "
                                          r"range \[0, 15\]: no built-in target takes it"):
        qat_mlir.import_qat(net.eval(), inputs(2))
    text = qat_mlir.import_qat(net, inputs(2), target="my_npu.json")
    assert 'qat.target = "my_npu.json"' in text and "quant_max = 15" in text


def test_affine_weights():
    wq = tq.FakeQuantize.with_args(observer=tq.MovingAverageMinMaxObserver, quant_min=-128,
                                   quant_max=127, dtype=torch.qint8,
                                   qscheme=torch.per_tensor_affine)
    net = nn.Sequential(tq.QuantStub(), nn.Conv2d(3, 4, 1), tq.DeQuantStub())
    net.qconfig = tq.QConfig(activation=tq.default_fake_quant, weight=wq)
    tq.prepare_qat(net.train(), inplace=True)
    with torch.no_grad():
        net[1].weight.add_(0.5)  # all positive: a non-zero affine zero point
    net(inputs(4))
    with pytest.raises(ExportError, match=r"weight quantizer '1.weight_fake_quant' has non-zero "
                                          r"zero points"):
        qat_mlir.import_qat(net.eval(), inputs(2))


# ---------------------------------------------------------------------------
# PyTorch's int8 arithmetic (onednn engine), as docs/Python.md states it


def test_pytorch_onednn_arithmetic():
    """The differences between PyTorch's converted model and qat-mlir's int8
    model, pinned down on single layers:
    - onednn's conv and linear add the float bias after scaling,
      q = round((acc * (s_in * s_w) + b) / s_out) + z_out, where qat-mlir
      (docs/Conversion.md) rounds the bias to int32 first,
      q = round((acc + round(b / (s_in * s_w))) * m) + z_out;
    - PyTorch's quantized average pools round (acc / n + z) with the zero
      point inside the rounding for contiguous NCHW input, and
      round(acc / n) + z (qat-mlir's) for channels-last input."""
    import torch.ao.nn.quantized as nnq
    f32 = np.float32
    torch.backends.quantized.engine = "onednn"
    g = torch.Generator().manual_seed(0)
    s_in, z_in, s_out, z_out = 0.013, 37, 0.021, 101
    figures = []
    for groups in (1, 8):
        q = torch.quantize_per_tensor(torch.rand(64, 8, 6, 6, generator=g) * 3, s_in, z_in,
                                      torch.quint8)
        w = torch.randn(8, 8 // groups, 3, 3, generator=g) * 0.3
        sw = (w.abs().amax((1, 2, 3)) / 127).float()
        qw = torch.quantize_per_channel(w, sw.double(), torch.zeros(8, dtype=torch.long), 0,
                                        torch.qint8)
        b = torch.randn(8, generator=g) * 0.5
        conv = nnq.Conv2d(8, 8, 3, padding=1, groups=groups)
        conv.set_weight_bias(qw, b)
        conv.scale, conv.zero_point = s_out, z_out
        got = conv(q).int_repr().numpy().astype(np.int64)
        acc = F_conv(q.int_repr().numpy().astype(np.int64) - z_in,
                     qw.int_repr().numpy().astype(np.int64), groups)
        swn, bn = sw.numpy(), b.numpy()
        shape = (1, -1, 1, 1)
        pytorch = np.clip(np.rint((acc.astype(f32) * (f32(s_in) * swn).reshape(shape)
                                   + bn.reshape(shape)) / f32(s_out)) + z_out, 0, 255)
        bq = np.rint(bn / (f32(s_in) * swn)).astype(np.int64)
        m = (f32(s_in) * swn) / f32(s_out)
        ours = np.clip(np.rint((acc + bq.reshape(shape)).astype(f32) * m.reshape(shape))
                       + z_out, 0, 255)
        assert np.array_equal(got, pytorch)
        figures.append("%s: %d of %d differ by 1" % ("conv" if groups == 1 else "depthwise",
                                                     int(np.sum(ours != got)), got.size))
        assert np.abs(ours - got).max() <= 1
    x = torch.rand(64, 8, 4, 4, generator=g) * 3
    for layout in ("nchw", "channels_last"):
        q = torch.quantize_per_tensor(x, s_in, z_in, torch.quint8)
        if layout == "channels_last":
            q = q.contiguous(memory_format=torch.channels_last)
        got = torch.nn.functional.avg_pool2d(q, 4).int_repr().numpy().astype(np.int64)
        acc = (q.int_repr().numpy().astype(np.int64) - z_in).sum((2, 3), keepdims=True)
        ours = np.rint(acc.astype(f32) * f32(1 / 16)) + z_in
        inside = np.rint(acc.astype(f32) * f32(1 / 16) + f32(z_in))
        assert np.array_equal(got, inside if layout == "nchw" else ours)
        figures.append("avg pool 4x4 %s: %d of %d differ by 1" % (layout,
                                                                  int(np.sum(ours != got)),
                                                                  got.size))
    record("PyTorch int8 (onednn) vs qat-mlir's formulas, one layer each: " + "; ".join(figures))


def F_conv(codes, weights, groups):
    """Exact integer convolution (3x3, padding 1) in float64."""
    return torch.nn.functional.conv2d(torch.from_numpy(codes).double(),
                                      torch.from_numpy(weights).double(), padding=1,
                                      groups=groups).numpy().astype(np.int64)


# ---------------------------------------------------------------------------
# torchvision's quantizable models


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_torchvision_quantizable(name):
    """torchvision.models.quantization's ResNet-18 and MobileNetV2
    (FloatFunctional residual adds, fused ConvBnReLU, adaptive average pool,
    dropout), prepared with prepare_qat (onednn) and run three times in
    training mode on random images: the imported fake-quant module computes
    PyTorch's converted int8 model. (Their int8 conversion takes 10-30 s to
    compile here; docs/Python.md gives its figures.)"""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    m = getattr(torchvision.models.quantization, name)(weights=None, quantize=False)
    m.train()
    m.fuse_model(is_qat=True)
    m.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.prepare_qat(m, inplace=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(8, 3, 32, 32, generator=g))
    m.eval()
    x = torch.randn(4, 3, 32, 32, generator=g)
    q = torch_int8(m)
    with torch.no_grad():
        ref = q(x).numpy()
    lsb = output_lsb(q, x[:4])
    text = qat_mlir.import_qat(m, x)
    fq = lsb_stats(qat_mlir.compile(text)(x.numpy()), ref, lsb)
    line = ("import_qat torchvision %s (QAT, onednn, 4x3x32x32): fake-quant vs PyTorch int8: %d "
            "of %d logits differ (max %.0f LSB)" % (name, fq[1], ref.size, fq[2]))
    record(line)
    assert fq[0] >= 0.999 and fq[2] <= 1.001


@pytest.mark.parametrize("name,size", [("resnet18", 32), ("mobilenet_v2", 32),
                                       ("mobilenet_v3_large", 32), ("shufflenet_v2_x0_5", 64)])
def test_torchvision_quantizable_verifies(name, size):
    """torchvision's quantizable ResNet-18, MobileNetV2, MobileNetV3 (hardswish,
    squeeze-excite hardsigmoid and mul) and ShuffleNetV2 (channel shuffle,
    chunk, cat), batch-norm statistics estimated on random images (with
    random init MobileNetV3's activations die out in eval mode: every logit
    0), eager QAT (onednn), three training-mode batches: import_qat takes
    them and the placement passes qat-verify-target (PyTorch's conv ->
    quantize -> add is two kernels on x86). How close the imported model
    and its int8 conversion are to PyTorch's int8 model is measured by
    quantizable_sweep.py (not bit for bit)."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    m = getattr(torchvision.models.quantization, name)(weights=None, quantize=False)
    estimate_batch_norm(m, (8, 3, size, size), batches=2)
    m.train()
    m.fuse_model(is_qat=True)
    m.qconfig = tq.get_default_qat_qconfig("onednn")
    tq.prepare_qat(m, inplace=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for _ in range(3):
            m(torch.randn(8, 3, size, size, generator=g))
    m.eval()
    x = torch.randn(4, 3, size, size, generator=g)
    with torch.no_grad():
        ref = torch_int8(m)(x).numpy()
    assert (ref[1:] != ref[:1]).mean() > 0.5  # PyTorch's int8 logits depend on the input
    text = qat_mlir.import_qat(m, x)
    assert qat_mlir.verify(text) == text
    record("import_qat torchvision %s (QAT, onednn, 4x3x%dx%d): verifies (x86)" % (name, size, size))
