"""qat_mlir.compile and the tool wrappers on small hand-written MLIR: results,
several results, split batches, input checks, tool errors as CompileError
with the tool's diagnostics, and how tools are located."""
import os

import numpy as np
import pytest

import qat_mlir
from qat_mlir import CompileError

TWO = """
func.func @two(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>)
    -> (tensor<2x3xf32>, tensor<2x3xf32>) {
  %s = tosa.add %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  %d = tosa.sub %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  return %s, %d : tensor<2x3xf32>, tensor<2x3xf32>
}
func.func @relu(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {
  %r = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>
  return %r : tensor<2x3xf32>
}
"""


def test_two_results():
    f = qat_mlir.compile(TWO, entry="two")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    s, d = f(a, b)
    assert np.array_equal(s, a + b) and np.array_equal(d, a - b)
    assert f.arg_types == [((2, 3), np.float32)] * 2


def test_split_batches_and_float64_input():
    f = qat_mlir.compile(TWO, entry="relu")
    x = np.linspace(-3, 3, 4 * 2 * 3).reshape(8, 3)  # float64: cast to f32
    y = f(x, split=True)
    assert y.shape == (8, 3) and np.array_equal(y, np.maximum(x, 0).astype(np.float32))


def test_input_checks():
    f = qat_mlir.compile(TWO, entry="relu")
    with pytest.raises(ValueError, match="shape"):
        f(np.zeros((2, 4), np.float32))
    assert f(np.ones((3, 3), np.float32)).shape == (3, 3)   # another batch size: rebatched
    with pytest.raises(ValueError, match="shape"):
        qat_mlir.compile(TWO, entry="relu", rebatch=False)(np.zeros((3, 3), np.float32))
    with pytest.raises(ValueError, match="takes 1 argument"):
        f(np.zeros((2, 3), np.float32), np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="int64"):
        f(np.zeros((2, 3), np.int64))


def test_parse_error_is_compile_error():
    bad = TWO.replace("tosa.sub %a, %b", "tosa.sub %a, %nope")
    with pytest.raises(CompileError) as info:
        qat_mlir.compile(bad, entry="two")
    e = info.value
    assert e.tool == "parse"
    assert "use of undeclared SSA value name" in str(e) and "%nope" in e.diagnostics
    assert '"model.mlir":5:' in e.diagnostics  # the location of the bad operand


def test_lowering_error_is_compile_error():
    # Verifies, but cannot be compiled: results need static shapes.
    text = TWO.replace("tensor<2x3xf32>", "tensor<?x3xf32>")
    with pytest.raises(CompileError) as info:
        qat_mlir.compile(text, entry="relu")
    assert info.value.tool == "compile" and "static" in str(info.value)


def test_missing_entry():
    with pytest.raises(CompileError, match=r"no function @nothere in the module \(it defines @two, @relu\)"):
        qat_mlir.compile(TWO, entry="nothere")


def test_target_argument():
    with pytest.raises(ValueError, match="host"):
        qat_mlir.compile(TWO, entry="relu", target="x86")
    assert qat_mlir.compile(TWO, entry="relu", target="host") is not None


def test_tool_location(monkeypatch, tmp_path):
    found = qat_mlir.tool_path("qat-run")
    assert os.access(found, os.X_OK)
    monkeypatch.setenv("QAT_BIN", os.path.dirname(found))
    assert qat_mlir.tool_path("qat-run") == os.path.join(os.path.dirname(found), "qat-run")
    monkeypatch.setenv("QAT_BIN", str(tmp_path))
    with pytest.raises(CompileError, match="QAT_BIN"):
        qat_mlir.tool_path("qat-run")
    # Neither QAT_BIN nor PATH: build/bin of the source tree.
    monkeypatch.delenv("QAT_BIN")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert qat_mlir.tool_path("qat-opt").endswith(os.path.join("build", "bin", "qat-opt"))


def test_freeze_uncalibrated_is_an_error():
    with pytest.raises(CompileError) as info:
        qat_mlir.freeze(qat_mlir.prepare(TWO.split("func.func @relu")[0], "x86"))
    assert info.value.tool == "qat-freeze-qparams"
    print(info.value)


def test_signature_from_the_module():
    # The signature comes from the compiled functions (the C API), not from
    # the text: attributes and locations in the signature do not matter.
    text = ('func.func private @helper(%a: tensor<2xf32>) -> tensor<2xf32>\n'
            'func.func @main(%arg0: tensor<4x3x16x16xf32> loc("model.mlir":3:17), '
            '%arg1: tensor<10xi8> {foo.bar = 1 : i64}) -> (tensor<4x10xf32>, tensor<i32>) {\n'
            '  %0 = "tosa.const"() <{values = dense<0.0> : tensor<4x10xf32>}> : () -> tensor<4x10xf32>\n'
            '  %1 = "tosa.const"() <{values = dense<7> : tensor<i32>}> : () -> tensor<i32>\n'
            '  return %0, %1 : tensor<4x10xf32>, tensor<i32>\n}\n')
    f = qat_mlir.compile(text)
    assert f.arg_types == [((4, 3, 16, 16), np.float32), ((10,), np.int8)]
    assert f.result_types == [((4, 10), np.float32), ((), np.int32)]
    y, s = f(np.zeros((4, 3, 16, 16), np.float32), np.zeros(10, np.int8))
    assert y.shape == (4, 10) and s.shape == () and int(s) == 7


def test_out_buffers_and_zero_copy():
    f = qat_mlir.compile(TWO, entry="two")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    s, d = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    r = f(a, b, out=(s, d))
    assert r[0] is s and r[1] is d
    assert np.array_equal(s, a + b) and np.array_equal(d, a - b)
    # Views are passed in place: a C-contiguous slice of a larger array.
    big = np.zeros((4, 2, 3), np.float32)
    f(a, b, out=(big[1], big[3]))
    assert np.array_equal(big[1], a + b) and np.array_equal(big[3], a - b) and not big[0].any()
    with pytest.raises(ValueError, match=r"out\[1\]: float64 data for a float32 result"):
        f(a, b, out=(s, np.empty((2, 3))))
    with pytest.raises(ValueError, match="has 2 result"):
        f(a, b, out=s)
    with pytest.raises(ValueError, match=r"out\[0\]: read-only"):
        ro = np.empty((2, 3), np.float32)
        ro.flags.writeable = False
        f(a, b, out=(ro, d))


def test_rejected_buffers():
    f = qat_mlir.compile(TWO, entry="relu")
    x = np.zeros((3, 2), np.float32)
    with pytest.raises(ValueError, match="not C-contiguous"):
        f(x.T)
    raw = np.zeros(2 * 3 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(2, 3)
    assert not raw.flags.aligned
    with pytest.raises(ValueError, match="not aligned"):
        f(raw)
    with pytest.raises(ValueError, match=r"shape \(2, 4\), expected \(2, 3\)"):
        f(np.zeros((2, 4), np.float32))
    with pytest.raises(TypeError, match="expected a NumPy array or a torch tensor"):
        f(np.zeros((2, 3), np.float32), out=([[0.0] * 3] * 2,))


def test_torch_tensors_in_place():
    import torch
    f = qat_mlir.compile(TWO, entry="two")
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3).requires_grad_()
    b = torch.full((2, 3), 0.5)
    s, d = f(a, b)
    assert isinstance(s, torch.Tensor) and torch.equal(s, (a + b).detach())
    out = (torch.empty(2, 3), torch.empty(2, 3))
    r = f(a, b, out=out)
    assert r is out and torch.equal(out[1], (a - b).detach())
    with pytest.raises(ValueError, match="not C-contiguous"):
        f(torch.zeros(3, 2).t(), b)
    with pytest.raises(ValueError, match="cannot be used in place"):
        f(a.to(torch.bfloat16), b)
    with pytest.raises(ValueError, match="int64 data for a float32"):
        f(torch.zeros(2, 3, dtype=torch.int64), b)


INPLACE = """
func.func @bump(%a: tensor<4xf32>) -> tensor<4xf32> {
  %i = arith.constant 1 : index
  %v = arith.constant 9.0 : f32
  %r = tensor.insert %v into %a[%i] : tensor<4xf32>
  return %r : tensor<4xf32>
}
"""


def test_inputs_are_never_written():
    x = np.zeros(4, np.float32)
    y = qat_mlir.compile(INPLACE, entry="bump")(x)
    assert y.tolist() == [0, 9, 0, 0] and not x.any()
    # The same function with its argument declared writable updates it in
    # place: the read-only default is what protects the caller's arrays.
    writable = INPLACE.replace("%a: tensor<4xf32>", "%a: tensor<4xf32> {bufferization.writable = true}")
    qat_mlir.compile(writable, entry="bump")(x)
    assert x.tolist() == [0, 9, 0, 0]


def test_several_functions_one_compilation():
    m = qat_mlir.compile(TWO, entry=["two", "relu"])
    assert m.names == ["two", "relu"]
    a = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(m.relu(a), np.maximum(a, 0))
    assert np.array_equal(m["two"](a, a)[0], a + a)


def test_concurrent_calls():
    import threading
    f = qat_mlir.compile(TWO, entry="two")
    errors = []

    def work(seed):
        rng = np.random.default_rng(seed)
        s, d = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
        for _ in range(2000):
            a, b = rng.standard_normal((2, 2, 3), dtype=np.float32)
            f(a, b, out=(s, d))
            if not (np.array_equal(s, a + b) and np.array_equal(d, a - b)):
                errors.append(seed)
                return
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors



MATMUL = """
func.func @mm(%a: tensor<384x384xf32>, %b: tensor<384x384xf32>) -> tensor<384x384xf32> {
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<384x384xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<384x384xf32>) -> tensor<384x384xf32>
  %r = linalg.matmul ins(%a, %b : tensor<384x384xf32>, tensor<384x384xf32>)
                     outs(%f : tensor<384x384xf32>) -> tensor<384x384xf32>
  return %r : tensor<384x384xf32>
}
"""


def test_gil_released_while_another_thread_lives():
    """With a second Python thread alive, a call releases the GIL around the
    compiled code: the other thread runs Python code while the call is in
    the middle of its work (a single-threaded program keeps the GIL)."""
    import threading
    import time
    f = qat_mlir.compile(MATMUL, entry="mm", opt_level=0)   # ~0.1-0.4 s per call
    a = np.ones((384, 384), np.float32)
    y = np.empty_like(a)
    ticks, stop = [], threading.Event()

    def spin():
        while not stop.is_set():
            ticks.append(time.perf_counter())
    other = threading.Thread(target=spin)
    other.start()
    try:
        t0 = time.perf_counter()
        f(a, a, out=y)
        t1 = time.perf_counter()
    finally:
        stop.set()
        other.join()
    assert np.all(y == 384.0)
    margin = 0.1 * (t1 - t0)
    assert any(t0 + margin < t < t1 - margin for t in ticks), (t1 - t0, len(ticks))

_OMP_CHILD = r"""
import sys
import numpy as np
import qat_mlir
order, text_path, x_path = sys.argv[1:]
if order == "torch-first":
    import torch
    torch.set_num_threads(2)
x, text = np.load(x_path), open(text_path).read()
one = qat_mlir.compile(text, threads=1)
two = qat_mlir.compile(text, threads=2, parallel_min_macs=0)
assert two._exe.uses_openmp
ref = one(x)
import torch
torch.set_num_threads(2)
a = torch.randn(256, 256)
mm = a @ a
for _ in range(20):
    assert torch.equal(a @ a, mm)                     # torch's OpenMP (libgomp or libomp)
    assert np.array_equal(two(x), ref)                # ours on libomp, 2 threads
libs = sorted({l.split()[-1].rsplit("/", 1)[-1] for l in open("/proc/self/maps")
               if "omp" in l.split()[-1]})
print(order, "ok", " ".join(libs))
"""


def test_openmp_runtimes_coexist(tmp_path):
    """torch links libgomp, our threaded kernels call LLVM's libomp: both in
    one process, in either order of loading, give the same results
    (docs/Python.md, "Threads")."""
    import subprocess
    import sys
    import torch
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(16, 16, 3, padding=1), torch.nn.Flatten(),
                              torch.nn.Linear(16 * 8 * 8, 10)).eval()
    x = torch.randn(2, 3, 8, 8)
    prepared = qat_mlir.prepare(qat_mlir.export(net, x), "x86")
    frozen = qat_mlir.freeze(qat_mlir.calibrate(prepared, "main", [x], progress=False))
    (tmp_path / "int8.mlir").write_text(qat_mlir.convert(frozen))
    np.save(tmp_path / "x.npy", x.numpy())
    try:
        qat_mlir.compile((tmp_path / "int8.mlir").read_text(), threads=2)
    except CompileError as e:
        pytest.skip("no libomp: %s" % e)
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(qat_mlir.__file__)))
    for order in ("torch-first", "ours-first"):
        proc = subprocess.run([sys.executable, "-c", _OMP_CHILD, order, str(tmp_path / "int8.mlir"),
                               str(tmp_path / "x.npy")], capture_output=True, text=True, env=env)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(order + " ok") and "libomp" in proc.stdout \
            and "libgomp" in proc.stdout, proc.stdout


def test_bound_call():
    import torch
    f = qat_mlir.compile(TWO, entry="two")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    s, d = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    call = f.bind(a, b, out=(s, d))
    r = call()
    assert r[0] is s and np.array_equal(s, a + b) and np.array_equal(d, a - b)
    a += 1   # the bound call reads the buffers as they are now
    call()
    assert np.array_equal(s, a + b)
    made = f.bind(torch.from_numpy(a), torch.from_numpy(b))   # results made once by bind
    first = made()
    assert isinstance(first[0], torch.Tensor) and made()[0] is first[0]
    assert np.array_equal(first[1].numpy(), a - b)
    with pytest.raises(ValueError, match="argument #0 must have the exact dtype"):
        f.bind(a.astype(np.float64), b)
    with pytest.raises(ValueError, match=r"out\[1\] must have the exact dtype"):
        f.bind(a, b, out=(s, d.T))
    with pytest.raises(TypeError, match="takes no arguments"):
        call(a)


def test_fast_path_checks_every_rule():
    """The native call takes exact buffers without building anything; every
    buffer it does not take goes to the general path, whose error names the
    buffer and the rule (dtype, shape, contiguity, alignment, writability,
    device). Buffers that pass with another dtype descriptor than NumPy's
    own one are still read in place."""
    import torch
    f = qat_mlir.compile(TWO, entry="two")
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    s, d = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)
    cases = [
        ((a, b.astype(np.int32)), None, ValueError, r"argument #1: int32 data for a float32 argument"),
        ((a, np.zeros((2, 4), np.float32)), None, ValueError, r"argument #1: shape \(2, 4\), expected \(2, 3\)"),
        ((a, np.zeros((3, 2), np.float32).T), None, ValueError, r"argument #1: not C-contiguous"),
        ((a, b), (s, np.empty((2, 4), np.float32)), ValueError, r"out\[1\]: shape \(2, 4\), expected \(2, 3\)"),
        ((a, b), (s, np.empty((3, 2), np.float32).T), ValueError, r"out\[1\]: not C-contiguous"),
        ((a, b), (np.empty((2, 3), np.int8), d), ValueError, r"out\[0\]: int8 data for a float32 result"),
        ((a, b), (s,), ValueError, r"has 2 result\(s\), got 1 out= buffer"),
        ((torch.zeros(2, 3, device="meta"), b), None, ValueError, r"argument #0: this torch tensor cannot be used in place"),
        ((a, b), (s, torch.zeros(2, 3, dtype=torch.int64)), ValueError, r"out\[1\]: int64 data for a float32 result"),
    ]
    raw = np.zeros(2 * 3 * 4 + 1, np.uint8)[1:].view(np.float32).reshape(2, 3)
    cases.append(((a, b), (raw, d), ValueError, r"out\[0\]: data not aligned"))
    ro = np.empty((2, 3), np.float32)
    ro.flags.writeable = False
    cases.append(((a, b), (s, ro), ValueError, r"out\[1\]: read-only buffer"))
    for args, out, error, message in cases:
        with pytest.raises(error, match=message):
            f(*args, out=out)
    # Accepted: a big-endian float32 input (converted, a copy), a float32
    # array whose descriptor is not NumPy's own (metadata), read in place.
    meta = np.dtype(np.float32, metadata={"unit": "m"})
    r = f(a.astype(">f4"), b.astype(meta), out=(s, d))
    assert r[0] is s and np.array_equal(s, a + b) and np.array_equal(d, a - b)
    assert f.last_time > 0
    # A float64 input goes through the general path; last_time covers it.
    s2, _ = f(a.astype(np.float64), b)
    assert np.array_equal(s2, a + b) and f.last_time > 0


def test_prefetch_way_back():
    """After its compiled code, a call prefetches what the interpreter
    touches until the next call (docs/Python.md, "Per-call overhead"): lines
    learned at a call site, replayed by later calls, learned again every
    64th call or at another call site. Hints only: results are the same
    with prefetching off, on, or over the whole interpreter loop, from every
    kind of caller (a loop, C code, a kwargs dict, a generator, another
    thread, a deep stack, a bound call)."""
    import functools
    import threading
    n = qat_mlir._native.native()
    default = n.set_prefetch(0)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.full((2, 3), 0.5, np.float32)
    try:
        for mask in (0, default, 511):
            n.set_prefetch(mask)
            f = qat_mlir.compile(TWO, entry="two")
            s, d = np.empty((2, 3), np.float32), np.empty((2, 3), np.float32)

            def check(r=None):
                assert r is None or (r[0] is s and r[1] is d)
                assert np.array_equal(s, a + b) and np.array_equal(d, a - b)
                s.fill(0)
                d.fill(0)

            for _ in range(70):
                r = f(a, b, out=(s, d))
            check(r)
            check(list(map(functools.partial(f, out=(s, d)), [a], [b]))[0])
            check(f(*[a, b], **{"out": (s, d)}))

            def gen():
                yield f(a, b, out=(s, d))
            check(next(gen()))
            t = threading.Thread(target=lambda: f(a, b, out=(s, d)))
            t.start()
            t.join()
            check()

            def deep(k):
                return f(a, b, out=(s, d)) if k == 0 else deep(k - 1)
            check(deep(300))
            bound = f.bind(a, b, out=(s, d))
            for _ in range(3):
                check(bound())
            lines, bound_lines = n.prefetch_lines(f), n.prefetch_lines(bound)
            if mask == 0:
                assert lines == 0 and bound_lines == 0
            else:
                assert lines > 20 and bound_lines > 20
            if mask == 511:   # the interpreter loop's code too
                assert lines > 200
        with pytest.raises(TypeError):
            n.prefetch_lines(object())
    finally:
        n.set_prefetch(default)
