"""Shared by the deployed-numerics tests (issue 18, docs/Deployed.md): build
a trainable module of a frozen model in `fake-quant` or `deployed` numerics,
train it in-process (qat_mlir.compile keeps the parameter globals between
calls), and write the deployed int8 model of the trained parameters (the
frozen module with each parameter load replaced by a constant of its
trained value, then qat-convert-to-integer)."""
import os
import re
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "python"))
import qat_mlir  # noqa: E402
from qat_mlir._native import tool_path  # noqa: E402


def tool(name, *args, stdin=None):
    r = subprocess.run([tool_path(name), *args], input=stdin, capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("%s %s failed:\n%s" % (name, " ".join(args), r.stderr[-4000:]))
    return r.stdout


def frozen_trainable(float_path, target, data_paths, tmp, entry="main"):
    """prepare, calibrate on `data_paths` (.npy batches), freeze, make
    trainable: the module text."""
    f = lambda n: os.path.join(tmp, "%s.%s.%s.mlir" % (entry, target, n))  # noqa: E731
    tool("qat-opt", float_path, "--qat-prepare=target=" + target, "-o", f("prepared"))
    args = []
    for p in data_paths:
        args += ["--data", p]
    tool("qat-calibrate", f("prepared"), "--entry", entry, *args, "--quiet", "-o",
         f("calibrated"))
    tool("qat-opt", f("calibrated"), "--qat-freeze-qparams",
         "--qat-make-trainable=entry=" + entry, "-o", f("trainable"))
    return open(f("trainable")).read()


def train_module(trainable, numerics, options="momentum=0.9", entry="main"):
    return tool("qat-opt", "-", "--qat-generate-train-step=entry=%s numerics=%s %s"
                % (entry, numerics, options), stdin=trainable)


def compile_train(module_text, entry="main"):
    """The step, eval, parameter read and gradients of `entry`, compiled
    once: m.<entry>_train_step(...) etc."""
    return qat_mlir.compile(module_text, entry=[entry + s for s in (
        "_train_step", "_eval", "_get_parameters", "_gradients", "")])


def parameter_names(module_text):
    """The parameter globals in the order of @main_get_parameters."""
    return re.findall(r"ml_program\.global private mutable @(\w+)\(.*\{qat\.parameter = ",
                      module_text)


def _dense_hex(a):
    return 'dense<"0x%s">' % np.ascontiguousarray(a, np.float32).tobytes().hex().upper()


def with_parameters(trainable, values):
    """The trainable module (before qat-generate-train-step) with each
    parameter load replaced by a constant of `values[name]`: the frozen
    model of the trained parameters."""
    lines = []
    for line in trainable.splitlines():
        m = re.match(r"(\s*)(%\S+) = ml_program\.global_load @(\w+) : (tensor<[^>]+>)\s*$", line)
        if m and m.group(3) in values:
            ind, res, name, ty = m.groups()
            lines.append('%s%s = "tosa.const"() <{values = %s : %s}> : () -> %s'
                         % (ind, res, _dense_hex(values[name]), ty, ty))
            continue
        if re.match(r"\s*ml_program\.global private mutable @(\w+)\(", line):
            continue
        lines.append(line)
    return "\n".join(lines) + "\n"


def run_batches(fn, images, batch):
    """fn over `images` in batches (the last padded with zeros)."""
    n = len(images)
    padded = np.zeros(((n + batch - 1) // batch * batch,) + images.shape[1:], np.float32)
    padded[:n] = images
    outs = [np.array(fn(padded[i:i + batch])) for i in range(0, len(padded), batch)]
    return np.concatenate(outs)[:n]
