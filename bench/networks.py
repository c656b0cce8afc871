#!/usr/bin/python3
"""Whole-network int8 benchmark: qat-mlir against PyTorch 1.13 int8 (onednn
engine) and against the sum of oneDNN's conv + fc primitive times.

For each network (torchvision resnet18, resnet50, mobilenet_v2 with random
weights, eval mode, one 1x3x224x224 image):

1. ours: the float model is exported with qat_mlir, prepared for the x86
   target, calibrated on random batches, frozen and converted to integer;
   qat-compile writes an object file, which a small C harness (written and
   built here) calls. Only the call is timed, after a warm-up: per-call
   median over at least --min-seconds.
2. check: the int8 model (the compiled object that is timed) against its
   fake-quantized model (the frozen module, JIT-run by qat-run) on
   --check-images random images: how many logits are identical, 1 output
   LSB apart, or further apart.
3. PyTorch: the same nn.Module (same weights) quantized by FX
   (prepare_fx / convert_fx, get_default_qconfig_mapping("onednn"),
   torch.backends.quantized.engine = "onednn") and calibrated on the same
   batches; per-call median under torch.inference_mode() of the FX
   GraphModule and of its TorchScript (torch.jit.trace + freeze, used only
   if it gives the same output), the faster of the two in each round.
4. oneDNN: every nn.Conv2d and nn.Linear of the model is recorded with a
   forward hook (input size, channels, kernel, stride, padding, groups);
   qat-bench-onednn-peer --shapes times each distinct shape once (u8 source,
   s8 weights, s32 bias, u8 destination, per-channel scales, ReLU post-op,
   one thread) and the sum over the network's layers is count x median.

Everything timed runs on the same CPU set (taskset -c, default CPU 0) with
one thread, in --rounds interleaved rounds (ours, PyTorch, oneDNN); the
table shows the median over rounds of each round's median, and the minimum.
The load average is printed before and after: other work on the machine
shows up in every figure.

--threads 1,2 also times ours compiled with qat-compile --num-threads 2
(and PyTorch with two threads) on CPUs 0-1, after checking that its
outputs equal the one-thread build's.

--keep-heap also times ours with glibc told to keep freed memory (a
diagnostic from when each call allocated its buffers: glibc returned large
ones to the system and every call page-faulted them in again). With
qat-compile's default static arena it makes no difference (ResNet-50,
2026-12-02: 13.94 ms, 13.75 ms with the heap kept).

AMX rows: where the CPU has AMX (amx_tile, amx_int8, with AVX-512 VNNI) and
the OS grants this process the tiles' data (arch_prctl(ARCH_REQ_XCOMP_PERM)),
ours is also compiled with qat-compile --kernels amx, its outputs checked
against the main build's bit for bit and timed in the same rounds; a second
table gives it against PyTorch int8 and the oneDNN conv+fc sum (oneDNN's
default ISA, AMX on such a CPU). The main rows then use the vector kernels
(--kernels auto stands for vnni). Elsewhere one line says that the AMX rows
are skipped and why. --amx-rows emulated builds them with --kernels
amx-emulated on any CPU (checks the outputs and the script; the times are
the emulation's, not AMX's); --amx-rows off drops them.

--breakdown also cuts our int8 function into units (a conv/fc with its
requantization, or any other single op), compiles and times each distinct
unit alone, and prints the sums by kind next to oneDNN's per-kind sums;
with --threads 1,2 it also times the units built with 2 threads (on CPUs
0-1) and prints the speedup by kind.

    /usr/bin/python3 bench/networks.py                 # the three networks
    /usr/bin/python3 bench/networks.py --networks resnet50 --rounds 5
    /usr/bin/python3 bench/networks.py --quick         # a toy CNN, seconds

Needs python3-torch, python3-torchvision, python3-numpy, the built tools
(build/bin or $QAT_BIN: qat-opt, qat-calibrate, qat-run, qat-compile,
qat-bench-onednn-peer; the last needs libdnnl-dev) and a C compiler.
Exit code 1 if a step fails, if the int8 model differs from its float
simulation (qat-convert-to-integer simulate=true, equal bit for bit by
contract) on any logit, or, with --max-lsb, if it differs from its
fake-quant model by more than that many output LSB.
"""
import argparse
import collections
import copy
import ctypes
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "python"))

import qat_mlir  # noqa: E402

NETWORKS = ("resnet18", "resnet50", "mobilenet_v2")
# qat-bench-onednn-peer's built-in list (bench/Layers.cpp) names them so.
BUILTIN_PREFIX = {"resnet18": "resnet18/", "resnet50": "resnet50/",
                  "mobilenet_v2": "mobilenetv2/"}

# --keep-heap: glibc keeps freed memory instead of returning it to the
# system, so buffers allocated in each call are not page-faulted in again.
MALLOC_TUNABLES = "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=4294967295"

# arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) on x86-64 Linux.
SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA = 158, 0x1023, 18

HARNESS_C = r"""
/* Times one call of the qat-compile'd model; written by bench/networks.py. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "model.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static float *alloc(size_t n) {
  size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
  float *p = aligned_alloc(64, bytes);
  if (!p) { fprintf(stderr, "harness: out of memory\n"); exit(1); }
  return p;
}

/* harness IN.bin N OUT.bin MIN_SECONDS MIN_CALLS: runs the N images of
   IN.bin (raw f32) once each into OUT.bin, then times calls on image 0. */
int main(int argc, char **argv) {
  if (argc != 6) { fprintf(stderr, "usage: %s IN N OUT MIN_SECONDS MIN_CALLS\n", argv[0]); return 2; }
  long n = atol(argv[2]);
  double minSeconds = atof(argv[4]);
  long minCalls = atol(argv[5]);
  float *in = alloc((size_t)n * IN_ELEMS), *out = alloc((size_t)n * OUT_ELEMS);
  FILE *f = fopen(argv[1], "rb");
  if (!f || fread(in, sizeof(float), (size_t)n * IN_ELEMS, f) != (size_t)n * IN_ELEMS) {
    fprintf(stderr, "harness: cannot read %ld images from %s\n", n, argv[1]);
    return 1;
  }
  fclose(f);
  for (long i = 0; i < n; ++i)
    QAT_CALL(in + i * IN_ELEMS, out + i * OUT_ELEMS);
  f = fopen(argv[3], "wb");
  if (!f || fwrite(out, sizeof(float), (size_t)n * OUT_ELEMS, f) != (size_t)n * OUT_ELEMS) {
    fprintf(stderr, "harness: cannot write %s\n", argv[3]);
    return 1;
  }
  fclose(f);
  if (minSeconds <= 0)
    return 0;
  float *scratch = alloc(OUT_ELEMS);
  double start = now();
  for (long i = 0; i < 3 || now() - start < 0.1 * minSeconds; ++i)
    QAT_CALL(in, scratch);
  long cap = 1024, calls = 0;
  double *t = malloc(cap * sizeof(double));
  start = now();
  while (calls < minCalls || now() - start < minSeconds) {
    if (calls == cap) t = realloc(t, (cap *= 2) * sizeof(double));
    double t0 = now();
    QAT_CALL(in, scratch);
    t[calls++] = now() - t0;
  }
  qsort(t, calls, sizeof(double), cmp);
  double median = calls % 2 ? t[calls / 2] : 0.5 * (t[calls / 2 - 1] + t[calls / 2]);
  printf("calls %ld median %.9g min %.9g\n", calls, median, t[0]);
  return 0;
}
"""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def run(cmd, timeout=1800, **kw):
    """Runs a command; on failure raises RuntimeError with its output. The
    timeout catches a tool whose crash handler deadlocks after a crash."""
    try:
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              timeout=timeout, **kw)
    except subprocess.TimeoutExpired:
        raise RuntimeError("%s did not finish in %d s" % (" ".join(map(str, cmd)), timeout))
    if proc.returncode != 0:
        raise RuntimeError("%s failed (exit code %d):\n%s%s" % (
            " ".join(map(str, cmd)), proc.returncode, proc.stdout[-2000:], proc.stderr[-4000:]))
    return proc


def pinned(cpus, cmd):
    return ["taskset", "-c", cpus] + [str(c) for c in cmd]


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def amx_problem():
    """Why this machine cannot run qat-compile --kernels amx objects (the
    check those objects make: AMX and AVX-512 VNNI in the CPU, the OS's leave
    to use the tiles' data, QAT_DISABLE_AMX unset), or None if it can."""
    if os.environ.get("QAT_DISABLE_AMX") is not None:
        return "QAT_DISABLE_AMX is set"
    if platform.machine() not in ("x86_64", "AMD64") or not sys.platform.startswith("linux"):
        return "AMX is only used on x86-64 Linux"
    flags = cpu_flags()
    missing = [f for f in ("amx_tile", "amx_int8", "avx512_vnni", "avx512bw") if f not in flags]
    if missing:
        return "the CPU lacks " + ", ".join(missing)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.syscall(SYS_ARCH_PRCTL, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0:
        return ("the OS refused arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): %s"
                % os.strerror(ctypes.get_errno()))
    return None


# ---------------------------------------------------------------------------
# Models


def toy_model():
    """A small CNN with every construct of the three networks: strided conv
    + BN + ReLU, max pool, a residual basic block with a strided 1x1
    projection, an inverted residual (1x1 expand, depthwise 3x3, ReLU6,
    1x1 project, add), global average pool and a fully connected layer."""
    import torch.nn as nn

    class Toy(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16),
                                      nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            self.a = nn.Sequential(nn.Conv2d(16, 32, 3, 2, 1, bias=False), nn.BatchNorm2d(32),
                                   nn.ReLU(), nn.Conv2d(32, 32, 3, 1, 1, bias=False),
                                   nn.BatchNorm2d(32))
            self.down = nn.Sequential(nn.Conv2d(16, 32, 1, 2, bias=False), nn.BatchNorm2d(32))
            self.inv = nn.Sequential(nn.Conv2d(32, 64, 1, bias=False), nn.BatchNorm2d(64),
                                     nn.ReLU6(), nn.Conv2d(64, 64, 3, 1, 1, groups=64, bias=False),
                                     nn.BatchNorm2d(64), nn.ReLU6(),
                                     nn.Conv2d(64, 32, 1, bias=False), nn.BatchNorm2d(32))
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            x = self.stem(x)
            x = (self.a(x) + self.down(x)).relu()
            x = x + self.inv(x)
            return self.fc(self.pool(x).flatten(1))

    return Toy()


def build_model(name, seed, estimate_bn=True):
    """(eval-mode model, input shape). Batch-norm statistics are estimated on
    random data so that eval-mode batch norm is not the identity."""
    import torch
    torch.manual_seed(seed)
    if name == "toy":
        model, shape = toy_model(), (1, 3, 32, 32)
    else:
        import torchvision
        model, shape = getattr(torchvision.models, name)(weights=None), (1, 3, 224, 224)
    if not estimate_bn:
        return model.eval(), shape
    bns = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average
    model.train()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn((2,) + shape[1:], generator=g))
    return model.eval(), shape


# ---------------------------------------------------------------------------
# Layer shapes (oneDNN peer)


def extract_layers(model, x):
    """[(module name, peer shape fields)] of every nn.Conv2d / nn.Linear call
    in one forward pass, in call order."""
    import torch
    layers, hooks = [], []

    def conv_hook(name):
        def hook(mod, inp, out):
            _, _, h, w = inp[0].shape
            kh, kw = mod.kernel_size
            if (mod.stride[0] != mod.stride[1] or mod.padding[0] != mod.padding[1]
                    or not isinstance(mod.padding[0], int)):
                raise RuntimeError("%s: stride %s / padding %s: the oneDNN peer times square "
                                   "strides and symmetric padding" % (name, mod.stride, mod.padding))
            fields = "conv h=%d w=%d cin=%d cout=%d kh=%d kw=%d stride=%d pad=%d" % (
                h, w, mod.in_channels, mod.out_channels, kh, kw, mod.stride[0], mod.padding[0])
            if mod.groups != 1:
                fields += " groups=%d" % mod.groups
            if mod.dilation != (1, 1):
                fields += " dilation=%d" % mod.dilation[0]
            layers.append((name, fields))
        return hook

    def fc_hook(name):
        def hook(mod, inp, out):
            rows = inp[0].numel() // mod.in_features
            layers.append((name, "fc m=%d k=%d n=%d" % (rows, mod.in_features, mod.out_features)))
        return hook

    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Conv2d):
            hooks.append(mod.register_forward_hook(conv_hook(name)))
        elif isinstance(mod, torch.nn.Linear):
            hooks.append(mod.register_forward_hook(fc_hook(name)))
    try:
        with torch.no_grad():
            model(x)
    finally:
        for h in hooks:
            h.remove()
    return layers


def layer_kind(fields):
    """'conv 3x3', 'conv 1x1', 'depthwise 3x3', 'fc' of peer shape fields."""
    if fields.startswith("fc "):
        return "fc"
    kv = dict(f.split("=") for f in fields.split()[1:])
    k = "%sx%s" % (kv["kh"], kv["kw"])
    return ("depthwise " if "groups" in kv else "conv ") + k


def write_shapes(net, layers, path):
    """Writes the distinct shapes with their counts; returns
    {peer name: (fields, count)}."""
    distinct = collections.OrderedDict()
    for name, fields in layers:
        if fields not in distinct:
            distinct[fields] = [name, 0]
        distinct[fields][1] += 1
    shapes = collections.OrderedDict()
    with open(path, "w") as f:
        f.write("# %s: conv/fc layers of one forward pass, one line per distinct shape\n" % net)
        f.write("# (written by bench/networks.py; format: qat-bench-onednn-peer --help)\n")
        for fields, (name, count) in distinct.items():
            peer_name = "%s/%s" % (net, name or "model")
            shapes[peer_name] = (fields, count)
            f.write("%s %s%s\n" % (peer_name, fields, " count=%d" % count if count > 1 else ""))
    return shapes


def shape_multiset(lines):
    """Counter of 'fields' -> occurrences of shape-file lines."""
    c = collections.Counter()
    for line in lines:
        words = line.split("#")[0].split()
        if not words:
            continue
        count = 1
        if words[-1].startswith("count="):
            count = int(words[-1][6:])
            words = words[:-1]
        c[" ".join(words[1:])] += count
    return c


def compare_with_builtin(net, shapes, peer):
    """Whether the extracted shapes equal the peer's built-in list for net."""
    prefix = BUILTIN_PREFIX.get(net)
    if peer is None:
        return "not compared with the built-in list (--no-onednn)"
    if not prefix:
        return "no built-in list"
    out = run([peer, "--print-shapes", "--filter", prefix]).stdout.splitlines()
    builtin = shape_multiset(out)
    ours = collections.Counter()
    for fields, count in shapes.values():
        ours[fields] += count
    if builtin == ours:
        return "equal to the built-in list (%s*)" % prefix
    diff = ["%s: model %d, built-in %d" % (k, ours[k], builtin[k])
            for k in sorted(set(ours) | set(builtin)) if ours[k] != builtin[k]]
    return "DIFFERS from the built-in list (%s*): %s" % (prefix, "; ".join(diff))


def time_onednn(peer, shapes_path, shapes, cpus, layer_seconds):
    """{peer name: (median s, min s)} and the peer's '#' header line."""
    proc = run(pinned(cpus, [peer, "--shapes", shapes_path, "--min-seconds", layer_seconds]),
               env=dict(os.environ, OMP_NUM_THREADS="1"))
    times = {}
    for line in proc.stdout.splitlines():
        parts = line.split(",")
        if len(parts) >= 4 and parts[0] in shapes:
            times[parts[0]] = (float(parts[2]), float(parts[3]))
    missing = set(shapes) - set(times)
    if missing:
        raise RuntimeError("qat-bench-onednn-peer printed no time for %s" % sorted(missing))
    header = next((ln[2:] for ln in proc.stderr.splitlines() if ln.startswith("# oneDNN")), "?")
    return times, header


# ---------------------------------------------------------------------------
# Ours


def output_scale(int8_text):
    """The scale of the qat.dequantize that produces the returned value of
    the int8 model (one output LSB), or None if it is not a scalar constant."""
    m = re.search(r"^\s*return\s+(%[\w.]+)", int8_text, re.M)
    if not m:
        return None
    d = re.search(r"^\s*%s = qat\.dequantize\s+%%[\w.]+,\s*(%%[\w.]+)" % re.escape(m.group(1)),
                  int8_text, re.M)
    if not d:
        return None
    c = re.search(r"^\s*%s = arith\.constant dense<([-+0-9.eE]+)> : tensor<f32>"
                  % re.escape(d.group(1)), int8_text, re.M)
    return float(c.group(1)) if c else None


def build_ours(int8_text, workdir, in_elems, out_elems, cc, mlir_lib_dir, extra_compile=()):
    """Compiles the int8 module with qat-compile and links the harness;
    returns the program's path."""
    mlir_path = os.path.join(workdir, "int8.mlir")
    with open(mlir_path, "w") as f:
        f.write(int8_text)
    obj, header = os.path.join(workdir, "model.o"), os.path.join(workdir, "model.h")
    run([qat_mlir.tool_path("qat-compile"), mlir_path, "--entry", "main", "-o", obj,
         "--header", header] + list(extra_compile))
    src = os.path.join(workdir, "harness.c")
    with open(src, "w") as f:
        f.write(HARNESS_C)
    prog = os.path.join(workdir, "harness")
    # The header says what to link: "-lomp" when the code calls OpenMP.
    with open(header) as f:
        libs = ["-lomp"] if "-lomp" in f.read(600) else []
    run([cc, "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200112L", "-DIN_ELEMS=%d" % in_elems,
         "-DOUT_ELEMS=%d" % out_elems, "-DQAT_CALL=qat_main", "-I", workdir, src, obj,
         "-o", prog, "-L", mlir_lib_dir, "-Wl,-rpath," + mlir_lib_dir]
        + libs + ["-lmlir_c_runner_utils", "-lm"])
    return prog


def run_ours(prog, images, workdir, cpus, min_seconds, out_shape, env=None):
    """(outputs of each image, median s, min s) of the harness."""
    inp, outp = os.path.join(workdir, "in.bin"), os.path.join(workdir, "out.bin")
    np.ascontiguousarray(images, np.float32).tofile(inp)
    proc = run(pinned(cpus, [prog, inp, len(images), outp, min_seconds, 10]),
               env=dict(os.environ, **(env or {})))
    outs = np.fromfile(outp, np.float32).reshape((len(images),) + tuple(out_shape[1:]))
    if min_seconds <= 0:
        return outs, None, None
    m = re.search(r"median (\S+) min (\S+)", proc.stdout)
    return outs, float(m.group(1)), float(m.group(2))


def lsb_report(int8_out, fq_out, scale):
    """(text, worst difference in LSB) of int8 vs fake-quant outputs."""
    a, b = np.asarray(int8_out, np.float64), np.asarray(fq_out, np.float64)
    if scale is None:  # the smallest step between distinct output values
        vals = np.unique(np.concatenate([a.ravel(), b.ravel()]))
        steps = np.diff(vals)
        scale = float(steps[steps > 0].min()) if steps.size and (steps > 0).any() else 1.0
    lsb = np.abs(a - b) / scale
    k = np.rint(lsb)
    if np.abs(lsb - k).max() > 1e-3:
        return "int8 vs fake-quant: differences are not whole output steps (max %.3g LSB)" % \
            lsb.max(), float(lsb.max())
    n = k.size
    same, one = int((k == 0).sum()), int((k == 1).sum())
    return ("int8 vs fake-quant: %d logits: %d identical, %d 1 LSB apart, %d more (max %d LSB; "
            "LSB %.4g)" % (n, same, one, n - same - one, int(k.max()), scale)), float(k.max())


# ---------------------------------------------------------------------------
# Breakdown of ours: the int8 function cut into units, each timed alone

KERNEL_OP = "qat.integer_kernel"
CONST_OPS = ('"tosa.const"', "arith.constant", "tosa.const_shape")
_KIND = re.compile(r"qat\.integer_kernel <(\w+)>")
_DEF = re.compile(r"^\s*(%[\w.]+) = (\"?[\w.]+\"?)")
_VALUE = re.compile(r"%[\w.]+")
_HEX = re.compile(r'dense<"0x[0-9A-Fa-f]*">')
_TYPE = re.compile(r"tensor<([0-9x]*)x?(i8|i32|f32)>")


def _result_type(line):
    """The type after '->' (or after ' : ' for ops that print only it)."""
    return (line.rsplit("->", 1)[1] if "->" in line else line.rsplit(" : ", 1)[1]).strip()


def cut_units(int8_text):
    """The ops of @main as units, one op each (a qat.integer_kernel is a
    whole layer: convolution, bias, requantization, residual). Returns the
    module header line and a list of (kind, [lines], {arg: type}, result,
    type)."""
    # Without locations (their aliases are defined after the module).
    int8_text = qat_mlir._native.parse(int8_text).to_text()
    lines = int8_text.splitlines()
    header = next((ln for ln in lines if ln.startswith("module")), "module {")
    start = next(i for i, ln in enumerate(lines) if "func.func @main(" in ln)
    defs, order, consts = {}, [], {}
    types = dict(re.findall(r"(%[\w.]+): (tensor<[^>]*>)", lines[start]))
    for ln in lines[start + 1:]:
        m = _DEF.match(ln)
        if not m:
            continue
        name, op = m.group(1), m.group(2)
        types[name] = _result_type(ln)
        if op in CONST_OPS:
            consts[name] = ln
            continue
        operands = _VALUE.findall(ln.split("=", 1)[1].split(" : ", 1)[0])
        defs[name] = (op, ln, operands)
        order.append(name)

    units = []
    for name in order:
        members = [name]
        body, args = [], collections.OrderedDict()
        needed_consts = collections.OrderedDict()
        for mname in members:
            for o in defs[mname][2]:
                if o in consts:
                    needed_consts[o] = consts[o]
                elif o not in members:
                    args[o] = types[o]
            body.append(defs[mname][1])
        res = members[-1]
        units.append((unit_kind([defs[n] for n in members], consts), list(needed_consts.values())
                      + body, args, res, types[res]))
    return header, units


def unit_kind(ops, consts):
    """'conv 3x3', 'depthwise 3x3', 'avg pool', 'fc' or the op name."""
    op, line, operands = ops[0]
    if op != KERNEL_OP:
        return op.strip('"')
    kind = _KIND.search(line).group(1)
    if kind == "matmul":
        return "fc"
    # Weights: the second type of the functional type.
    wtype = _TYPE.findall(line.rsplit(" : ", 1)[1])[1][0].split("x")
    if kind == "conv2d":
        return "conv %sx%s" % (wtype[1], wtype[2])
    if "dense<1> :" in consts.get(operands[1], ""):
        return "avg pool"  # integer average pooling: unit weights
    return "depthwise %sx%s" % (wtype[0], wtype[1])


def unit_module(header, index, unit):
    kind, body, args, res, rtype = unit
    sig = ", ".join("%s: %s" % (a, t) for a, t in args.items())
    return "%s\n  func.func @u%d(%s) -> %s {\n%s\n    return %s : %s\n  }\n}\n" % (
        header, index, sig, rtype, "\n".join(body), res, rtype)


def unit_key(unit):
    """Units equal up to SSA names and weight values time the same."""
    kind, body, args, res, rtype = unit
    text = _HEX.sub("HEX", "\n".join(body))
    names = {}
    text = _VALUE.sub(lambda m: names.setdefault(m.group(0), "%%v%d" % len(names)), text)
    text = re.sub(r"dense<\[[^\]]*\]>", "DENSE", text)
    return text + "|" + ",".join(args.values())


_C_TYPE = {"i8": ("int8_t", 1), "i32": ("int32_t", 4), "f32": ("float", 4)}


def time_units(int8_text, workdir, args, threads=1):
    """{kind: [count, seconds]} of the distinct units of @main, each compiled
    with qat-compile (--num-threads `threads`) and timed alone by one
    harness; failures are listed."""
    header, units = cut_units(int8_text)
    distinct = collections.OrderedDict()
    for u in units:
        distinct.setdefault(unit_key(u), [u, 0])[1] += 1
    udir = os.path.join(workdir, "units" if threads == 1 else "units%d" % threads)
    os.makedirs(udir, exist_ok=True)
    compiled, failures = [], []
    for i, (u, count) in enumerate(distinct.values()):
        path = os.path.join(udir, "u%d.mlir" % i)
        with open(path, "w") as f:
            f.write(unit_module(header, i, u))
        try:
            run([qat_mlir.tool_path("qat-compile"), path, "--entry", "u%d" % i, "-o",
                 os.path.join(udir, "u%d.o" % i), "--header", os.path.join(udir, "u%d.h" % i),
                 "--kernels", args.kernels]
                + ([args.threads_option, str(threads)] if threads != 1 else []))
        except RuntimeError as e:
            failures.append("%s (u%d): %s" % (u[0], i, str(e).splitlines()[-1][:200]))
            continue
        compiled.append((i, u, count))
    c = ["#include <stdio.h>", "#include <stdlib.h>", "#include <time.h>"]
    c += ['#include "u%d.h"' % i for i, _, _ in compiled]
    c.append(r"""
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec; }
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y; }
static void *buf(size_t bytes, unsigned seed) { unsigned char *p = aligned_alloc(64, (bytes + 63) / 64 * 64);
  for (size_t i = 0; i < bytes; ++i) p[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
  return p; }
static double t[1 << 16];
#define TIME(NAME, CALL) do { double s0 = now(); long n = 0; for (int w = 0; w < 3; ++w) CALL; \
  s0 = now(); while ((n < 10 || now() - s0 < MIN_SECONDS) && n < (1 << 16)) { double a = now(); CALL; t[n++] = now() - a; } \
  qsort(t, n, sizeof(double), cmp); printf("%s %.9g %.9g\n", NAME, n % 2 ? t[n / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]), t[0]); \
  fflush(stdout); } while (0)
int main(void) {""")
    for i, u, _ in compiled:
        kind, body, uargs, res, rtype = u
        bufs = []
        for j, ty in enumerate(list(uargs.values()) + [rtype]):
            dims, et = _TYPE.match(ty).groups()
            n = int(np.prod([int(d) for d in dims.split("x") if d])) if dims else 1
            ctype, size = _C_TYPE[et]
            if et == "f32":  # finite floats: small integers
                c.append("  float *u%d_%d = buf(%d, %d); for (long k = 0; k < %d; ++k) "
                         "u%d_%d[k] = (float)(((unsigned char *)u%d_%d)[4 * k] %% 7) - 3.0f;"
                         % (i, j, n * size, j + 1, n, i, j, i, j))
            else:
                c.append("  %s *u%d_%d = buf(%d, %d);" % (ctype, i, j, n * size, j + 1))
            bufs.append("u%d_%d" % (i, j))
        c.append('  TIME("u%d", qat_u%d(%s));' % (i, i, ", ".join(bufs)))
    c.append("  return 0;\n}\n")
    src = os.path.join(udir, "units.c")
    with open(src, "w") as f:
        f.write("\n".join(c))
    prog = os.path.join(udir, "units")
    run([args.cc, "-O2", "-std=c11", "-D_POSIX_C_SOURCE=200112L",
         "-DMIN_SECONDS=%g" % args.unit_seconds, "-I", udir, src]
        + [os.path.join(udir, "u%d.o" % i) for i, _, _ in compiled]
        + ["-o", prog, "-L", args.mlir_lib_dir, "-Wl,-rpath," + args.mlir_lib_dir,
           "-lmlir_c_runner_utils", "-lm"] + (["-lomp"] if threads != 1 else []))
    out = run(pinned(thread_cpus(args, threads), [prog]),
              env=dict(os.environ, OMP_NUM_THREADS=str(threads))).stdout
    times = {ln.split()[0]: float(ln.split()[1]) for ln in out.splitlines() if ln.strip()}
    kinds = collections.OrderedDict()
    for i, u, count in compiled:
        k = kinds.setdefault(u[0], [0, 0.0])
        k[0] += count
        k[1] += count * times["u%d" % i]
    return kinds, len(units), len(distinct), failures


# ---------------------------------------------------------------------------
# PyTorch


def pytorch_int8(model, shape, batches, threads=1):
    """{"fx": GraphModule, "torchscript": its TorchScript or None}, built
    with `threads` threads. PyTorch 1.13's onednn int8 ops keep state made
    for the thread count of their first calls: MobileNetV2 built and run
    with one thread fails with two ("could not create a primitive descriptor
    for a reorder primitive"), so each thread count gets its own models."""
    import torch
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx
    torch.backends.quantized.engine = "onednn"
    torch.set_num_threads(threads)
    example = torch.from_numpy(batches[0])
    prepared = prepare_fx(copy.deepcopy(model).eval(), get_default_qconfig_mapping("onednn"),
                          example_inputs=(example,))
    with torch.no_grad():
        for b in batches:
            prepared(torch.from_numpy(b))
    fx = convert_fx(prepared)
    # TorchScript (traced and frozen) of the same quantized graph: often
    # faster than the GraphModule, so the faster of the two is the peer.
    with torch.inference_mode():
        scripted = torch.jit.freeze(torch.jit.trace(fx, example))
        same = torch.equal(scripted(example), fx(example))
    return {"fx": fx, "torchscript": scripted if same else None}


def time_pytorch(qmodel, image, cpus, threads, min_seconds):
    """(median s, min s) of qmodel(image), this process pinned to cpus."""
    import torch
    old = os.sched_getaffinity(0)
    os.sched_setaffinity(0, parse_cpus(cpus))
    torch.set_num_threads(threads)
    try:
        x = torch.from_numpy(image)
        with torch.inference_mode():
            start = time.perf_counter()
            i = 0
            while i < 3 or time.perf_counter() - start < 0.1 * min_seconds:
                qmodel(x)
                i += 1
            times = []
            start = time.perf_counter()
            while len(times) < 10 or time.perf_counter() - start < min_seconds:
                t0 = time.perf_counter()
                qmodel(x)
                times.append(time.perf_counter() - t0)
    finally:
        os.sched_setaffinity(0, old)
    return statistics.median(times), min(times)


def thread_cpus(args, n):
    """The CPU list the N-thread runs are pinned to."""
    return args.thread_cpus or ("0-%d" % (n - 1) if n > 1 else args.cpus)


def parse_cpus(text):
    cpus = set()
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        cpus.update(range(int(lo), int(hi or lo) + 1))
    return cpus


# ---------------------------------------------------------------------------
# Threads


def qat_threads_option():
    """The qat-compile option that sets the number of threads, if any: an
    option named threads/num-threads with a description (LLVM itself
    registers an undocumented --threads, which is not ours). The object it
    writes is then linked with what its header names (-lomp)."""
    try:
        text = run([qat_mlir.tool_path("qat-compile"), "--help"]).stdout
    except Exception:  # noqa: BLE001
        return None
    for line in text.splitlines():
        m = re.match(r"\s*--(threads|num-threads)(=<\w+>)?\s+-\s+(\S.*)", line)
        if m:
            return "--" + m.group(1)
    return None


# ---------------------------------------------------------------------------


def tool_defaults():
    """C compiler and MLIR library directory of the build (CMakeCache)."""
    cc, libdir = shutil.which("cc") or "cc", "/usr/lib/llvm-22/lib"
    cache = os.path.join(ROOT, "build", "CMakeCache.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            for line in f:
                if line.startswith("CMAKE_C_COMPILER:"):
                    cc = line.split("=", 1)[1].strip() or cc
                elif line.startswith("MLIR_DIR:"):
                    libdir = os.path.normpath(os.path.join(line.split("=", 1)[1].strip(), "..",
                                                           ".."))
    return cc, libdir


def bench_network(net, args, peer, workroot):
    import torch
    log("== %s" % net)
    res = {"net": net}
    model, shape = build_model(net, args.seed, estimate_bn=not args.shapes_only)
    rng = np.random.default_rng(args.seed + 2)
    batches = [rng.standard_normal(shape, dtype=np.float32) for _ in range(args.calib_batches)]
    images = rng.standard_normal((args.check_images,) + shape[1:], dtype=np.float32)
    x = torch.from_numpy(images[:1])
    workdir = os.path.join(workroot, net)
    os.makedirs(workdir, exist_ok=True)

    # Shapes for the oneDNN peer.
    shapes_path = os.path.join(workdir, "shapes.txt")
    shapes = write_shapes(net, extract_layers(model, x), shapes_path)
    res["layers"] = sum(c for _, c in shapes.values())
    res["builtin"] = compare_with_builtin(net, shapes, peer)
    log("%s: %d conv/fc layers, %d distinct shapes, %s" % (net, res["layers"], len(shapes),
                                                           res["builtin"]))
    if args.shapes_only:
        with open(shapes_path) as f:
            sys.stdout.write(f.read())
        print("%s: %d conv/fc layers, %d distinct shapes, %s" % (net, res["layers"], len(shapes),
                                                                 res["builtin"]))
        return res

    # Ours: export, prepare, calibrate, freeze, convert, compile.
    t0 = time.perf_counter()
    text = qat_mlir.export(model, x)
    prepared = qat_mlir.prepare(text, "x86")
    calibrated = qat_mlir.calibrate(prepared, "main", batches, progress=False)
    frozen = qat_mlir.freeze(calibrated)
    int8 = qat_mlir.convert(frozen)
    del text, prepared, calibrated
    t1 = time.perf_counter()
    with torch.no_grad():
        float_out = model(torch.from_numpy(images)).numpy()
    out_shape = (1,) + float_out.shape[1:]
    prog = build_ours(int8, workdir, int(np.prod(shape)), int(np.prod(out_shape)), args.cc,
                      args.mlir_lib_dir, ["--kernels", args.kernels])
    t2 = time.perf_counter()
    log("%s: int8 model in %.0f s (export .. convert), compiled in %.0f s" % (net, t1 - t0, t2 - t1))

    # Check: the timed object against the fake-quant model.
    ours_out, _, _ = run_ours(prog, images, workdir, args.cpus, 0, out_shape)
    sim_out = qat_mlir.compile(qat_mlir.convert(frozen, simulate=True))(images, split=True)
    res["sim_mismatches"] = int((sim_out != ours_out).sum())
    res["sim"] = ("int8 vs its float simulation (convert simulate=true): %d of %d logits differ"
                  % (res["sim_mismatches"], sim_out.size))
    fq_out = qat_mlir.compile(frozen)(images, split=True)
    res["check"], res["worst_lsb"] = lsb_report(ours_out, fq_out, output_scale(int8))
    # Builds with more threads: same outputs, timed on as many CPUs.
    thread_progs = collections.OrderedDict()
    res["thread_check"] = []
    for n in args.thread_counts:
        tdir = os.path.join(workdir, "threads%d" % n)
        os.makedirs(tdir, exist_ok=True)
        tprog = build_ours(int8, tdir, int(np.prod(shape)), int(np.prod(out_shape)), args.cc,
                           args.mlir_lib_dir, ["--kernels", args.kernels, args.threads_option,
                                               str(n)])
        tout, _, _ = run_ours(tprog, images, tdir, thread_cpus(args, n), 0, out_shape,
                              env={"OMP_NUM_THREADS": str(n)})
        bad = int((tout != ours_out).sum())
        res["thread_check"].append("%d threads: %d of %d logits differ from one thread's"
                                   % (n, bad, tout.size))
        if bad:
            res["sim_mismatches"] += bad  # a wrong result fails the run
        thread_progs[n] = (tprog, tdir)
    # The AMX build: same outputs, timed in the same rounds.
    amx_prog = None
    if args.amx_kernels:
        adir = os.path.join(workdir, "amx")
        os.makedirs(adir, exist_ok=True)
        amx_prog = build_ours(int8, adir, int(np.prod(shape)), int(np.prod(out_shape)), args.cc,
                              args.mlir_lib_dir, ["--kernels", args.amx_kernels])
        aout, _, _ = run_ours(amx_prog, images, adir, args.cpus, 0, out_shape)
        bad = int((aout != ours_out).sum())
        res["amx_check"] = ("AMX rows (qat-compile --kernels %s): %d of %d logits differ from "
                            "the main build's (--kernels %s)" % (args.amx_kernels, bad, aout.size,
                                                                 args.kernels))
        if bad:
            res["sim_mismatches"] += bad  # a wrong result fails the run

    res["units"] = None
    res["thread_units"] = collections.OrderedDict()
    if args.breakdown:
        res["units"] = time_units(int8, workdir, args)
        for n in args.thread_counts:
            res["thread_units"][n] = time_units(int8, workdir, args, threads=n)
    del frozen, int8

    # PyTorch int8 on the same module and calibration batches.
    scale = max(float(np.abs(float_out).max()), 1e-30)
    res["vs_float"] = "vs float (max |diff| / max |float|): ours %.3f" % (
        float(np.abs(ours_out - float_out).max()) / scale)
    qmodels = {}
    if not args.no_pytorch:
        qmodels = pytorch_int8(model, shape, batches)
        with torch.no_grad():
            pt_out = qmodels["fx"](torch.from_numpy(images)).numpy()
        res["vs_float"] += ", PyTorch int8 %.3f" % (float(np.abs(pt_out - float_out).max()) / scale)
        if qmodels["torchscript"] is None:
            res["vs_float"] += " (its TorchScript differs from it: not timed)"
            del qmodels["torchscript"]
    # PyTorch with N threads: models of their own (see pytorch_int8).
    thread_qmodels, res["thread_errors"] = {}, []
    for n in args.thread_counts if qmodels else []:
        try:
            ms = {k: m for k, m in pytorch_int8(model, shape, batches, n).items() if m}
            for m in ms.values():
                time_pytorch(m, images[:1], thread_cpus(args, n), n, 0)
            thread_qmodels[n] = ms
        except Exception as e:  # noqa: BLE001 (a PyTorch failure, reported)
            res["thread_errors"].append("PyTorch int8 with %d threads fails: %s" % (
                n, str(e).strip().splitlines()[0][:200]))
    log("%s: %s; %s; %s" % (net, res["sim"], res["check"], res["vs_float"]))

    # Timing rounds.
    ours_t, pt_t, dnn_t, heap_t, amx_t = [], [], [], [], []
    pt_variant = collections.Counter()
    thread_t = {}
    kinds = collections.OrderedDict()
    for r in range(args.rounds):
        _, med, mn = run_ours(prog, images[:1], workdir, args.cpus, args.min_seconds, out_shape)
        ours_t.append((med, mn))
        if amx_prog:
            _, amed, amn = run_ours(amx_prog, images[:1], adir, args.cpus, args.min_seconds,
                                    out_shape)
            amx_t.append((amed, amn))
        if args.keep_heap:
            heap_t.append(run_ours(prog, images[:1], workdir, args.cpus, args.min_seconds,
                                   out_shape, env={"GLIBC_TUNABLES": MALLOC_TUNABLES})[1:])
        for n, (tprog, tdir) in thread_progs.items():
            _, tmed, tmn = run_ours(tprog, images[:1], tdir, thread_cpus(args, n),
                                    args.min_seconds, out_shape,
                                    env={"OMP_NUM_THREADS": str(n)})
            thread_t.setdefault(("ours", n), []).append((tmed, tmn))
            if n in thread_qmodels:
                best = min(time_pytorch(m, images[:1], thread_cpus(args, n), n,
                                        args.min_seconds) for m in thread_qmodels[n].values())
                thread_t.setdefault(("pytorch", n), []).append(best)
        if qmodels:
            # Per round, the faster of the GraphModule and its TorchScript.
            variants = {k: time_pytorch(m, images[:1], args.cpus, 1, args.min_seconds)
                        for k, m in qmodels.items()}
            best = min(variants, key=lambda k: variants[k][0])
            pt_t.append(variants[best])
            pt_variant[best] += 1
        if not args.no_onednn:
            times, header = time_onednn(peer, shapes_path, shapes, args.cpus, args.layer_seconds)
            res["onednn"] = header
            total = total_min = 0.0
            round_kinds = collections.OrderedDict()
            for name, (fields, count) in shapes.items():
                total += count * times[name][0]
                total_min += count * times[name][1]
                k = layer_kind(fields)
                round_kinds[k] = round_kinds.get(k, 0.0) + count * times[name][0]
            dnn_t.append((total, total_min))
            for k, v in round_kinds.items():
                kinds.setdefault(k, []).append(v)
        log("%s: round %d: ours %.3f ms%s%s%s" % (
            net, r + 1, med * 1e3, ", AMX %.3f ms" % (amx_t[-1][0] * 1e3) if amx_t else "",
            ", PyTorch %.3f ms" % (pt_t[-1][0] * 1e3) if pt_t else "",
            ", oneDNN sum %.3f ms" % (dnn_t[-1][0] * 1e3) if dnn_t else ""))

    def summary(ts):
        if not ts:
            return None, None
        return statistics.median(t[0] for t in ts), min(t[1] for t in ts)

    res["ours"], res["ours_min"] = summary(ours_t)
    res["pytorch"], res["pytorch_min"] = summary(pt_t)
    res["pytorch_variant"] = ", ".join("%s %d" % kv for kv in sorted(pt_variant.items()))
    res["dnn"], res["dnn_min"] = summary(dnn_t)
    res["heap"], res["heap_min"] = summary(heap_t)
    res["amx"], res["amx_min"] = summary(amx_t)
    res["threads"] = {k: summary(v) for k, v in thread_t.items()}
    res["kinds"] = collections.OrderedDict((k, statistics.median(v)) for k, v in kinds.items())
    res["counts"] = collections.Counter()
    for fields, count in shapes.values():
        res["counts"][layer_kind(fields)] += count
    return res


def print_breakdown(r):
    kinds, n_units, n_distinct, failures = r["units"]
    total = sum(v[1] for v in kinds.values())
    print("%s: breakdown of ours: @main cut into %d units (a conv/fc with its requantization, or "
          "one other op), %d distinct, each compiled and timed alone; sum %s ms vs whole network "
          "%s ms" % (r["net"], n_units, n_distinct, fmt_ms(total), fmt_ms(r["ours"])))
    print("  %-22s %6s %10s %10s %12s" % ("kind", "count", "ours ms", "oneDNN ms", "ours/oneDNN"))
    for k, (count, sec) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
        dnn = r["kinds"].get(k)
        print("  %-22s %6d %10s %10s %12s" % (k, count, fmt_ms(sec), fmt_ms(dnn),
                                              fmt_ratio(sec, dnn)))
    for k, dnn in r["kinds"].items():
        if k not in kinds:
            print("  %-22s %6d %10s %10s %12s" % (k, r["counts"][k], "-", fmt_ms(dnn), "-"))
    for f in failures:
        print("  not timed: %s" % f)
    for n, (tkinds, _, _, tfailures) in r["thread_units"].items():
        ttotal = sum(v[1] for v in tkinds.values())
        print("%s: breakdown with %d threads: sum %s ms (%s ms with one; %.2fx)"
              % (r["net"], n, fmt_ms(ttotal), fmt_ms(total), total / ttotal if ttotal else 0))
        print("  %-22s %6s %10s %10s %8s" % ("kind", "count", "1 thr ms", "%d thr ms" % n,
                                            "speedup"))
        for k, (count, sec) in sorted(kinds.items(), key=lambda kv: -kv[1][1]):
            tsec = tkinds.get(k, [0, None])[1]
            print("  %-22s %6d %10s %10s %8s" % (k, count, fmt_ms(sec), fmt_ms(tsec),
                                                fmt_ratio(sec, tsec)))
        for f in tfailures:
            print("  not timed with %d threads: %s" % (n, f))


def fmt_ms(s):
    if s is None:
        return "-"
    return "%.2f" % (s * 1e3) if s >= 1e-3 else "%.4f" % (s * 1e3)


def fmt_ratio(a, b):
    return "%.2f" % (a / b) if a is not None and b else "-"


def main():
    cc, libdir = tool_defaults()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--networks", default=",".join(NETWORKS),
                    help="comma-separated: %s, toy (default: the three)" % ", ".join(NETWORKS))
    ap.add_argument("--quick", action="store_true",
                    help="the toy CNN on 1x3x32x32, short timings (a smoke test)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (3)")
    ap.add_argument("--min-seconds", type=float, default=1.0,
                    help="timed seconds per network and round, ours and PyTorch (1.0)")
    ap.add_argument("--layer-seconds", type=float, default=0.2,
                    help="timed seconds per distinct oneDNN layer and round (0.2)")
    ap.add_argument("--calib-batches", type=int, default=4, help="calibration images (4)")
    ap.add_argument("--check-images", type=int, default=4,
                    help="images for the int8 vs fake-quant check (4)")
    ap.add_argument("--max-lsb", type=float, default=None,
                    help="also fail when int8 and fake-quant logits differ by more than "
                         "this many output LSB (default: report only)")
    ap.add_argument("--cpus", default="0", help="taskset CPU list for everything timed (0)")
    ap.add_argument("--threads", default="1",
                    help="comma-separated thread counts, e.g. 1,2: ours is also compiled with "
                         "qat-compile --num-threads N (outputs checked against one thread's) "
                         "and timed, like PyTorch, on N CPUs (--thread-cpus); prints "
                         "'threads: not supported' when qat-compile has no such option")
    ap.add_argument("--breakdown", action="store_true",
                    help="also time each distinct op of our int8 model alone (a conv/fc with "
                         "its requantization, pools, adds, quantize, ...) and print the times "
                         "by kind next to oneDNN's (about a minute per network); with --threads, "
                         "also with each thread count, and the speedup by kind")
    ap.add_argument("--unit-seconds", type=float, default=0.1,
                    help="timed seconds per distinct op with --breakdown (0.1)")
    ap.add_argument("--shapes-only", action="store_true",
                    help="print each network's conv/fc shape file (the peer's --shapes input) "
                         "and whether it equals qat-bench-onednn-peer's built-in list; exit "
                         "code 1 if not; nothing is timed")
    ap.add_argument("--keep-heap", action="store_true",
                    help="in each round, also time ours with GLIBC_TUNABLES=%s (freed "
                         "memory stays mapped; a diagnostic from before the static arena, "
                         "the table shows the default)"
                    % MALLOC_TUNABLES)
    ap.add_argument("--kernels", default="auto",
                    help="qat-compile --kernels of the main rows: auto (default; vnni when "
                         "AMX has rows of its own), vnni, portable, amx, none")
    ap.add_argument("--amx-rows", choices=("auto", "emulated", "off"), default="auto",
                    help="auto (default): AMX rows (qat-compile --kernels amx) where the CPU "
                         "and OS allow AMX, else a line saying why not; emulated: the rows "
                         "with --kernels amx-emulated on any CPU (outputs checked; the times "
                         "are the emulation's); off: none")
    ap.add_argument("--thread-cpus", default=None,
                    help="taskset CPU list for N threads (default: CPUs 0..N-1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-pytorch", action="store_true")
    ap.add_argument("--no-onednn", action="store_true")
    ap.add_argument("--cc", default=cc, help="C compiler for the harness (%(default)s)")
    ap.add_argument("--mlir-lib-dir", default=libdir,
                    help="directory of libmlir_c_runner_utils (%(default)s)")
    ap.add_argument("--keep", metavar="DIR", help="keep the work files (MLIR, objects) in DIR")
    args = ap.parse_args()
    if args.quick:
        args.networks = "toy" if args.networks == ",".join(NETWORKS) else args.networks
        args.rounds, args.min_seconds, args.layer_seconds = 1, 0.05, 0.01
        args.calib_batches, args.check_images, args.unit_seconds = 2, 2, 0.01
    try:
        counts = sorted(set(int(t) for t in args.threads.split(",")))
    except ValueError:
        ap.error("--threads takes comma-separated thread counts, e.g. 1,2")
    if not counts or counts[0] < 1:
        ap.error("--threads: counts must be at least 1")
    args.thread_counts = [n for n in counts if n > 1]
    args.amx_kernels, args.amx_skip = None, None
    if args.amx_rows == "emulated":
        args.amx_kernels = "amx-emulated"
    elif args.amx_rows == "off":
        args.amx_skip = "--amx-rows off"
    else:
        problem = amx_problem()
        if problem:
            args.amx_skip = "AMX is unavailable here (%s)" % problem
        else:
            args.amx_kernels = "amx"
    kernels_note = ""
    if args.amx_kernels == "amx" and args.kernels == "auto":
        # AMX has rows of its own; the main rows are the vector kernels.
        args.kernels, kernels_note = "vnni", " (auto: AMX has rows of its own)"
    args.threads_option = qat_threads_option() if args.thread_counts else None
    args.threads_unsupported = bool(args.thread_counts) and args.threads_option is None
    if args.threads_unsupported:
        args.thread_counts = []
    nets = [n.strip() for n in args.networks.split(",") if n.strip()]
    for n in nets:
        if n not in NETWORKS + ("toy",):
            ap.error("unknown network '%s' (%s, toy)" % (n, ", ".join(NETWORKS)))
    peer = qat_mlir.tool_path("qat-bench-onednn-peer") if not args.no_onednn else None

    import torch
    torch.set_num_threads(1)
    workroot = args.keep or tempfile.mkdtemp(prefix="qat_networks_")
    os.makedirs(workroot, exist_ok=True)
    results, failed = [], False
    load_start = os.getloadavg()[0]
    try:
        for net in nets:
            try:
                res = bench_network(net, args, peer, workroot)
            except Exception as e:  # noqa: BLE001 (report and go on)
                where = traceback.extract_tb(e.__traceback__)[-1]
                log("%s: FAILED: %s: %s (%s:%d, in %s)" % (
                    net, type(e).__name__, e, os.path.basename(where.filename), where.lineno,
                    where.name))
                failed = True
                continue
            if args.shapes_only:
                failed |= res["builtin"].startswith("DIFFERS")
                continue
            if res["sim_mismatches"] or (args.max_lsb is not None
                                         and res["worst_lsb"] > args.max_lsb):
                failed = True
            results.append(res)
    finally:
        if not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)

    if args.shapes_only:
        return 1 if failed else 0
    print("# qat-mlir whole networks, batch 1, int8, one thread on CPU %s; median over %d "
          "round(s) (min in brackets); kernels=%s%s%s" % (
              args.cpus, args.rounds, args.kernels, kernels_note,
              "" if not args.keep_heap else
              "; also ours with GLIBC_TUNABLES=" + MALLOC_TUNABLES))
    print("# load average (1 min) %.2f at start, %.2f at end, %d CPUs" % (
        load_start, os.getloadavg()[0], os.cpu_count()))
    if results and results[0].get("onednn"):
        print("# oneDNN peer: %s; PyTorch %s int8 (FX GraphModule or its "
              "TorchScript, the faster per round), engine onednn" % (results[0]["onednn"],
                                                                     torch.__version__))
    print("%-13s %17s %17s %17s %13s %14s" % ("network", "ours ms", "PyTorch int8 ms",
                                               "oneDNN conv+fc ms", "PyTorch/ours",
                                               "ours/oneDNN"))
    for r in results:
        def cell(key):
            v, m = r[key], r[key + "_min"]
            return "%s (%s)" % (fmt_ms(v), fmt_ms(m)) if v is not None else "-"
        print("%-13s %17s %17s %17s %13s %14s" % (
            r["net"], cell("ours"), cell("pytorch"), cell("dnn"), fmt_ratio(r["pytorch"], r["ours"]),
            fmt_ratio(r["ours"], r["dnn"])))
    if args.amx_kernels:
        print("# AMX rows: ours with qat-compile --kernels %s, timed in the same rounds%s; "
              "PyTorch int8 and oneDNN as above" % (
                  args.amx_kernels, "" if args.amx_kernels == "amx" else
                  " (emulated tiles: these times are not AMX's)"))
        print("%-13s %17s %13s %14s %14s" % ("network", "ours AMX ms", "PyTorch/AMX",
                                             "AMX/oneDNN", "AMX/ours"))
        for r in results:
            print("%-13s %17s %13s %14s %14s" % (
                r["net"], "%s (%s)" % (fmt_ms(r["amx"]), fmt_ms(r["amx_min"])),
                fmt_ratio(r["pytorch"], r["amx"]), fmt_ratio(r["amx"], r["dnn"]),
                fmt_ratio(r["amx"], r["ours"])))
    else:
        print("# AMX rows skipped: %s; the AMX kernels' speed is not measured"
              "%s" % (args.amx_skip, "" if args.amx_rows == "off" else
                      " (--amx-rows emulated checks them through the emulation)"))
    for r in results:
        print("%s: %s" % (r["net"], r["sim"]))
        if r.get("amx_check"):
            print("%s: %s" % (r["net"], r["amx_check"]))
        print("%s: %s" % (r["net"], r["check"]))
        print("%s: %s" % (r["net"], r["vs_float"]))
        if r["heap"] is not None:
            print("%s: ours with freed memory kept mapped (--keep-heap): %s ms (min %s); "
                  "PyTorch/ours %s, ours/oneDNN %s" % (
                      r["net"], fmt_ms(r["heap"]), fmt_ms(r["heap_min"]),
                      fmt_ratio(r["pytorch"], r["heap"]), fmt_ratio(r["heap"], r["dnn"])))
        if r["pytorch_variant"]:
            print("%s: PyTorch int8 fastest in rounds: %s" % (r["net"], r["pytorch_variant"]))
        print("%s: conv/fc shapes: %d layers, %s" % (r["net"], r["layers"], r["builtin"]))
        if r["kinds"]:
            print("%s: oneDNN conv+fc sum by kind: %s" % (r["net"], ", ".join(
                "%s x%d %s ms" % (k, r["counts"][k], fmt_ms(v)) for k, v in r["kinds"].items())))
    for r in results:
        if r["units"]:
            print_breakdown(r)
    if args.threads_unsupported:
        print("threads: not supported (qat-compile has no thread option)")
    for r in results:
        for line in r["thread_check"] + r["thread_errors"]:
            print("%s: threads: %s" % (r["net"], line))
        for n in args.thread_counts:
            ours1, ours_n = r["ours"], r["threads"][("ours", n)][0]
            text = "%s: threads: ours 1 thread %s ms, %d threads %s ms on CPUs %s (%sx)" % (
                r["net"], fmt_ms(ours1), n, fmt_ms(ours_n), thread_cpus(args, n),
                fmt_ratio(ours1, ours_n))
            if ("pytorch", n) in r["threads"]:
                pt1, pt_n = r["pytorch"], r["threads"][("pytorch", n)][0]
                text += "; PyTorch int8 1 thread %s ms, %d threads %s ms (%sx)" % (
                    fmt_ms(pt1), n, fmt_ms(pt_n), fmt_ratio(pt1, pt_n))
            print(text)
    return 1 if failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
