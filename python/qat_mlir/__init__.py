"""qat_mlir: PyTorch models into qat-mlir, and qat-mlir models back into
Python (docs/Python.md).

    export(module, example_input, name="main") -> MLIR text (float TOSA)
    compile(mlir_or_module, entry="main", example_input=None) -> callable
    prepare(mlir, target) / calibrate(mlir, entry, batches) / freeze(mlir)
    convert(mlir, target=None, simulate=False) -> MLIR text

The runtime functions drive the command-line tools (qat-opt, qat-run,
qat-calibrate); `export` needs torch and is imported on first use.
"""
from .errors import CompileError, ExportError
from .runtime import CompiledFunction, calibrate, compile, convert, freeze, prepare, tool_path

__all__ = ["export", "compile", "prepare", "calibrate", "freeze", "convert", "ExportError",
           "CompileError", "CompiledFunction", "tool_path"]


def export(module, example_input, name="main"):
    """MLIR text of a torch.nn.Module: see qat_mlir.exporter.export."""
    from .exporter import export as _export
    return _export(module, example_input, name)


export.__doc__ = """MLIR text (a float func.func @name over TOSA ops) of a torch.nn.Module
applied to example_input; raises ExportError naming what it cannot export.
See qat_mlir.exporter.export and docs/Python.md."""
