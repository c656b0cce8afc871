"""Hostile or careless input through the Python package (issue 14): a clear
CompileError, never a crash of the interpreter."""
import pathlib

import numpy as np
import pytest

import qat_mlir
from qat_mlir import CompileError

INDEX_ARRAY = """func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> attributes {a = array<index: 1>} {
  return %x : tensor<2xf32>
}
"""

INDEX_ALIAS = """!t = index
func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> attributes {a = array<!t>} {
  return %x : tensor<2xf32>
}
"""


@pytest.mark.parametrize("text", [INDEX_ARRAY, INDEX_ALIAS])
def test_index_dense_array(text):
    # Crash class 8: MLIR 22's parser crashes (SIGSEGV) on a dense array of
    # index; the C API's parse (qatModuleCreateParse) refuses it first.
    for call in (qat_mlir.verify, lambda t: qat_mlir.compile(t, entry="f")):
        with pytest.raises(CompileError, match=r"model.mlir\":\d+:72: error: dense array of 'index' "
                                               r"elements.*MLIR 22's parser crashes on it"):
            call(text)


def test_fine_dense_array_still_parses():
    f = qat_mlir.compile(INDEX_ARRAY.replace("index", "i64"), entry="f")
    x = np.array([1.5, -2.0], np.float32)
    np.testing.assert_array_equal(f(x), x)


BYTECODE_REGRESSIONS = pathlib.Path(__file__).resolve().parents[2] / "fuzz" / "regressions" / "bytecode"


@pytest.mark.parametrize("name", ["region-values-7gb.mlirbc", "smallvector-grow.mlirbc"])
def test_hostile_bytecode(name):
    # MLIR 22's bytecode reader allocated 7 GB for the first file and aborted
    # on the second ("SmallVector unable to grow"); the C API's parse walks
    # the bytecode first (qat::findBytecodeHazard) and refuses both.
    data = (BYTECODE_REGRESSIONS / name).read_bytes()
    for call in (qat_mlir.verify, lambda m: qat_mlir.compile(m, entry="f")):
        with pytest.raises(CompileError, match=r"malformed MLIR bytecode \(IR section, byte \d+\): "
                                               r"region value count \d+ exceeds the \d+ bytes left"):
            call(data)


def test_zero_dimensional_inputs():
    # A function taking tensor<f32> is called with a 0-d array, a NumPy
    # scalar or a Python float; the result is 0-d too.
    f = qat_mlir.compile("""func.func @f(%x: tensor<f32>) -> tensor<f32> {
  %0 = tosa.add %x, %x : (tensor<f32>, tensor<f32>) -> tensor<f32>
  return %0 : tensor<f32>
}""", entry="f")
    for x in (np.array(1.25, np.float32), np.float32(1.25), 1.25):
        y = f(x)
        assert y.shape == () and y == np.float32(2.5)


@pytest.mark.parametrize("model, message", [
    (b"", r"the ONNX model has no graph outputs"),
    (b"\x08\x07garbage\xff", r"cannot read an ONNX model from the 10 bytes given: "),
    ("/nonexistent/model.onnx", r"cannot read an ONNX model from '/nonexistent/model.onnx': "
                                r".*No such file"),
    ("/", r"cannot read an ONNX model from '/': .*Is a directory"),
])
def test_import_onnx_unreadable(model, message):
    pytest.importorskip("onnx")
    with pytest.raises(qat_mlir.ExportError, match=message):
        qat_mlir.import_onnx(model)


@pytest.mark.parametrize("divisor", [0, 0.0, -0.0, 4.0])
def test_division_by_constant_zero(divisor):
    # x / 0 exports as x * inf (the same bits as PyTorch's x / 0: +-inf, and
    # NaN for 0 / 0 and NaN), not a ZeroDivisionError in the exporter.
    torch = pytest.importorskip("torch")

    class Div(torch.nn.Module):
        def forward(self, x):
            return x / divisor

    x = torch.tensor([1.0, -2.0, 0.0, -0.0, float("inf"), float("nan"), 3.0e-39])
    f = qat_mlir.compile(qat_mlir.export(Div(), x))
    got, want = f(x.numpy()), (x / divisor).numpy()
    np.testing.assert_array_equal(got.view(np.uint32), want.view(np.uint32))
