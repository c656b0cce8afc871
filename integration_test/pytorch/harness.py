"""Shared helpers of the execution tests: run MLIR through qat-run on NumPy
arrays, compare bit patterns, keep the counts, exit non-zero on a mismatch."""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

f32, f64 = np.float32, np.float64
HERE = os.path.dirname(os.path.abspath(__file__))


def qat_run_path():
    found = shutil.which("qat-run")
    return found or os.path.join(HERE, "..", "..", "build", "bin", "qat-run")


def run(mlir, entry, inputs, num_outputs):
    """Runs @entry of the MLIR text on `inputs`, returns its results."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "m.mlir")
        with open(path, "w") as f:
            f.write(mlir)
        cmd = [qat_run_path(), path, "--entry", entry]
        for i, a in enumerate(inputs):
            p = os.path.join(tmp, f"in{i}.npy")
            np.save(p, a)
            cmd += ["--input", p]
        outs = [os.path.join(tmp, f"out{i}.npy") for i in range(num_outputs)]
        for o in outs:
            cmd += ["--output", o]
        subprocess.run(cmd, check=True)
        return [np.load(o) for o in outs]


def ttype(shape, elem="f32"):
    return "tensor<" + "".join(f"{d}x" for d in shape) + elem + ">"


def bit_mismatches(ours, ref):
    """Elements whose f32 bit patterns differ (any NaN equals any NaN)."""
    a = np.ascontiguousarray(ours, f32).ravel()
    b = np.ascontiguousarray(ref, f32).ravel()
    assert a.shape == b.shape, (a.shape, b.shape)
    both_nan = np.isnan(a) & np.isnan(b)
    return int(np.sum((a.view(np.uint32) != b.view(np.uint32)) & ~both_nan))


def ulp_distance(a, b):
    """Largest distance in units in the last place between f32 arrays."""
    def key(v):
        i = np.ascontiguousarray(v, f32).ravel().view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)
    return int(np.max(np.abs(key(a) - key(b)))) if np.size(a) else 0


class Report:
    """Counts compared elements and mismatches per name; prints a summary."""

    def __init__(self, title):
        self.title = title
        self.counts = {}
        self.failures = []

    def compare(self, name, ours, ref):
        m = bit_mismatches(ours, ref)
        n, bad = self.counts.get(name, (0, 0))
        self.counts[name] = (n + np.size(ref), bad + m)
        if m:
            self.failures.append(f"{name}: {m} of {np.size(ref)} elements differ")
        return m

    def check(self, name, ok, detail=""):
        n, bad = self.counts.get(name, (0, 0))
        self.counts[name] = (n + 1, bad + (0 if ok else 1))
        if not ok:
            self.failures.append(f"{name}: {detail}")

    def finish(self):
        total = sum(n for n, _ in self.counts.values())
        bad = sum(b for _, b in self.counts.values())
        for name, (n, b) in sorted(self.counts.items()):
            print(f"  {name}: {n} compared, {b} mismatches")
        for f in self.failures[:20]:
            print("  FAIL " + f)
        print(f"{self.title}: {total} elements compared, {bad} mismatches")
        sys.exit(1 if bad else 0)


def tool(name, *args, check=True):
    """Runs a qat tool (beside qat-run) and captures its output."""
    return subprocess.run([os.path.join(os.path.dirname(qat_run_path()), name), *args],
                          check=check, capture_output=True, text=True)


BLOCKS = ["resnet_basic", "resnet_bottleneck", "mobilenet_v2", "classifier_head"]


def random_blocks(inputs_dir, rng):
    """Yields the random-weight blocks of test/Dialect/QAT/Transforms/Inputs
    (`inputs_dir`), each as (name, source path, a path maker in a fresh
    temporary directory, the qat-calibrate --data arguments of 4 random
    batches); x.npy there holds 16 random inputs."""
    for block in BLOCKS:
        shape = (1, 9, 9, 8) if block == "resnet_bottleneck" else (1, 8, 8, 8)
        with tempfile.TemporaryDirectory() as tmp:
            p = lambda n: os.path.join(tmp, n)  # noqa: E731
            data = []
            for i in range(4):
                np.save(p("c%d.npy" % i), rng.standard_normal(shape).astype(np.float32))
                data += ["--data", p("c%d.npy" % i)]
            np.save(p("x.npy"), rng.standard_normal((16,) + shape[1:]).astype(np.float32))
            yield block, os.path.join(inputs_dir, block + ".mlir"), p, data


def prepare_and_calibrate(block, src, target, data, p):
    """qat-prepare for `target`, then qat-calibrate on `data`: calibrated.mlir."""
    tool("qat-opt", src, "--qat-prepare=target=" + target, "-o", p("prepared.mlir"))
    tool("qat-calibrate", p("prepared.mlir"), "--entry", block, *data, "--quiet",
         "-o", p("calibrated.mlir"))
