"""What the kernel tests share (integration_test/kernels): the CPU's
features, the f32 constants of a module, and running one module through
qat-run for several kernel kinds. A kind is "none", "portable", "vnni",
"amx", ... (qat-run --kernels), with "/N" for N threads ("vnni/2")."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "pytorch"))
from harness import qat_run_path  # noqa: E402


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return line.split()
    except OSError:
        pass
    return []


def has_avx512():
    """AVX-512 with VNNI (the vnni kernels, int8 and f32)."""
    flags = _cpu_flags()
    return "avx512_vnni" in flags and "avx512bw" in flags


def has_amx():
    flags = _cpu_flags()
    return "amx_tile" in flags and "amx_int8" in flags


def dense_f32(a):
    """The elements of `a` (any rank) as the body of an MLIR dense<...> f32
    attribute, each printed exactly (%.9e)."""
    a = np.asarray(a, np.float32)
    if a.ndim == 0:
        return "%.9e" % a
    return "[" + ", ".join(dense_f32(x) for x in a) + "]"


def kind_options(kind):
    """qat-run's options for a kernel kind ("vnni/2": vnni on 2 threads),
    with every loop nest parallel where the kind has threads."""
    isa, _, threads = kind.partition("/")
    return ["--kernels", isa, "--num-threads", threads or "1", "--parallel-min-macs", "0"]


def save_inputs(tmp, inputs):
    """Writes `inputs` as in<i>.npy in `tmp`; returns qat-run's --input options."""
    args = []
    for i, a in enumerate(inputs):
        p = os.path.join(tmp, "in%d.npy" % i)
        np.save(p, a)
        args += ["--input", p]
    return args


def run_kind(path, entry, input_args, kind, num_outputs, tmp, timeout=300):
    """@entry of the module at `path` with kernel kind `kind` on the inputs
    `input_args` (save_inputs): its results."""
    outs = [os.path.join(tmp, "%s-out%d.npy" % (kind.replace("/", "-t"), i))
            for i in range(num_outputs)]
    cmd = [qat_run_path(), path, "--entry", entry, *kind_options(kind), *input_args]
    for o in outs:
        cmd += ["--output", o]
    subprocess.run(cmd, check=True, timeout=timeout)
    return [np.load(o) for o in outs]


def run_kinds(path, input_args, kinds, tmp):
    """The one result of @f at `path` for kernels=none and each of `kinds`."""
    return {kind: run_kind(path, "f", input_args, kind, 1, tmp)[0] for kind in ["none"] + kinds}
