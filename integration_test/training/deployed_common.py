"""Shared by the deployed-numerics tests (issue 18, docs/Deployed.md): build
a trainable module of a frozen model in `fake-quant` or `deployed` numerics,
train it in-process (qat_mlir.compile keeps the parameter globals between
calls), and write the deployed int8 model of the trained parameters (the
frozen module with each parameter load replaced by a constant of its
trained value, then qat-convert-to-integer)."""
import os
import re
import shutil
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


def calibrated(float_path, target, data_paths, tmp, entry="main"):
    """prepare and calibrate on `data_paths` (.npy batches): the path of the
    calibrated module."""
    f = lambda n: os.path.join(tmp, "%s.%s.%s.mlir" % (entry, target, n))  # noqa: E731
    tool("qat-opt", float_path, "--qat-prepare=target=" + target, "-o", f("prepared"))
    args = []
    for p in data_paths:
        args += ["--data", p]
    tool("qat-calibrate", f("prepared"), "--entry", entry, *args, "--quiet", "-o",
         f("calibrated"))
    return f("calibrated")


def frozen_trainable(float_path, target, data_paths, tmp, entry="main"):
    """prepare, calibrate on `data_paths` (.npy batches), freeze, make
    trainable: the module text."""
    f = lambda n: os.path.join(tmp, "%s.%s.%s.mlir" % (entry, target, n))  # noqa: E731
    calibrated(float_path, target, data_paths, tmp, entry)
    tool("qat-opt", f("calibrated"), "--qat-freeze-qparams",
         "--qat-make-trainable=entry=" + entry, "-o", f("trainable"))
    return open(f("trainable")).read()


def train_module(trainable, numerics, options="momentum=0.9", entry="main"):
    return tool("qat-opt", "-", "--qat-generate-train-step=entry=%s numerics=%s %s"
                % (entry, numerics, options), stdin=trainable)


def compile_train(module_text, entry="main", extra=()):
    """The step, eval, parameter read and gradients of `entry` (and the
    `extra` suffixes, e.g. "_get_state"), compiled once, sharing the
    globals: m.<entry>_train_step(...) etc."""
    return qat_mlir.compile(module_text, entry=[entry + s for s in (
        "_train_step", "_eval", "_get_parameters", "_gradients", "") + tuple(extra)])


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


AOT_MAIN_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include "model.h"
/* prog X.bin Y.bin BATCHES IN OUT: qat_main on each batch of IN floats. */
int main(int argc, char **argv) {
  long batches = atol(argv[3]), n = atol(argv[4]), m = atol(argv[5]);
  FILE *in = fopen(argv[1], "rb"), *out = fopen(argv[2], "wb");
  float *x = malloc(n * sizeof(float)), *y = malloc(m * sizeof(float));
  if (!in || !out || !x || !y) return 1;
  for (long b = 0; b < batches; ++b) {
    if (fread(x, sizeof(float), n, in) != (size_t)n) return 2;
    qat_main(x, y);
    if (fwrite(y, sizeof(float), m, out) != (size_t)m) return 3;
  }
  fclose(in);
  return fclose(out) ? 4 : 0;
}
"""


def run_aot(int8_text, images, batch, out_width, tmp, name="aot"):
    """The int8 model compiled ahead of time (qat-compile to an object, linked
    into a C program through its generated header) over `images` in batches
    (the last padded with zeros): the outputs, as `run_batches`."""
    d = os.path.join(tmp, name)
    os.makedirs(d, exist_ok=True)
    src = os.path.join(d, "model.mlir")
    with open(src, "w") as f:
        f.write(int8_text)
    tool("qat-compile", src, "--entry", "main", "-o", os.path.join(d, "model.o"), "--header",
         os.path.join(d, "model.h"))
    with open(os.path.join(d, "main.c"), "w") as f:
        f.write(AOT_MAIN_C)
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("clang-22")
    prog = os.path.join(d, "prog")
    subprocess.run([cc, "-O1", "-I", d, os.path.join(d, "main.c"), os.path.join(d, "model.o"),
                    "-o", prog, "-lm"], check=True)
    n = len(images)
    padded = np.zeros(((n + batch - 1) // batch * batch,) + images.shape[1:], np.float32)
    padded[:n] = images
    padded.tofile(os.path.join(d, "x.bin"))
    per = padded[:batch].size
    subprocess.run([prog, os.path.join(d, "x.bin"), os.path.join(d, "y.bin"),
                    str(len(padded) // batch), str(per), str(batch * out_width)], check=True)
    return np.fromfile(os.path.join(d, "y.bin"), np.float32).reshape(len(padded), out_width)[:n]
