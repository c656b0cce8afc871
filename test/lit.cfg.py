# lit configuration of qat-mlir: FileCheck tests under test/, execution tests
# under integration_test/ (gated on features found on this machine) and the
# GoogleTest unit tests.
import os
import subprocess
import sys

import lit.formats
from lit.llvm import llvm_config

config.name = "QAT"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".py", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.qat_obj_root, "test")
config.excludes = {"lit.cfg.py", "lit.site.cfg.py", "CMakeLists.txt", "Inputs", "consumer"}
config.environment["FILECHECK_OPTS"] = "-enable-var-scope"

llvm_config.with_system_environment(["HOME", "TMPDIR"])
llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.qat_tools_dir, append_path=True)
tools = ["qat-opt", "qat-run", "FileCheck", "not", "count"]
llvm_config.add_tool_substitutions(tools, [config.qat_tools_dir, config.llvm_tools_dir])

# A sanitizer build (-DQAT_SANITIZE=..., docs/Robustness.md): every report
# stops the program; Python (not instrumented) gets the shared ASan runtime
# preloaded so that it can load the instrumented extension. Leak checking is
# off in Python and the programs it starts (the interpreter's own objects).
python = config.qat_python
if getattr(config, "qat_sanitize", ""):
    config.available_features.add("sanitizer")
    config.environment["ASAN_OPTIONS"] = "abort_on_error=0:detect_odr_violation=0"
    config.environment["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1"
    runtime = subprocess.run([config.c_compiler, "-print-file-name=libclang_rt.asan-x86_64.so"],
                             capture_output=True, text=True).stdout.strip()
    python = "env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0:detect_odr_violation=0 %s" % (
        runtime, config.qat_python)
    # C programs of the tests that link instrumented libraries
    # (libQATCAPI.so) need the sanitizer runtime too: %sanitize_flags. With
    # ASan the shared one, as the tools link (CMakeLists.txt): the library
    # brings it, and a second, static copy in the program aborts with
    # "incompatible ASan runtimes".
    sanitize_flags = "-fsanitize=%s -fno-sanitize=vptr,function" % config.qat_sanitize
    if "address" in config.qat_sanitize:
        sanitize_flags += " -shared-libasan -Wl,-rpath,%s" % os.path.dirname(runtime)
else:
    sanitize_flags = ""
config.substitutions.append(("%python", python))
config.substitutions.append(("%sanitize_flags", sanitize_flags))
config.substitutions.append(("%qat_src_root", config.qat_src_root))
config.substitutions.append(("%qat_obj_root", config.qat_obj_root))
config.substitutions.append(("%cmake", config.cmake_command))
config.substitutions.append(("%cxx", config.cxx_compiler))
config.substitutions.append(("%cc", config.c_compiler))
config.substitutions.append(("%mlir_dir", config.mlir_dir))
config.substitutions.append(("%mlir_lib_dir", config.mlir_lib_dir))
config.substitutions.append(
    ("%mlir_include_dir", os.path.join(os.path.dirname(config.mlir_lib_dir), "include")))


def python_has(module):
    try:
        return subprocess.run([config.qat_python, "-c", "import " + module],
                              capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


if python_has("numpy"):
    config.available_features.add("numpy")
if python_has("torch"):
    config.available_features.add("torch")
    if python_has("torchvision"):
        config.available_features.add("torchvision")
# Debian's dataset-fashion-mnist (scripts/setup.sh installs it).
if os.path.exists("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"):
    config.available_features.add("fashion-mnist")


def cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


flags = cpu_flags()
if "avx512_vnni" in flags:
    config.available_features.add("avx512-vnni")


def os_grants_amx_tiles():
    """Whether Linux gives this process (and so its children, which ask in
    turn) the AMX tiles' data state: arch_prctl(ARCH_REQ_XCOMP_PERM,
    XFEATURE_XTILEDATA), as qat::hostHasAMX() and AMX objects ask."""
    try:
        import ctypes
        import platform
        if platform.machine() != "x86_64" or not sys.platform.startswith("linux"):
            return False
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syscall(158, 0x1023, 18) == 0
    except Exception:  # noqa: BLE001
        return False


# amx-cpu: the CPU has AMX (and AVX-512 VNNI), which is what qat-compile's
# --mcpu host decides by; amx: the OS lets qat-mlir's AMX code run too
# (qat::hostHasAMX()).
if {"amx_int8", "amx_tile", "avx512_vnni", "avx512bw"} <= flags:
    config.available_features.add("amx-cpu")
    if os_grants_amx_tiles():
        config.available_features.add("amx")

# bench/: the oneDNN peer is built only when libdnnl-dev is installed.
if os.path.exists(os.path.join(config.qat_tools_dir, "qat-bench-onednn-peer")):
    config.available_features.add("onednn-peer")
