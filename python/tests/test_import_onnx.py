"""qat_mlir.import_onnx: ONNX models with QuantizeLinear/DequantizeLinear
around Conv, Gemm and MatMul (per tensor and per channel) as fake-quant
modules, converted and compiled by qat-mlir.

- torch.onnx.export of PyTorch's converted int8 model (int8 weight
  initializers, int32 biases) against that int8 model;
- torch.onnx.export of a QAT model with FakeQuantize modules (float
  weights under QDQ, PyTorch's ConvBn division and BatchNormalization
  folded, fbgemm's reduce_range as a Clip of codes) against the QAT
  model's own forward;
- a QDQ graph written with onnx.helper as other tools write it (MatMul with
  a per-tensor weight, Gemm with a per-channel weight and an int32 bias)
  against ONNX's semantics in NumPy;
- a float model; and the errors, naming the node and its op type."""
import copy
import io

import numpy as np
import onnx
import pytest
import torch
import torch.ao.quantization as tq
import torch.nn as nn
from onnx import TensorProto, helper, numpy_helper

import qat_mlir
from helpers import record, rel_error
from qat_models import eager_qat, lsb_stats, output_lsb, torch_int8
from qat_mlir import ExportError


def inputs(n=256, seed=5):
    return torch.randn(n, 3, 16, 16, generator=torch.Generator().manual_seed(seed))


def onnx_bytes(module, x):
    f = io.BytesIO()
    torch.onnx.export(module, x, f, opset_version=13)
    return f.getvalue()


@pytest.mark.parametrize("backend", ["onednn", "qnnpack", "fbgemm"])
def test_converted_model(backend):
    """PyTorch's int8 model through torch.onnx.export: the import gives the
    same int8 model up to the differences docs/Python.md lists (onednn's
    float bias, torch.onnx's truncated int32 bias, ONNX's x / s rounding)."""
    model = eager_qat(backend, fuse_linear_relu=False)
    q = torch_int8(model)
    x = inputs()
    with torch.no_grad():
        ref = q(x).numpy()
    data = onnx_bytes(q, x[:64])
    # torch.onnx writes each bias as int32 trunc(b / (s_in * s_w)) (a Cast),
    # where PyTorch's kernels add the float bias: one of the differences.
    consts = {n.output[0]: numpy_helper.to_array(n.attribute[0].t)
              for n in onnx.load_from_string(data).graph.node if n.op_type == "Constant"}
    truncated = total = 0
    for n in onnx.load_from_string(data).graph.node:
        codes = consts.get(n.input[0]) if n.op_type == "DequantizeLinear" else None
        if codes is not None and codes.dtype == np.int32:
            b = getattr(q, n.name.split("/")[1]).bias().detach().numpy()
            ratio = b / consts[n.input[1]]
            assert np.array_equal(codes, np.trunc(ratio).astype(np.int32)), n.name
            truncated += int(np.sum(codes != np.rint(ratio)))
            total += codes.size
    text = qat_mlir.import_onnx(data)
    # The converted model saturates at 255 even for fbgemm (reduce_range).
    assert text.startswith('module attributes {qat.target = "%s"}'
                           % ("x86:per-tensor" if backend == "qnnpack" else "x86"))
    assert "rounding = #qat.rounding<half_even_div>" in text
    int8 = qat_mlir.convert(text)
    assert "qat.fake_quant" not in int8
    y8 = qat_mlir.compile(int8)(x.numpy(), split=True)
    within, differ, worst = lsb_stats(y8, ref, output_lsb(q, x[:4]))
    record("import_onnx torch.onnx(convert(%s QAT)): int8 vs PyTorch int8: %d of %d logits "
           "differ, %.2f %% within 1 LSB, max %.0f LSB (torch.onnx's truncated int32 biases: %d "
           "of %d differ from rounding)" % (backend, differ, y8.size, 100 * within, worst,
                                            truncated, total))
    assert within >= 0.99 and worst <= 2.001


@pytest.mark.parametrize("backend", ["onednn", "qnnpack", "fbgemm"])
def test_qat_model(backend):
    """A QAT model with FakeQuantize modules (qconfig version 0, observers
    off) through torch.onnx.export: the imported fake-quant module computes
    the QAT model's forward; its int8 conversion stays within 1 LSB."""
    model = eager_qat(backend, version=0, fuse_linear_relu=False)
    model.apply(tq.disable_observer)
    x = inputs()
    with torch.no_grad():
        ref = model(x).numpy()
    proto = onnx.load_from_string(onnx_bytes(model, x[:64]))
    ops = {n.op_type for n in proto.graph.node}
    assert {"Div", "BatchNormalization"} <= ops  # ConvBn's export form, folded on import
    text = qat_mlir.import_onnx(proto)
    want = {"onednn": "x86", "qnnpack": "x86:per-tensor", "fbgemm": "x86:reduce-range"}[backend]
    assert text.startswith('module attributes {qat.target = "%s"}' % want)
    assert "tosa.sub" not in text and "tosa.rsqrt" not in text  # batch norm folded
    lsb = float(model.fc2.activation_post_process.scale)
    y_fq = qat_mlir.compile(text)(x.numpy(), split=True)
    y8 = qat_mlir.compile(qat_mlir.convert(text))(x.numpy(), split=True)
    fq = lsb_stats(y_fq, ref, lsb)
    i8 = lsb_stats(y8, ref, lsb)
    q = torch_int8(model)
    with torch.no_grad():
        convert = lsb_stats(q(x).numpy(), ref, lsb)
    record("import_onnx torch.onnx(%s QAT, FakeQuantize): fake-quant vs the QAT forward: %d of %d "
           "differ (max %.0f LSB); int8: %d differ, max %.0f LSB (PyTorch's own convert vs its "
           "QAT forward: %d differ, max %.0f LSB)"
           % (backend, fq[1], y8.size, fq[2], i8[1], i8[2], convert[1], convert[2]))
    assert fq[1] <= 0.005 * y8.size and fq[2] <= 1.001
    assert i8[0] >= 0.99 and i8[2] <= 1.001


# ---------------------------------------------------------------------------
# A graph as other tools write it, against ONNX's semantics in NumPy


def q_ref(x, s, z, lo, hi, axis=None):
    """QuantizeLinear: saturate(roundeven(x / s) + z), in f32."""
    if axis is not None:
        shape = [1] * x.ndim
        shape[axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return np.clip(np.rint(x.astype(np.float32) / np.float32(s)) + z, lo, hi)


def dq_ref(q, s, z, axis=None):
    if axis is not None:
        shape = [1] * q.ndim
        shape[axis] = -1
        s, z = s.reshape(shape), z.reshape(shape)
    return ((q - z) * np.float32(s)).astype(np.float32)


def tool_graph(rng):
    """x (8x16) -> QDQ u8 -> MatMul(int8 per-tensor W1 16x12) -> Add(b1) -> QDQ u8
    -> Gemm(transB, int8 per-channel W2 5x12, int32 bias) -> Relu -> QDQ u8."""
    f32 = np.float32
    w1 = rng.integers(-128, 128, (16, 12)).astype(np.int8)
    w2 = rng.integers(-128, 128, (5, 12)).astype(np.int8)
    b1 = rng.normal(size=12).astype(f32)
    sx, zx = f32(0.02), np.uint8(128)
    sw1 = f32(0.003)
    sa, za = f32(0.05), np.uint8(100)
    sw2 = (rng.uniform(0.001, 0.004, 5)).astype(f32)
    b2 = rng.integers(-3000, 3000, 5).astype(np.int32)
    so, zo = f32(0.04), np.uint8(3)
    inits = [numpy_helper.from_array(np.array(v), n) for n, v in [
        ("sx", sx), ("zx", zx), ("w1", w1), ("sw1", sw1), ("zw1", np.int8(0)), ("b1", b1),
        ("sa", sa), ("za", za), ("w2", w2), ("sw2", sw2), ("zw2", np.zeros(5, np.int8)),
        ("b2", b2), ("sb2", (sa * sw2).astype(f32)), ("zb2", np.zeros(5, np.int32)),
        ("so", so), ("zo", zo)]]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="qx"),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
        helper.make_node("DequantizeLinear", ["w1", "sw1", "zw1"], ["w1d"], name="dqw1"),
        helper.make_node("MatMul", ["xd", "w1d"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "b1"], ["a"], name="bias1"),
        helper.make_node("QuantizeLinear", ["a", "sa", "za"], ["aq"], name="qa"),
        helper.make_node("DequantizeLinear", ["aq", "sa", "za"], ["ad"], name="dqa"),
        helper.make_node("DequantizeLinear", ["w2", "sw2", "zw2"], ["w2d"], name="dqw2", axis=0),
        helper.make_node("DequantizeLinear", ["b2", "sb2", "zb2"], ["b2d"], name="dqb2", axis=0),
        helper.make_node("Gemm", ["ad", "w2d", "b2d"], ["g"], name="gemm", transB=1),
        helper.make_node("Relu", ["g"], ["r"], name="relu"),
        helper.make_node("QuantizeLinear", ["r", "so", "zo"], ["oq"], name="qo"),
        helper.make_node("DequantizeLinear", ["oq", "so", "zo"], ["y"], name="dqo"),
    ]
    graph = helper.make_graph(
        nodes, "tool_qdq", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 5])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model)

    def reference(x):
        xd = dq_ref(q_ref(x, sx, zx, 0, 255), sx, zx)
        a = (xd.astype(np.float64) @ dq_ref(w1, sw1, 0).astype(np.float64)).astype(f32) + b1
        ad = dq_ref(q_ref(a, sa, za, 0, 255), sa, za)
        w2d = dq_ref(w2.astype(np.int64), sw2, np.zeros(5), axis=0)
        g = (ad.astype(np.float64) @ w2d.T.astype(np.float64)).astype(f32) + \
            (b2 * (sa * sw2)).astype(f32)
        return dq_ref(q_ref(np.maximum(g, 0), so, zo, 0, 255), so, zo)
    return model, reference, so


def test_tool_qdq_graph():
    rng = np.random.default_rng(3)
    model, reference, so = tool_graph(rng)
    text = qat_mlir.import_onnx(model)
    assert text.startswith('module attributes {qat.target = "x86"}')
    batches = [rng.normal(scale=0.8, size=(8, 16)).astype(np.float32) for _ in range(32)]
    x = np.concatenate(batches)
    ref = np.concatenate([reference(b) for b in batches])
    y_fq = qat_mlir.compile(text)(x, split=True)
    int8 = qat_mlir.convert(text)
    assert int8.count("qat.integer_kernel") == 2 and "qat.fake_quant" not in int8
    y8 = qat_mlir.compile(int8)(x, split=True)
    fq = lsb_stats(y_fq, ref, so)
    i8 = lsb_stats(y8, ref, so)
    record("import_onnx QDQ MatMul (per-tensor) + Gemm (per-channel, int32 bias): fake-quant vs "
           "ONNX semantics (NumPy): %d of %d differ; int8: %d differ, max %.0f LSB"
           % (fq[1], ref.size, i8[1], i8[2]))
    # Only f32 sums near a rounding boundary may differ from the f64 reference.
    assert fq[1] <= 2 and fq[2] <= 1.001
    assert i8[0] >= 0.99 and i8[2] <= 1.001


def test_float_model():
    """Without QDQ the import is a float function in the input contract."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, stride=2, groups=8), nn.ReLU6(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)).eval()
    x = inputs(4)
    text = qat_mlir.import_onnx(onnx_bytes(net, x))
    assert "qat." not in text and text.startswith("// Imported by qat_mlir.import_onnx")
    with torch.no_grad():
        ref = net(x).numpy()
    err = rel_error(qat_mlir.compile(text)(x.numpy()), ref)
    record("import_onnx float model: max |ours - torch| / max |torch| = %.1e" % err)
    assert err <= 1e-5
    assert "qat.fake_quant" in qat_mlir.prepare(text, "x86")


# ---------------------------------------------------------------------------
# Errors


def graph_with(nodes, inits=(), inp=(2, 4), out="y", out_shape=(2, 4)):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(inp))],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(out_shape))],
        [numpy_helper.from_array(np.array(v), n) for n, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def test_unsupported_op():
    model = graph_with([helper.make_node("Relu", ["x"], ["r"], name="relu"),
                        helper.make_node("Softmax", ["r"], ["y"], name="head/softmax")])
    with pytest.raises(ExportError) as e:
        qat_mlir.import_onnx(model)
    assert str(e.value) == ("cannot import ONNX node 'head/softmax' (Softmax): op type Softmax "
                            "is not supported by the importer (docs/Python.md lists what is)")


def test_mismatched_pair():
    f32 = np.float32
    model = graph_with([helper.make_node("QuantizeLinear", ["x", "s1", "z"], ["q"], name="q"),
                        helper.make_node("DequantizeLinear", ["q", "s2", "z"], ["y"], name="dq")],
                       [("s1", f32(0.1)), ("s2", f32(0.2)), ("z", np.uint8(0))])
    with pytest.raises(ExportError, match=r"cannot import ONNX node 'dq' \(DequantizeLinear\): "
                                          r"it dequantizes with other parameters"):
        qat_mlir.import_onnx(model)


def test_dynamic_shape():
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    with pytest.raises(ExportError, match=r"graph input 'x' has a dynamic dimension 'batch'"):
        qat_mlir.import_onnx(model)


def test_int8_activations_need_a_target():
    f32 = np.float32
    model = graph_with([helper.make_node("QuantizeLinear", ["x", "s", "z"], ["q"], name="q"),
                        helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], name="dq")],
                       [("s", f32(0.1)), ("z", np.int8(0))])
    with pytest.raises(ExportError, match=r"QuantizeLinear 'q' has range "
                                          r"\[-128, 127\] \(int8\): no built-in target"):
        qat_mlir.import_onnx(model)
    assert 'qat.target = "bpu"' in qat_mlir.import_onnx(model, target="bpu")


def test_model_untouched_and_copy():
    """import_onnx reads a path, bytes or a ModelProto alike."""
    model = graph_with([helper.make_node("Relu", ["x"], ["y"], name="relu")])
    data = model.SerializeToString()
    before = copy.deepcopy(model)
    assert qat_mlir.import_onnx(model) == qat_mlir.import_onnx(data)
    assert model == before
