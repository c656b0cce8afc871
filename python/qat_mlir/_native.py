"""Where the compiled parts of qat-mlir are, for the rest of the package
(internal): the native extension _qat_mlir_native (lib/Bindings/Python, on
the C API of include/qat-c/, libQATCAPI.so), loaded once, with its errors
turned into CompileError; and the command-line tools (tool_path).

Search order of the extension: the directory $QAT_PYTHON_NATIVE, then
$QAT_BIN/../python, then build/python of the source tree this package sits
in, then this directory (an installed package).
"""
import glob
import importlib.util
import os
import re
import shutil
import subprocess
import threading

from .errors import CompileError

_HERE = os.path.dirname(os.path.abspath(__file__))
_ROOT = os.path.normpath(os.path.join(_HERE, "..", ".."))
_EXTENSION = "_qat_mlir_native"


def tool_path(name):
    """Absolute path of a qat-mlir tool (qat-opt, qat-run, ...): $QAT_BIN/name,
    else name on PATH, else build/bin/name of the source tree."""
    env = os.environ.get("QAT_BIN")
    if env:
        path = os.path.join(env, name)
        if os.access(path, os.X_OK):
            return path
        raise CompileError("QAT_BIN=%s has no executable %s" % (env, name), tool=name)
    found = shutil.which(name)
    if found:
        return found
    for rel in (("..", "build", "bin"), ("..", "..", "build", "bin")):
        path = os.path.normpath(os.path.join(_HERE, *rel, name))
        if os.access(path, os.X_OK):
            return path
    raise CompileError("cannot find %s: set QAT_BIN to the directory of the qat-mlir tools, "
                       "put it on PATH, or build the source tree (build/bin)" % name, tool=name)


def run_tool(name, args, stderr_lines=None, cwd=None):
    """Runs a command-line tool; returns its stdout. stderr_lines(line) sees
    stderr as it arrives (for progress) and returns True for lines it
    consumed; CompileError with the rest on failure."""
    cmd = [tool_path(name)] + [str(a) for a in args]
    if stderr_lines is None:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              cwd=cwd)
        out, err, rc = proc.stdout, proc.stderr, proc.returncode
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=cwd)
        kept = []

        def pump():
            for line in proc.stderr:
                if not stderr_lines(line.rstrip("\n")):
                    kept.append(line)
        reader = threading.Thread(target=pump)
        reader.start()
        out = proc.stdout.read()
        rc = proc.wait()
        reader.join()
        err = "".join(kept)
    if rc != 0:
        shown = " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd))
        raise CompileError("%s failed (exit code %d):\n  %s\n%s" % (name, rc, shown, err.rstrip()),
                           tool=name, returncode=rc, diagnostics=err)
    return out


def _extension_dirs():
    env = os.environ.get("QAT_PYTHON_NATIVE")
    if env:
        return [env]
    dirs = []
    if os.environ.get("QAT_BIN"):
        dirs.append(os.path.join(os.environ["QAT_BIN"], "..", "python"))
    dirs += [os.path.join(_ROOT, "build", "python"), _HERE]
    return dirs


_lock = threading.Lock()
_module = None


def native():
    """The extension module, loaded on first use."""
    global _module
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            for d in _extension_dirs():
                found = sorted(glob.glob(os.path.join(d, _EXTENSION + "*.so")))
                if found:
                    spec = importlib.util.spec_from_file_location(_EXTENSION, found[0])
                    mod = importlib.util.module_from_spec(spec)
                    spec.loader.exec_module(mod)
                    _module = mod
                    break
            else:
                raise CompileError(
                    "cannot find the qat_mlir native extension (%s*.so) in %s: build the project "
                    "(cmake --build build writes build/python/), or set QAT_PYTHON_NATIVE to its "
                    "directory" % (_EXTENSION, ", ".join(_extension_dirs())), tool="qat_mlir")
    return _module


def compile_error(error, stage):
    """CompileError of the extension's NativeError (message, diagnostics)."""
    message, diagnostics = error.args
    text = message if not diagnostics else "%s:\n%s" % (message, diagnostics.rstrip())
    return CompileError(text, tool=stage, diagnostics=diagnostics)


_BYTECODE_MAGIC = b"ML\xefR"


def is_bytecode(mlir):
    """Whether `mlir` is MLIR bytecode (bytes starting with its magic)."""
    return isinstance(mlir, (bytes, bytearray, memoryview)) and bytes(mlir[:4]) == _BYTECODE_MAGIC


def text_of(mlir):
    """MLIR text as str, or MLIR bytecode as bytes (what parse takes);
    other bytes are decoded as UTF-8 text."""
    if is_bytecode(mlir):
        return bytes(mlir)
    if isinstance(mlir, bytes):
        return mlir.decode()
    if not isinstance(mlir, str):
        raise TypeError("expected MLIR text (str) or bytecode (bytes), got %s"
                        % type(mlir).__name__)
    return mlir


def parse(mlir, source_name="model.mlir"):
    """The extension's Module of MLIR text or bytecode; text locations
    without one read "source_name":line:col. CompileError with the
    parser's diagnostics."""
    n = native()
    mlir = text_of(mlir)
    try:
        if isinstance(mlir, bytes):
            return n.parse_bytes(mlir, source_name)
        return n.Module.parse(mlir, source_name)
    except n.NativeError as e:
        raise compile_error(e, "parse") from None


def output_like(module, mlir, debug_info=True, local_scope=False):
    """`module` in the form of `mlir`: bytecode (bytes) for bytecode, else
    text (with locations when debug_info)."""
    if is_bytecode(mlir):
        return native().bytecode_of(module)
    return module.to_text(debug_info=debug_info, local_scope=local_scope)


def bytecode_with_weights(text, weights, source_name="model.mlir"):
    """MLIR bytecode of the exporters' `text` whose constants are
    placeholders for `weights` (writer.weights_apart)."""
    n = native()
    module = parse(text, source_name)
    try:
        n.attach_weights(module, weights)
    except n.NativeError as e:
        raise compile_error(e, "export") from None
    return n.bytecode_of(module)


def run_pipeline(module, pipeline):
    """Runs a textual pass pipeline on the extension's Module, in place."""
    n = native()
    try:
        module.run_pipeline(pipeline)
    except n.NativeError as e:
        raise compile_error(e, re.split(r"[{,(]", pipeline)[0]) from None
