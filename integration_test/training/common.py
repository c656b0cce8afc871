"""Shared by the training tests: build the trainable module of a float
model, run its generated functions through qat-run (with a small driver
function appended, so that one process runs several steps and reads the
globals back), and compare with the PyTorch reference (reference.py)."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, HERE)


def bin_dir():
    found = shutil.which("qat-run")
    return os.path.dirname(found) if found else os.path.join(ROOT, "build", "bin")


def tool(name, *args, stdin=None):
    r = subprocess.run([os.path.join(bin_dir(), name), *args], input=stdin,
                       capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError("%s %s failed:\n%s" % (name, " ".join(args), r.stderr[-4000:]))
    return r.stdout


def ttype(shape, et="f32"):
    return "tensor<" + "".join("%dx" % d for d in shape) + et + ">"


NP_ET = {np.dtype(np.float32): "f32", np.dtype(np.int32): "i32", np.dtype(np.float64): "f64",
         np.dtype(np.int64): "i64"}


def trainable(float_mlir, target, entry, train_options="", prepare_options="",
              extra_passes="", bn_mode="fold"):
    """float model text -> (trainable module text, its generic form).
    bn_mode="train": batch norm trained as ConvBn2d (record-bn,
    bn-mode=train)."""
    if bn_mode == "train":
        prepare_options += " record-bn=true"
    prepared = tool("qat-opt", "-", "--qat-prepare=target=%s %s" % (target, prepare_options),
                    stdin=float_mlir)
    passes = ["--qat-make-trainable=entry=%s bn-mode=%s" % (entry, bn_mode)]
    if extra_passes:
        passes.append(extra_passes)
    passes.append("--qat-generate-train-step=entry=%s return-quantizer-inputs %s"
                  % (entry, train_options))
    text = tool("qat-opt", "-", *passes, stdin=prepared)
    generic = tool("qat-opt", "-", "--mlir-print-op-generic",
                   "--mlir-print-elementsattrs-with-hex-if-larger=0", stdin=text)
    return text, generic


def run_driver(module_text, driver, inputs, num_outputs):
    """Appends `driver` (MLIR text of @driver) to the module and runs it."""
    i = module_text.rstrip().rindex("}")
    text = module_text[:i] + driver + "\n}\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(text)
        args = [path, "--entry", "driver"]
        for k, a in enumerate(inputs):
            p = os.path.join(tmp, "in%d.npy" % k)
            np.save(p, a)
            args += ["--input", p]
        outs = [os.path.join(tmp, "out%d.npy" % k) for k in range(num_outputs)]
        for o in outs:
            args += ["--output", o]
        tool("qat-run", *args)
        return [np.load(o) for o in outs]


failures = []


def check(ok, what):
    """One check of a test: a failure is printed at once and remembered."""
    if not ok:
        failures.append(what)
        print("FAIL " + what)


def finish():
    """The end of a test: exit 1 if any check failed."""
    if failures:
        print("%d checks failed" % len(failures))
        sys.exit(1)
    print("all checks passed")


def rel(ours, ref):
    ref = np.asarray(ref, np.float64)
    scale = float(np.max(np.abs(ref))) if ref.size else 0.0
    d = float(np.max(np.abs(np.asarray(ours, np.float64) - ref))) if ref.size else 0.0
    return d / scale if scale else d


def ulps(a, b):
    def key(v):
        i = np.ascontiguousarray(v, np.float32).ravel().view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    same = (a == b) | (np.isnan(a) & np.isnan(b))
    if np.all(same):
        return 0
    return int(np.max(np.abs(key(a) - key(b))[~same.ravel()]))
