"""The exceptions of the qat_mlir package."""


class ExportError(Exception):
    """A module or operation that `qat_mlir.export` cannot express in the
    TOSA input contract. The message names the module (its qualified name in
    the exported model) and the operation."""


class CompileError(Exception):
    """A qat-mlir tool (qat-opt, qat-run, qat-calibrate) failed. The message
    holds the tool's command line and its diagnostics; `tool`, `returncode`
    and `diagnostics` hold them separately."""

    def __init__(self, message, tool=None, returncode=None, diagnostics=""):
        super().__init__(message)
        self.tool = tool
        self.returncode = returncode
        self.diagnostics = diagnostics
