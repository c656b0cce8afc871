"""qat_mlir: PyTorch models into qat-mlir, and qat-mlir models back into
Python (docs/Python.md).

    export(module, example_input, name="main") -> MLIR text (float TOSA)
    compile(mlir_or_module, entry="main", example_input=None) -> callable
    prepare(mlir, target) / calibrate(mlir, entry, batches) / freeze(mlir)
    convert(mlir, target=None, simulate=False) -> MLIR text
    import_qat(model, example_input) -> MLIR text (frozen fake-quant, from
        a PyTorch prepare_qat / prepare_qat_fx model)
    import_onnx(model_or_path) -> MLIR text (from an ONNX model, QDQ or float)

The runtime functions drive the command-line tools (qat-opt, qat-run,
qat-calibrate); `export` needs torch and is imported on first use.
"""
from .errors import CompileError, ExportError
from .runtime import (CompiledFunction, calibrate, compile, convert, freeze, prepare, tool_path,
                      verify)

__all__ = ["export", "import_qat", "import_onnx", "compile", "prepare", "calibrate", "freeze",
           "verify", "convert", "ExportError", "CompileError", "CompiledFunction", "tool_path"]


def export(module, example_input, name="main"):
    """MLIR text of a torch.nn.Module: see qat_mlir.exporter.export."""
    from .exporter import export as _export
    return _export(module, example_input, name)


export.__doc__ = """MLIR text (a float func.func @name over TOSA ops) of a torch.nn.Module
applied to example_input; raises ExportError naming what it cannot export.
See qat_mlir.exporter.export and docs/Python.md."""


def import_qat(model, example_input, name="main", target=None):
    """Frozen fake-quant MLIR text of a PyTorch QAT model: see
    qat_mlir._qat.import_qat and docs/Python.md."""
    from ._qat import import_qat as _import
    return _import(model, example_input, name, target)


def import_onnx(model, name="main", target=None):
    """MLIR text of an ONNX model (QDQ or float): see qat_mlir._onnx.import_onnx
    and docs/Python.md."""
    from ._onnx import import_onnx as _import
    return _import(model, name, target)
