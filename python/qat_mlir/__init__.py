"""qat_mlir: PyTorch models into qat-mlir, and qat-mlir models back into
Python (docs/Python.md). This file is the public API; it defines nothing
itself.

    export(module, example_input, name="main", binary=False) -> MLIR text
        (float TOSA), or MLIR bytecode (bytes, weights raw) with binary=True
    import_qat(model, example_input) -> MLIR text (frozen fake-quant, from
        a PyTorch prepare_qat / prepare_qat_fx model)
    import_onnx(model_or_path) -> MLIR text (from an ONNX model, QDQ or float)
    prepare(mlir, target) / calibrate(mlir, entry, batches) / freeze(mlir)
    convert(mlir, target=None, simulate=False) / verify(mlir) -> MLIR text
        (each step takes text or bytecode and returns the same form)
    rebatch(mlir, batch) -> MLIR text for another batch size
    compile(mlir_or_module, entry="main", example_input=None) -> a function
        compiled once, called in-process on NumPy arrays and torch tensors
    quantize(model, data, target, transform_fn=None) -> QuantizedModel (export,
        prepare, calibrate, freeze, convert in one call); save / load;
        QuantizedModel.compile("host" | "npu"), .export_library(path)
    Trainer(mlir, target) -> the compiled QAT step (docs/Training.md)
    prepare_qat(module, example_input, target) -> a torch.nn.Module whose
        forward and backward are compiled QAT code
    compare_layers(model, qmodel, inputs) -> LayerReport: float, fake-quant,
        int8 and NPU values per quantizer, by PyTorch module name (.table(),
        .plot("layers.png"))

Layout of the package:
    __init__.py   the public API (this file)
    errors.py     ExportError, CompileError
    frontends/    PyTorch (torch.fx, make_fx, prepare_qat models) and ONNX to
                  MLIR text
    writer.py     the MLIR (TOSA, qat) text writer the frontends share
    passes.py     prepare, calibrate, freeze, convert, verify (MLIR -> MLIR)
    runtime.py    compile(): JIT-compiled functions called in-process
    workflow.py   quantize, save/load, QuantizedModel (host, NPU, AOT library)
    training.py   Trainer, prepare_qat: QAT training in the compiler
    debug.py      compare_layers: the per-layer numeric comparison and its plot
    _native.py    the native extension (C API of qat-mlir) and the tools

The frontends import torch (or onnx) on first use only.
"""
from ._native import tool_path
from .errors import CompileError, ExportError
from .passes import calibrate, convert, freeze, prepare, rebatch, verify
from .runtime import CompiledModule, compile
from .training import Trainer, prepare_qat
from .debug import LayerReport, compare_layers
from .workflow import NPUFunction, QuantizedModel, load, quantize, save

__all__ = ["export", "import_qat", "import_onnx", "compile", "prepare", "calibrate", "freeze",
           "verify", "convert", "rebatch", "quantize", "save", "load", "QuantizedModel",
           "NPUFunction", "compare_layers", "LayerReport", "ExportError", "CompileError",
           "CompiledFunction", "CompiledModule", "tool_path", "Trainer", "prepare_qat"]


def export(module, example_input, name="main", crops="slice", binary=False):
    """MLIR text (a float func.func @name over TOSA ops) of a torch.nn.Module
    applied to example_input, or MLIR bytecode (bytes, the weights stored
    raw) with binary=True; raises ExportError naming what it cannot export.
    See docs/Python.md."""
    from .frontends.pytorch import export as _export
    return _export(module, example_input, name, crops, binary)


def import_qat(model, example_input, name="main", target=None, engine="auto"):
    """Frozen fake-quant MLIR text of a PyTorch QAT model (prepare_qat or
    prepare_qat_fx, trained); `engine` chooses PyTorch's int8 arithmetic
    to reproduce. See docs/Python.md."""
    from .frontends.qat import import_qat as _import
    return _import(model, example_input, name, target, engine)


def import_onnx(model, name="main", target=None):
    """MLIR text of an ONNX model (QDQ or float). See docs/Python.md."""
    from .frontends.onnx import import_onnx as _import
    return _import(model, name, target)


def __getattr__(name):
    # CompiledFunction derives from the native extension's type: made (and
    # the extension loaded) on first use.
    if name == "CompiledFunction":
        from .runtime import function_class
        return function_class()
    raise AttributeError("module 'qat_mlir' has no attribute %r" % name)
