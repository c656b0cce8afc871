"""Writes NPU programs byte by byte from docs/NPU.md section 6, with NumPy
inputs and the expected outputs computed here in Python integers.

The program: y = relu(rescale_add(x @ W + b, r)) with per-channel
multipliers for the matmul, a per-tensor multiplier for the residual, one
shift: the fixed-point arithmetic of qat.rescale_add. Written without the
C++ library, so the test checks the documented format and semantics, not
the library against itself.

usage: make_program.py OUTDIR
writes prog.qnpu, x.npy, r.npy, want.npy, x3.npy, r3.npy, want3.npy and
malformed variants: truncated.qnpu, badmagic.qnpu, race.qnpu, deadlock.qnpu,
badshift.qnpu, oob.qnpu
"""
import os
import struct
import sys

import numpy as np

BI = BO = 16
CONFIG = [16, 16, 2048, 512, 2048, 8192, 1, 32, 16, 1, 4, 1, 2]
M, K, N = 6, 20, 24
KB, NB = (K + BI - 1) // BI, (N + BO - 1) // BO
SHIFT, ZP = 31, -5

LOAD, STORE, GEMM, ALU, FINISH = range(5)
INP, WGT, ACC, UOP = range(4)
I8, I32 = range(2)
ADD, RESCALE_ADD = 1, 10
POP_PREV, POP_NEXT, PUSH_PREV, PUSH_NEXT = 1, 2, 4, 8


def mem(op, buf, dtype, sram, dram, ysize, xsize, ystride, xstride, lanes=0,
        pads=(0, 0, 0, 0), pad_value=0, deps=0, layer=0xFFFF):
    b = struct.pack("<BBHBBBBBBHIIHHIIi", op, deps, layer, buf, dtype,
                    pads[0], pads[1], pads[2], pads[3], lanes, sram, dram,
                    ysize, xsize, ystride, xstride, pad_value)
    return b + bytes(64 - len(b))


def loop(op, alu_op, flags, uops, extents, bases, factors, imms=(0, 0, 0),
         deps=0, layer=0xFFFF):
    b = struct.pack("<BBHBBHHHHH", op, deps, layer, alu_op, flags, uops[0],
                    uops[1], extents[0], extents[1], 0)
    b += struct.pack("<III", *bases)
    b += struct.pack("<6i", *[f for pair in factors for f in pair])
    b += struct.pack("<3i", *imms)
    assert len(b) == 64
    return b


def finish(deps=0):
    return struct.pack("<BBH", FINISH, deps, 0xFFFF) + bytes(60)


def container(insns, uops, data, tensors, layers, dram_size):
    strings = bytearray()

    def string(s):
        off = len(strings)
        strings.extend(s.encode() + b"\0")
        return off

    tens = b""
    for name, kind, dtype, shape, addr, scale, zp in tensors:
        dims = list(shape) + [0] * (6 - len(shape))
        tens += struct.pack("<IBBBBIfi6II", string(name), kind, dtype,
                            len(shape), 0, addr, scale, zp, *dims, 0)
    lays = b"".join(struct.pack("<IIQ", string(n), 0, macs)
                    for n, macs in layers)
    sections = [(1, len(insns), b"".join(insns)),
                (2, len(uops), b"".join(struct.pack("<III", *u) for u in uops)),
                (3, len(data), bytes(data)),
                (4, len(tensors), tens),
                (5, len(layers), lays),
                (6, len(strings), bytes(strings))]
    header = b"QNPU" + struct.pack("<IIIII", 1, 128, len(sections), dram_size,
                                    0)
    header += struct.pack("<13I", *CONFIG)
    header += bytes(128 - len(header))
    offset = 128 + 16 * len(sections)
    table, body = b"", b""
    for kind, count, blob in sections:
        table += struct.pack("<IIII", kind, count, offset + len(body),
                             len(blob))
        body += blob
    return header + table + body


def main(out):
    rng = np.random.default_rng(7)
    w = rng.integers(-128, 128, size=(K, N)).astype(np.int8)
    bias = rng.integers(-5000, 5000, size=N).astype(np.int64)
    ma = rng.integers(1 << 20, 1 << 22, size=N).astype(np.int64)
    mb = (1 << 30) + 12345

    # DRAM: weight blocks, bias rows, (Ma, n, Mb) rows per block, x, r, y.
    data = bytearray()
    for nb in range(NB):
        for kb in range(KB):
            blk = np.zeros((BO, BI), np.int8)
            for o in range(BO):
                for i in range(BI):
                    k, n = kb * BI + i, nb * BO + o
                    if k < K and n < N:
                        blk[o, i] = w[k, n]
            data += blk.tobytes()
    bias_addr = len(data)
    lanes = lambda v, nb: [int(v[nb * BO + o]) if nb * BO + o < N else 0
                           for o in range(BO)]
    for nb in range(NB):
        data += struct.pack("<16i", *lanes(bias, nb))
    for nb in range(NB):
        data += struct.pack("<16i", *[m or (1 << 30) for m in lanes(ma, nb)])
        data += struct.pack("<16i", *([SHIFT] * BO))
        data += struct.pack("<16i", *([mb] * BO))
    x_addr = len(data)
    r_addr = x_addr + M * K
    y_addr = r_addr + M * N
    dram_size = y_addr + M * N

    out_rows, res_base = M * NB, M * NB
    bias_row, param_row = 2 * M * NB, 2 * M * NB + NB
    uops = [(0, 0, 0)] + [(0, kb, kb) for kb in range(KB)]
    mn = (M, NB)
    insns = [
        mem(LOAD, INP, I8, 0, x_addr, 1, M, 0, K, lanes=K, layer=0),
        mem(LOAD, WGT, I8, 0, 0, 1, KB * NB, 0, BI * BO, deps=PUSH_NEXT,
            layer=0),
        mem(LOAD, ACC, I32, bias_row, bias_addr, 1, 4 * NB, 0, 4 * BO,
            layer=0),
        mem(LOAD, ACC, I8, res_base, r_addr, 1, M, 0, N, lanes=N, layer=1),
        loop(GEMM, 0, 1, (0, 1), (out_rows, 1), (0, 0, 0),
             [(1, 0), (0, 0), (0, 0)], layer=0),
        loop(GEMM, 0, 0, (1, 1 + KB), mn, (0, 0, 0),
             [(NB, 1), (KB, 0), (0, KB)], deps=POP_PREV, layer=0),
        loop(ALU, ADD, 0, (0, 1), mn, (0, bias_row, 0),
             [(NB, 1), (0, 1), (0, 0)], layer=0),
        loop(ALU, RESCALE_ADD, 0, (0, 1), mn, (0, res_base, param_row),
             [(NB, 1), (NB, 1), (0, 3)], imms=(ZP, ZP, 127),
             deps=PUSH_NEXT, layer=1),
        mem(STORE, ACC, I8, 0, y_addr, 1, M, 0, N, lanes=N,
            deps=POP_PREV | PUSH_PREV, layer=1),
        finish(POP_NEXT),
    ]
    tensors = [("x", 0, I8, (M, K), x_addr, 0.05, 0),
               ("r", 0, I8, (M, N), r_addr, 0.1, 0),
               ("y", 1, I8, (M, N), y_addr, 0.2, ZP)]
    layers = [("matmul 6x20x24 + bias", M * K * N), ("add + relu", 0)]

    def reference(x, r):
        acc = x.astype(object) @ w.astype(object) + bias.astype(object)
        v = acc * ma.astype(object) + r.astype(object) * mb + (1 << (SHIFT - 1))
        q = np.vectorize(lambda t: min(max((t >> SHIFT) + ZP, ZP), 127))(v)
        return q.astype(np.int8)

    def write(name, insns_, uops_=uops):
        with open(os.path.join(out, name), "wb") as f:
            f.write(container(insns_, uops_, data, tensors, layers,
                              dram_size))

    write("prog.qnpu", insns)
    x = rng.integers(-128, 128, size=(M, K)).astype(np.int8)
    r = rng.integers(-128, 128, size=(M, N)).astype(np.int8)
    np.save(os.path.join(out, "x.npy"), x)
    np.save(os.path.join(out, "r.npy"), r)
    want = reference(x, r)
    assert 0 < np.count_nonzero(want > ZP) < want.size - 10, "coarse data"
    np.save(os.path.join(out, "want.npy"), want)
    # Three batches for --split.
    x3 = rng.integers(-128, 128, size=(3 * M, K)).astype(np.int8)
    r3 = rng.integers(-128, 128, size=(3 * M, N)).astype(np.int8)
    np.save(os.path.join(out, "x3.npy"), x3)
    np.save(os.path.join(out, "r3.npy"), r3)
    np.save(os.path.join(out, "want3.npy"), np.concatenate(
        [reference(x3[b * M:(b + 1) * M], r3[b * M:(b + 1) * M])
         for b in range(3)]))

    # Malformed variants.
    blob = open(os.path.join(out, "prog.qnpu"), "rb").read()
    open(os.path.join(out, "truncated.qnpu"), "wb").write(blob[:300])
    open(os.path.join(out, "badmagic.qnpu"), "wb").write(b"QNPX" + blob[4:])
    racy = list(insns)  # the store no longer waits for the rescale
    racy[7] = racy[7][:1] + bytes([0]) + racy[7][2:]
    racy[8] = racy[8][:1] + bytes([PUSH_PREV]) + racy[8][2:]
    write("race.qnpu", racy)
    stuck = list(insns)  # the GEMM waits for a token nobody pushes
    stuck[1] = stuck[1][:1] + bytes([0]) + stuck[1][2:]
    write("deadlock.qnpu", stuck)
    bad = list(insns)  # the shift row is read from the bias row
    bad[7] = loop(ALU, RESCALE_ADD, 0, (0, 1), mn, (0, res_base, bias_row - 1),
                  [(NB, 1), (NB, 1), (0, 0)], imms=(ZP, ZP, 127),
                  deps=PUSH_NEXT, layer=1)
    write("badshift.qnpu", bad)
    oob = list(insns)  # the GEMM's INP factor walks past the buffer
    oob[5] = loop(GEMM, 0, 0, (1, 1 + KB), mn, (0, 0, 0),
                  [(NB, 1), (500, 0), (0, KB)], deps=POP_PREV, layer=0)
    write("oob.qnpu", oob)


if __name__ == "__main__":
    main(sys.argv[1])
