"""qat_mlir.export: a PyTorch module to a float func.func over TOSA ops (the
input contract of docs/Preparation.md), in MLIR 22 text.

The module is traced with torch.fx (fx.py) and run once on the example input
to record every shape. When torch.fx cannot trace it (data-dependent Python
control flow), the exporter falls back to make_fx (aten.py), which traces the
ATen operations the example input actually runs.
"""
import re

import torch
import torch.nn as nn

from ..errors import ExportError
from .fx import Exporter, Recorder, TraceFailed, first_line, trace


def export(module, example_input, name="main", crops="slice", binary=False):
    """MLIR text of `module` applied to `example_input`: a float
    `func.func @name` over TOSA ops with the weights as constants.

    binary=True returns the same module as MLIR bytecode (bytes), the
    weights stored raw: about the size of the weights, against twice that
    for text (hex). Every step of the package and every tool reads it.

    example_input: a float32 tensor (or a tuple of them, one per forward
    argument); its shapes, batch size included, are those of the function.
    The function takes and returns tensors in PyTorch's layout (NCHW for
    4-D); inside, 4-D activations are NHWC. The module is exported as in
    eval mode (batch norm with running statistics, dropout the identity);
    its training flags are restored afterwards.

    crops: "slice" (default) or "taps": how a strided convolution without
    padding left drops the rows PyTorch's output size drops (docs/Python.md,
    "Output sizes"); "taps" writes no tosa.slice, for the bpu target.

    Raises ExportError naming the module and op it cannot express.
    """
    if crops not in ("slice", "taps"):
        raise ExportError("crops=%r: 'slice' or 'taps'" % (crops,))
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z_][\w$.]*", name):
        raise ExportError("name=%r is not a valid MLIR symbol name" % (name,))
    if not isinstance(module, nn.Module):
        raise ExportError("export takes a torch.nn.Module, got %s" % type(module).__name__)
    inputs = tuple(example_input) if isinstance(example_input, (tuple, list)) else (example_input,)
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor) or x.dtype != torch.float32:
            raise ExportError("example input #%d must be a float32 torch.Tensor, got %s"
                              % (i, getattr(x, "dtype", type(x).__name__)))
    if binary:
        from .._native import bytecode_with_weights
        from ..writer import weights_apart
        with weights_apart() as weights:
            text = export(module, example_input, name, crops)
        return bytecode_with_weights(text, weights)
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        with torch.no_grad():
            try:
                gm = trace(module)
            except TraceFailed as failed:
                from . import aten
                return aten.export(module, inputs, name, failed.scope, failed.error, crops)
            try:
                Recorder(gm).run(*inputs)
            except Exception as e:
                raise ExportError("running the module on the example input failed: %s"
                                  % first_line(e)) from None
            exporter = Exporter(gm, module, name)
            exporter.w.crops = crops
            return exporter.run(inputs)
    finally:
        for m, training in flags:
            m.training = training
