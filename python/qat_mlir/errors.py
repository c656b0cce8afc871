"""The exceptions of the qat_mlir package."""


class ExportError(Exception):
    """A module or operation that `qat_mlir.export` cannot express in the
    TOSA input contract. The message names the module (its qualified name in
    the exported model) and the operation."""


class CompileError(Exception):
    """The compiler failed: parsing, a pass pipeline, the JIT compilation, or
    a command-line tool. The message says what failed and holds the
    compiler's diagnostics (location: severity: message, one per line).
    `tool` names the step ("parse", the pipeline's first pass such as
    "qat-prepare", "compile", "aot", or the tool, e.g. "qat-calibrate"),
    `diagnostics` holds the diagnostics alone and `returncode` a tool's exit
    code (None in-process)."""

    def __init__(self, message, tool=None, returncode=None, diagnostics=""):
        super().__init__(message)
        self.tool = tool
        self.returncode = returncode
        self.diagnostics = diagnostics
