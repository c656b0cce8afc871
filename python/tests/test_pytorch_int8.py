"""The NumPy model of PyTorch 1.13's int8 kernels (pytorch_int8.py) against
torch's quantized ops, bit for bit: convolutions (dense and depthwise,
per-channel and per-tensor weights, with and without bias and ReLU) and
linear layers on the onednn and qnnpack engines, add / add_relu, mul, cat,
quantize, average pools and mean, and the unary functions as tables. Each
case also runs with power-of-two scales, which put many values exactly on
rounding ties, where the engines' formulas part (the figures say how many
outputs a neighbouring formula would get wrong)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torch.nn.intrinsic.quantized as nniq
import torch.ao.nn.quantized as nnq

import pytorch_int8 as ref
from helpers import record

ENGINES = ["onednn", "qnnpack"]


@pytest.fixture(autouse=True)
def one_thread():
    threads, engine = torch.get_num_threads(), torch.backends.quantized.engine
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
    torch.backends.quantized.engine = engine


def params(g, ties):
    """(s_in, z_in, s_out, z_out): random, or powers of two (ties)."""
    z_in, z_out = (int(v) for v in torch.randint(0, 256, (2,), generator=g))
    if ties:
        return 2.0 ** -6, z_in, 2.0 ** -3, z_out
    s_in, s_out = (float(v) for v in torch.rand(2, generator=g))
    return s_in * 0.05 + 0.001, z_in, s_out * 0.2 + 0.002, z_out


def weight(g, shape, per_channel, ties):
    w = torch.randn(shape, generator=g) * 0.3
    cout = shape[0]
    if per_channel:
        sw = torch.full((cout,), 2.0 ** -7) if ties else \
            (w.reshape(cout, -1).abs().amax(1) / 127).float() + 1e-4
        return torch.quantize_per_channel(w, sw.double(), torch.zeros(cout, dtype=torch.long), 0,
                                          torch.qint8)
    sw = 2.0 ** -7 if ties else float(w.abs().max() / 127)
    return torch.quantize_per_tensor(w, sw, 0, torch.qint8)


def weight_scales(qw):
    if qw.qscheme() == torch.per_channel_affine:
        return qw.q_per_channel_scales().numpy()
    return qw.q_scale()


def codes(q):
    return q.int_repr().numpy().astype(np.int64)


def other(engine):
    return ref.conv_qnnpack if engine == "onednn" else ref.conv_onednn


@pytest.mark.parametrize("engine", ENGINES)
def test_conv(engine):
    torch.backends.quantized.engine = engine
    model = ref.conv_onednn if engine == "onednn" else ref.conv_qnnpack
    g = torch.Generator().manual_seed(1)
    total = bad = neighbour = 0
    for t in range(24):
        ties = t % 3 == 2
        cin, cout = (int(v) for v in torch.randint(1, 24, (2,), generator=g))
        groups = cin if t % 4 == 3 else 1
        cout = cin if groups > 1 else cout
        s_in, z_in, s_out, z_out = params(g, ties)
        x = torch.quantize_per_tensor(torch.rand(4, cin, 10, 11, generator=g) * 5 - 2, s_in, z_in,
                                      torch.quint8)
        qw = weight(g, (cout, cin // groups, 3, 3), engine == "onednn" and t % 5 != 0, ties)
        b = torch.randn(cout, generator=g) * 2 if t % 4 else None
        if b is not None and ties:
            b = torch.round(b * 64) / 64
        relu = t % 2 == 1
        conv = (nniq.ConvReLU2d if relu else nnq.Conv2d)(cin, cout, 3, padding=1, stride=1 + t % 2,
                                                         groups=groups)
        conv.set_weight_bias(qw, b)
        conv.scale, conv.zero_point = s_out, z_out
        got = codes(conv(x))
        acc = F.conv2d(torch.from_numpy(codes(x) - z_in).double(),
                       torch.from_numpy(codes(qw)).double(), padding=1, stride=1 + t % 2,
                       groups=groups).numpy().astype(np.int64)
        bn = None if b is None else b.numpy()
        bad += int(np.sum(model(acc, s_in, weight_scales(qw), bn, s_out, z_out, relu) != got))
        neighbour += int(np.sum(other(engine)(acc, s_in, weight_scales(qw), bn, s_out, z_out, relu)
                                != got))
        total += got.size
    record("PyTorch int8 model, %s conv2d: %d of %d outputs differ (the other engine's formula: "
           "%d)" % (engine, bad, total, neighbour))
    assert bad == 0 and neighbour > 0


@pytest.mark.parametrize("engine", ENGINES)
def test_linear(engine):
    torch.backends.quantized.engine = engine
    model = ref.conv_onednn if engine == "onednn" else ref.conv_qnnpack
    g = torch.Generator().manual_seed(2)
    total = bad = neighbour = 0
    for t in range(24):
        ties = t % 3 == 2
        cin = int(torch.randint(1, 300, (1,), generator=g))
        cout = int(torch.randint(1, 60, (1,), generator=g))
        s_in, z_in, s_out, z_out = params(g, ties)
        x = torch.quantize_per_tensor(torch.rand(64, cin, generator=g) * 5 - 2, s_in, z_in,
                                      torch.quint8)
        qw = weight(g, (cout, cin), engine == "onednn" and t % 5 != 0, ties)
        b = torch.randn(cout, generator=g) * 2 if t % 4 else None
        if b is not None and ties:
            b = torch.round(b * 64) / 64
        relu = t % 2 == 1
        lin = (nniq.LinearReLU if relu else nnq.Linear)(cin, cout)
        lin.set_weight_bias(qw, b)
        lin.scale, lin.zero_point = s_out, z_out
        got = codes(lin(x))
        acc = (codes(x) - z_in) @ codes(qw).T
        bn = None if b is None else b.numpy()
        bad += int(np.sum(model(acc, s_in, weight_scales(qw), bn, s_out, z_out, relu) != got))
        neighbour += int(np.sum(other(engine)(acc, s_in, weight_scales(qw), bn, s_out, z_out, relu)
                                != got))
        total += got.size
    record("PyTorch int8 model, %s linear: %d of %d outputs differ (the other engine's formula: "
           "%d)" % (engine, bad, total, neighbour))
    assert bad == 0 and neighbour > 0


def pairs(g, n):
    for t in range(n):
        ties = t % 3 == 2
        shape = (int(torch.randint(1, 4, (1,), generator=g)),
                 int(torch.randint(1, 70, (1,), generator=g)), 7, 8)
        if ties:
            sa, sb, s = 2.0 ** -4, 2.0 ** -5, 2.0 ** -3
        else:
            sa, sb, s = (float(v) * 0.05 + 0.001 for v in torch.rand(3, generator=g))
        za, zb, z = (int(v) for v in torch.randint(0, 256, (3,), generator=g))
        a = torch.quantize_per_tensor(torch.randn(shape, generator=g) * 40 * sa, sa, za,
                                      torch.quint8)
        b = torch.quantize_per_tensor(torch.randn(shape, generator=g) * 40 * sb, sb, zb,
                                      torch.quint8)
        yield t, a, b, s, z


@pytest.mark.parametrize("engine", ENGINES)
def test_add_mul_cat(engine):
    torch.backends.quantized.engine = engine
    add = ref.add_generic if engine == "onednn" else ref.add_qnnpack
    neighbour_add = ref.add_qnnpack if engine == "onednn" else ref.add_generic
    g = torch.Generator().manual_seed(3)
    bad = {"add": 0, "mul": 0, "cat": 0}
    total = neighbour = 0
    for t, a, b, s, z in pairs(g, 30):
        relu = t % 2 == 1
        A, B = codes(a), codes(b)
        args = (A, a.q_scale(), a.q_zero_point(), B, b.q_scale(), b.q_zero_point(), s, z, relu)
        got = codes((torch.ops.quantized.add_relu if relu else torch.ops.quantized.add)(a, b, s, z))
        # onednn: one vectorized loop over the flat tensor (one thread), its
        # last numel % 64 elements scalar.
        want = ref.add_generic(*args, tail=A.size % 64) if engine == "onednn" else add(*args)
        bad["add"] += int(np.sum(want != got))
        neighbour += int(np.sum(neighbour_add(*args) != got))
        got = codes((torch.ops.quantized.mul_relu if relu else torch.ops.quantized.mul)(a, b, s, z))
        bad["mul"] += int(np.sum(ref.mul_generic(*args) != got))
        got = codes(torch.ops.quantized.cat([a, b], dim=1, scale=s, zero_point=z))
        want = np.concatenate([ref.requantize(A, a.q_scale(), a.q_zero_point(), s, z),
                               ref.requantize(B, b.q_scale(), b.q_zero_point(), s, z)], 1)
        bad["cat"] += int(np.sum(want != got))
        total += A.size
    record("PyTorch int8 model, %s add/mul/cat: %s of %d outputs each differ (add by the other "
           "engine's formula: %d)" % (engine, bad, total, neighbour))
    assert bad == {"add": 0, "mul": 0, "cat": 0} and neighbour > 0


def test_quantize_tables():
    g = torch.Generator().manual_seed(5)
    bad = {}
    for engine in ENGINES:
        torch.backends.quantized.engine = engine
        for t, a, b, s, z in pairs(g, 8):
            x = torch.randn(a.shape, generator=g) * 3
            sa, za = a.q_scale(), a.q_zero_point()
            got = codes(torch.quantize_per_tensor(x, sa, za, torch.quint8))
            bad["quantize"] = bad.get("quantize", 0) + int(np.sum(ref.quantize(x.numpy(), sa, za)
                                                                  != got))
            A = codes(a)
            if engine == "qnnpack":
                for name, sig, fn in (
                        ("qnnpack hardswish", False,
                         lambda q: torch.ops.quantized.hardswish(q, s, z)),
                        ("qnnpack hardsigmoid", True, F.hardsigmoid)):
                    out = fn(a)
                    table = ref.qnnpack_hard_table(sig, sa, za, out.q_scale(),
                                                   out.q_zero_point())
                    bad[name] = bad.get(name, 0) + int(np.sum(table[A] != codes(out)))
            for name, fn in (("hardswish", lambda q: torch.ops.quantized.hardswish(q, s, z)),
                             ("hardsigmoid", F.hardsigmoid), ("sigmoid", torch.sigmoid),
                             ("tanh", torch.tanh),
                             ("elu", lambda q: torch.ops.quantized.elu(q, s, z))):
                table, ts, tz = ref.torch_table(fn, sa, za)
                out = fn(a)
                assert (ts, tz) == (out.q_scale(), out.q_zero_point())
                bad[name] = bad.get(name, 0) + int(np.sum(table[A] != codes(out)))
    record("PyTorch int8 model, quantize and tables (onednn and qnnpack): %s" % bad)
    assert not any(bad.values()), bad


def test_pools():
    """Global average pools and mean over H x W, on the shapes where the
    model is exact: onednn everywhere for adaptive_avg_pool2d, onednn's
    channels-last mean for H * W < 16 (ATen's float sum is sequential
    there), qnnpack everywhere (avg_pool_qnnpack; the onednn channels-last
    formula differs from it at ties, counted below)."""
    g = torch.Generator().manual_seed(6)
    bad, qnnpack_other, total = {}, 0, 0
    for t in range(48):
        hw = [(7, 8), (3, 5), (2, 2), (3, 3), (7, 7), (1, 1)][t % 6]
        shape = (int(torch.randint(1, 4, (1,), generator=g)),
                 int(torch.randint(1, 70, (1,), generator=g))) + hw
        sa = 2.0 ** -4 if t % 2 else float(torch.rand(1, generator=g)) * 0.05 + 0.001
        za = int(torch.randint(0, 256, (1,), generator=g))
        x = torch.quantize_per_tensor(torch.randn(shape, generator=g) * 40 * sa, sa, za,
                                      torch.quint8)
        A = codes(x)
        n = hw[0] * hw[1]
        acc = (A - za).sum((2, 3))
        for engine in ENGINES:
            torch.backends.quantized.engine = engine
            for layout, q in (("NCHW", x), ("NHWC", x.contiguous(memory_format=torch.channels_last))):
                gap = codes(F.adaptive_avg_pool2d(q, 1)).reshape(acc.shape)
                mean = codes(torch.mean(q, (2, 3))).reshape(acc.shape)
                nhwc = ref.avg_pool_nhwc(acc, n, sa, sa, za)
                if engine == "qnnpack":
                    qp = ref.avg_pool_qnnpack(acc, n, sa, sa, za)
                    checks = [("gap", gap, qp), ("mean", mean, qp)]
                    qnnpack_other += int(np.sum(gap != nhwc)) + int(np.sum(mean != nhwc))
                elif layout == "NCHW":
                    checks = [("gap", gap, ref.avg_pool_nchw(A.sum((2, 3)), *hw)),
                              ("mean", mean, ref.mean_nchw(A.sum((2, 3)), n))]
                else:
                    checks = [("gap", gap, nhwc)]
                    if n < 16:
                        checks.append(("mean", mean, ref.mean_channels_last(A, sa, za)))
                for name, got, want in checks:
                    key = "%s %s %s" % (engine, name, layout)
                    bad[key] = bad.get(key, 0) + int(np.sum(got != want))
                    total += got.size
    record("PyTorch int8 model, global average pools and mean: %s of %d outputs differ; qnnpack "
           "by the onednn channels-last formula: %d differ (ties)" % (bad, total, qnnpack_other))
    assert not any(bad.values()), bad
