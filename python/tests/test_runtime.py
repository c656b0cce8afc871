"""qat_mlir.compile and the tool wrappers on small hand-written MLIR: results,
several results, split batches, input checks, tool errors as CompileError
with the tool's diagnostics, and how tools are located."""
import os

import numpy as np
import pytest

import qat_mlir
from qat_mlir import CompileError

TWO = """
func.func @two(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>)
    -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %s = tosa.add %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %d = tosa.sub %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %s, %d : tensor<2x3xf32>, tensor<2x3xf32>
}
func.func @relu(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
"""


def test_two_results():
    f = qat_mlir.compile(TWO, entry="two")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    s, d = f(a, b)
    assert np.array_equal(s, a + b) and np.array_equal(d, a - b)
    assert f.arg_types == [((2, 3), np.float32)] * 2


def test_split_batches_and_float64_input():
    f = qat_mlir.compile(TWO, entry="relu")
    x = np.linspace(-3, 3, 4 * 2 * 3).reshape(8, 3)  # float64: cast to f32
    y = f(x, split=True)
    assert y.shape == (8, 3) and np.array_equal(y, np.maximum(x, 0).astype(np.float32))


def test_input_checks():
    f = qat_mlir.compile(TWO, entry="relu")
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="takes 1 argument"):
        f(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="int64"):
        f(np.zeros((2, 3), np.int64))


def test_parse_error_is_compile_error():
    bad = TWO.replace("tosa.sub %a, %b", "tosa.sub %a, %nope")
    with pytest.raises(CompileError) as info:
        qat_mlir.compile(bad, entry="two")
    e = info.value
    assert e.tool == "qat-opt" and e.returncode != 0
    assert "use of undeclared SSA value name" in str(e) and "%nope" in e.diagnostics


def test_run_error_is_compile_error():
    # Verifies, but qat-run cannot lower it: the diagnostic comes from qat-run.
    text = TWO.replace("tensor<2x3xf32>", "tensor<?x3xf32>")
    f = qat_mlir.compile(text, entry="relu")
    with pytest.raises(CompileError) as info:
        f(np.zeros((2, 3), np.float32))
    assert info.value.tool == "qat-run" and "qat-run: error" in info.value.diagnostics


def test_missing_entry():
    with pytest.raises(CompileError, match="no func.func @nothere"):
        qat_mlir.compile(TWO, entry="nothere")


def test_target_argument():
    with pytest.raises(ValueError, match="host"):
        qat_mlir.compile(TWO, entry="relu", target="x86")
    assert qat_mlir.compile(TWO, entry="relu", target="host") is not None


def test_tool_location(monkeypatch, tmp_path):
    found = qat_mlir.tool_path("qat-run")
    assert os.access(found, os.X_OK)
    monkeypatch.setenv("QAT_BIN", os.path.dirname(found))
    assert qat_mlir.tool_path("qat-run") == os.path.join(os.path.dirname(found), "qat-run")
    monkeypatch.setenv("QAT_BIN", str(tmp_path))
    with pytest.raises(CompileError, match="QAT_BIN"):
        qat_mlir.tool_path("qat-run")
    # Neither QAT_BIN nor PATH: build/bin of the source tree.
    monkeypatch.delenv("QAT_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert qat_mlir.tool_path("qat-opt").endswith(os.path.join("build", "bin", "qat-opt"))


def test_freeze_uncalibrated_is_an_error():
    with pytest.raises(CompileError) as info:
        qat_mlir.freeze(qat_mlir.prepare(TWO.split("func.func @relu")[0], "x86"))
    assert info.value.tool == "qat-opt"


def test_signature_with_locations_and_attributes():
    from qat_mlir.runtime import signature
    text = ('func.func private @helper(%a: tensor<2xf32>) -> tensor<2xf32>\n'
            'func.func @main(%arg0: tensor<4x3x16x16xf32> loc("model.mlir":3:17), '
            '%arg1: tensor<10xi8> {foo.bar = 1 : i64}) -> (tensor<4x10xf32>, tensor<i32>) {')
    args, results = signature(text, "main")
    assert args == [((4, 3, 16, 16), np.float32), ((10,), np.int8)]
    assert results == [((4, 10), np.float32), ((), np.int32)]
