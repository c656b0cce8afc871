"""Hostile or careless input through the Python package (issue 14): a clear
CompileError, never a crash of the interpreter."""
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

