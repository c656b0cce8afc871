"""Writes the seed corpora of the fuzz targets (fuzz/corpus/<target>/) from
files of the repository, so that they can be regenerated and grow with the
tests. The generated files are committed; run from anywhere:

    python3 fuzz/make_corpus.py [BUILD_BIN]

BUILD_BIN (optional, e.g. build/bin): also adds NPU binaries compiled by
qat-npu-check from the test models, and the MLIR bytecode corpus (qat-opt
--emit-bytecode of the MLIR seeds, of several bytecode versions). Needs
NumPy.
"""
import glob
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
OUT = os.path.join(ROOT, "fuzz", "corpus")
MAX_LEN = 8192  # -max_len of the runs (fuzz/CMakeLists.txt)
# The pipelines of mlir_fuzzer.cpp (its first input byte picks one).
NUM_PIPELINES = 12


def put(target, data):
    if len(data) > MAX_LEN:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def npy_seeds():
    arrays = [np.arange(8, dtype=np.float32).reshape(2, 4), np.float32(0.5), np.int32(1),
              np.zeros((0, 4), np.float32), np.arange(6, dtype=np.int8).reshape(1, 2, 3),
              np.array([1, 2], np.uint8), np.array([1.5], np.float64), np.zeros(3, np.bool_),
              np.asfortranarray(np.zeros((2, 3), np.float32)), np.array([7], ">i4"),
              np.zeros((1, 1, 1, 1), np.int64), np.array([1, -1], np.int16)]
    for a in arrays:
        buf = io.BytesIO()
        np.save(buf, a)
        put("npy", buf.getvalue())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ones((2, 2), np.float32), version=(2, 0))
    put("npy", buf.getvalue())


def target_seeds():
    for path in sorted(glob.glob(os.path.join(ROOT, "test", "**", "*.json"), recursive=True)):
        with open(path, "rb") as f:
            put("target", f.read())
    # The JSON examples of docs/Targets.md.
    with open(os.path.join(ROOT, "docs", "Targets.md"), encoding="utf-8") as f:
        for block in f.read().split("```json")[1:]:
            put("target", block.split("```")[0].encode())
    put("target", b"[" * 100 + b"]" * 100)


def npu_seeds(bindir):
    inputs = os.path.join(ROOT, "test", "tools", "qat-npu-sim", "Inputs")
    with tempfile.TemporaryDirectory() as tmp:
        for script in ("make_program.py", "make_hostile.py"):
            subprocess.run([sys.executable, os.path.join(inputs, script), tmp], check=True,
                           stdout=subprocess.DEVNULL)
        if bindir:
            for model in sorted(glob.glob(os.path.join(ROOT, "test", "tools", "qat-npu-check",
                                                       "Inputs", "*.mlir"))):
                out = os.path.join(tmp, os.path.basename(model) + ".qnpu")
                subprocess.run([os.path.join(bindir, "qat-npu-check"), model,
                                "--emit-binary", out], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        for path in sorted(glob.glob(os.path.join(tmp, "*.qnpu"))):
            with open(path, "rb") as f:
                put("npu-binary", f.read())


def mlir_seeds():
    dirs = ["test/Dialect/QAT/Transforms", "test/Dialect/QAT/Transforms/Inputs",
            "test/Dialect/QAT/Utils", "test/Dialect/QAT/IR", "test/Conversion/FakeQuantToInteger",
            "test/Conversion/QATToNPU", "test/Conversion/QATToNPU/Inputs",
            "test/tools/parse-guard/Inputs", "test/tools/qat-run/Inputs"]
    chunks = []
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(ROOT, d, "*.mlir"))):
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for chunk in text.split("// -----"):
                lines = [l for l in chunk.splitlines() if not l.lstrip().startswith("// RUN")]
                chunk = "\n".join(lines).strip() + "\n"
                if 20 < len(chunk) < MAX_LEN - 1:
                    chunks.append(chunk.encode())
    for i, chunk in enumerate(chunks):
        put("mlir", bytes([i % NUM_PIPELINES]) + chunk)


def bytecode_seeds(bindir):
    """The MLIR seeds that qat-opt parses, written as bytecode: version 6
    (the writer's default), every seventh one of each older version too,
    and each after canonicalize (whose rewrites leave use-lists out of order:
    use-list orders in the bytecode)."""
    chunks = sorted(glob.glob(os.path.join(OUT, "mlir", "*")))
    opt = os.path.join(bindir, "qat-opt")
    for i, path in enumerate(chunks):
        with open(path, "rb") as f:
            text = f.read()[1:]
        runs = [["--emit-bytecode"], ["--canonicalize", "--emit-bytecode"]]
        if i % 7 != 6:
            runs.append(["--emit-bytecode", "--emit-bytecode-version=%d" % (i % 7)])
        for args in runs:
            r = subprocess.run([opt, "-", "-o", "-"] + args, input=text,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                put("bytecode", r.stdout)


TARGETS = ("npy", "target", "npu-binary", "mlir", "bytecode")


def main():
    bindir = sys.argv[1] if len(sys.argv) > 1 else None
    for t in TARGETS:
        if bindir or t != "bytecode":
            shutil.rmtree(os.path.join(OUT, t), ignore_errors=True)
    npy_seeds()
    target_seeds()
    npu_seeds(bindir)
    mlir_seeds()
    if bindir:
        bytecode_seeds(bindir)
    for t in TARGETS:
        files = os.listdir(os.path.join(OUT, t))
        size = sum(os.path.getsize(os.path.join(OUT, t, f)) for f in files)
        print("%s: %d files, %d bytes" % (t, len(files), size))


if __name__ == "__main__":
    main()
