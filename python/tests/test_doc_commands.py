"""Runs every shell command of README.md and docs/*.md (the ```sh blocks) as
written, so that the documented commands cannot drift from the tools.

Synopsis notation is read as a user would: `[...]` optional parts are left
out, `a|b` takes the first alternative, `...` after a tool repeats that
tool's previous command, `N`/`M` are numbers, `NAME` is `main`. Each file a
command names (FILE.mlir, PREPARED.mlir, int8.mlir, x.npy, ...) is made
first from a small CNN exported, prepared for bpu, calibrated, frozen and
converted by the tools themselves. The commands that are not run are listed
in SKIPPED with the reason; each entry must still match a documented
command, so the list cannot go stale.
"""
import os
import re
import shlex
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn

import qat_mlir
from helpers import ROOT, record

DOCS = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                             if f.endswith(".md"))

# pattern (re.search on the normalized command) -> why it is not run here.
SKIPPED = {
    r"^bash scripts/(demo|check|setup)\.sh": "installs packages and builds (scripts/check.sh "
                                              "runs this test)",
    r"qat-bench-layers": "a benchmark of minutes (bench/README.md)",
    r"bench/networks\.py --quick": "integration_test/bench/networks.test runs it",
    r"bench/networks\.py": "a benchmark of minutes",
    r"bench/qat_train_step\.py": "a benchmark of minutes (docs/Deployed.md)",
    r"-m pytest .*python/tests": "this test suite",
    r"lit .*build/integration_test/python": "this test suite",
    r"qat-opt BUFFERIZED\.mlir": "its input is a stage inside qat-to-llvm; "
                                 "test/Conversion/PackedKernels/lower-packed-kernels.mlir runs the pass",
    r"qat-opt PACKED\.mlir": "its input is a stage inside qat-to-llvm; "
                             "test/Conversion/PackedKernels/pack-amx-weights.mlir runs the pass",
    r"qat-opt LOOPS\.mlir": "its input is a stage inside qat-to-llvm; "
                            "test/Conversion/AMX/lower-amx.mlir runs the pass",
    r"examples/layer_report\.py --model resnet18": "ResNet-18, about a minute; "
                                                    "test_layer_report.py runs compare_layers",
    r"qat-opt OMP\.mlir": "its input is a stage inside qat-to-llvm; "
                          "test/Transforms/qat-hoist-parallel-allocas.mlir runs the pass",
    r"lit -v build/integration_test/kernels": "the check for a machine with AMX (docs/Kernels.md); "
                                              "this suite runs those tests",
    r"python/tests/model_sweep\.py": "a sweep of every torchvision model (over 10 minutes); "
                                     "test_model_sweep.py runs a subset",
    r"python/tests/quantizable_sweep\.py": "a sweep of torchvision's quantizable models; "
                                           "test_import_qat.py runs a subset",
    r"^mkdir -p /tmp/fz/mlir": "the fuzzing set-up of docs/Robustness.md (a shell && chain)",
    r"build-asan/bin/qat-fuzz-": "an hour of fuzzing in a sanitizer build (build-asan)",
    r"scripts/check-sanitize\.sh": "the suite again in a sanitizer build (minutes to an hour)",
    r"^grep -o amx_.* /proc/cpuinfo": "a shell pipeline over /proc/cpuinfo that finds nothing on a CPU "
                      "without AMX (grep exits 1); the lit feature amx runs the same check",
}

# Per tool, files of the same name in the docs that mean something else.
TOOL_FILES = {"qat-npu-sim": {"x.npy": "codes.npy"}}

NUMBERS = {"N": "2", "M": "1000", "NAME": "main", "0-3": "3"}


def doc_commands():
    """(doc, block index, command) for each command of each ```sh block; a
    line that ends with a backslash or an indented line continues the
    previous one."""
    out = []
    for doc in DOCS:
        with open(os.path.join(ROOT, doc)) as f:
            text = f.read()
        for b, block in enumerate(re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S)):
            cmds = []
            cont = False
            for line in block.splitlines():
                if not line.strip() or line.lstrip().startswith("#"):
                    cont = False
                    continue
                if cmds and (cont or line[:1].isspace()):
                    cmds[-1] += " " + line.strip()
                else:
                    cmds.append(line.strip())
                cont = cmds[-1].endswith("\\")
                if cont:
                    cmds[-1] = cmds[-1][:-1].rstrip()
            out += [(doc, b, c) for c in cmds]
    return out


def normalize(cmd, previous):
    """The command as run: comments, optional parts and alternatives read
    as described above. `previous`: tool -> its last command's arguments."""
    cmd = re.sub(r"\s+#\s.*$", "", cmd)
    while True:
        new = re.sub(r"\[[^\[\]]*\]", "", cmd)
        if new == cmd:
            break
        cmd = new
    words = shlex.split(cmd)
    if len(words) > 1 and words[1] == "...":
        words = [words[0]] + previous.get(words[0], []) + words[2:]
    result = []
    for w in words:
        if w == "...":
            continue
        if "|" in w and not w.startswith("'"):
            w = w.split("|")[0]
        result.append(NUMBERS.get(w, w))
    return result


def small_cnn():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                        nn.Conv2d(8, 8, 3, stride=2, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(8 * 4 * 4, 10)).eval()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    return net


def tool(name):
    return qat_mlir.tool_path(name)


def make_files(d):
    """The files the documented commands name, made by the tools."""
    x = torch.randn(4, 3, 16, 16)
    text = qat_mlir.export(small_cnn(), x, crops="taps")
    for name in ("FILE.mlir", "model.mlir", "block.mlir", "MODEL.mlir"):
        (d / name).write_text(text)
    rng = np.random.default_rng(0)
    batch = lambda: rng.standard_normal((4, 3, 16, 16)).astype(np.float32)  # noqa: E731
    for name in ("batch.npy", "batch0.npy", "x.npy", "a.npy"):
        np.save(d / name, batch())
    np.save(d / "images.npy", np.concatenate([batch(), batch()]))
    np.save(d / "X.npy", np.concatenate([batch(), batch()]))
    np.save(d / "Y.npy", rng.integers(0, 10, 8).astype(np.int64))
    (d / "batches").mkdir()
    for i in range(3):
        np.save(d / "batches" / ("b%d.npy" % i), batch())
    shutil.copy(os.path.join(ROOT, "test", "Dialect", "QAT", "Transforms", "Inputs",
                             "no_fusion_target.json"), d / "no_fusion_target.json")

    def run(*args):
        subprocess.run([str(a) for a in args], check=True, cwd=d, capture_output=True)
    run(tool("qat-opt"), "FILE.mlir", "--qat-prepare=target=bpu", "-o", "PREPARED.mlir")
    run(tool("qat-calibrate"), "PREPARED.mlir", "--entry", "main", "--data", "batches",
        "--quiet", "-o", "CALIBRATED.mlir")
    run(tool("qat-opt"), "CALIBRATED.mlir", "--qat-freeze-qparams", "-o", "FROZEN.mlir")
    run(tool("qat-opt"), "FROZEN.mlir", "--qat-convert-to-integer", "-o", "INT8.mlir")
    run(tool("qat-opt"), "PREPARED.mlir", "--qat-make-trainable", "-o", "TRAINABLE.mlir")
    # qat-finish-training's input: a trainable model (its globals at their
    # initial values stand for trained ones).
    shutil.copy(d / "TRAINABLE.mlir", d / "TRAINED.mlir")
    run(tool("qat-opt"), "INT8.mlir", "--qat-lower-to-npu", "-o", "PROG.mlir")
    shutil.copy(d / "FROZEN.mlir", d / "frozen.mlir")
    shutil.copy(d / "INT8.mlir", d / "int8.mlir")
    run(tool("qat-translate"), "--npu-binary", "PROG.mlir", "-o", "prog.qnpu")
    # The simulator's input: the codes the model's input quantizer gives
    # (NHWC int8), which qat_mlir's NPU path computes from x.npy.
    module = qat_mlir._native.parse((d / "INT8.mlir").read_text())
    (q,), _ = module.io_quantization("main")
    xs = np.load(d / "x.npy").transpose(0, 2, 3, 1)
    codes = np.clip(np.round(xs / np.float32(q["scale"])) + q["zero_point"], -128, 127)
    np.save(d / "codes.npy", codes.astype(np.int8))


def test_doc_commands(tmp_path):
    make_files(tmp_path)
    bindir = os.path.dirname(tool("qat-opt"))
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""),
               PYTHONPATH=os.path.join(ROOT, "python"))
    previous, used, ran, skipped = {}, set(), 0, []
    cwd_of_block = {}
    for doc, b, raw in doc_commands():
        words = normalize(raw, previous)
        line = " ".join(words)
        reason = next((why for pat, why in SKIPPED.items() if re.search(pat, line)), None)
        if reason:
            used.update(pat for pat in SKIPPED if re.search(pat, line))
            skipped.append("%s: %s (%s)" % (doc, raw, reason))
            continue
        cwd = cwd_of_block.get((doc, b), str(tmp_path))
        if words[0] == "cd":
            cwd_of_block[(doc, b)] = os.path.join(ROOT, words[1])
            continue
        run_env = dict(env)
        while words and re.fullmatch(r"[A-Z_]+=\S*", words[0]):
            key, value = words.pop(0).split("=", 1)
            run_env[key] = os.path.join(ROOT, value) if key == "PYTHONPATH" else value
        words = [TOOL_FILES.get(words[0], {}).get(w, w) for w in words]
        if words[0].startswith("build/"):
            words[0] = os.path.join(ROOT, words[0])
        if words[0] == "/usr/bin/python3" and len(words) > 1 and not os.path.isabs(words[1]):
            words[1] = os.path.join(ROOT, words[1])
        previous[words[0]] = words[1:]
        proc = subprocess.run(words, cwd=cwd, env=run_env, capture_output=True, text=True,
                              timeout=600)
        assert proc.returncode == 0, "%s: `%s` (run as %s) failed with %d:\n%s" % (
            doc, raw, words, proc.returncode, proc.stderr[-3000:])
        ran += 1
    stale = set(SKIPPED) - used
    assert not stale, "SKIPPED entries that match no documented command: %s" % sorted(stale)
    record("doc commands (README.md, docs/*.md): %d run, %d skipped as SKIPPED says"
           % (ran, len(skipped)))
