"""Writes NPU binaries that ask for more than the machine gives (docs/NPU.md
sections 1, 6 and 8), from the byte tables of the specification (not the
library). Usage: make_hostile.py DIR"""
import os
import struct
import sys

DEFAULT_CONFIG = dict(block_in=16, block_out=16, inp_depth=2048, wgt_depth=512,
                      acc_depth=2048, uop_depth=8192, issue_cycles=1,
                      dram_latency=32, dram_bytes_per_cycle=16,
                      gemm_cycles_per_op=1, gemm_pipeline=4,
                      alu_cycles_per_op=1, alu_rescale_cycles_per_op=2)
KEYS = list(DEFAULT_CONFIG)


def gemm(uop_begin, uop_end, extent0, extent1, reset, layer=0xFFFF):
    """GEMM (opcode 2) with zero bases and factors."""
    b = bytearray(64)
    struct.pack_into("<BBH", b, 0, 2, 0, layer)
    struct.pack_into("<BBHHHH", b, 4, 0, 1 if reset else 0, uop_begin, uop_end,
                     extent0, extent1)
    return bytes(b)


def finish():
    b = bytearray(64)
    struct.pack_into("<BBH", b, 0, 4, 0, 0xFFFF)
    return bytes(b)


def program(instructions, dram_size=64, uops=(), **config):
    cfg = dict(DEFAULT_CONFIG, **config)
    sections = [(1, len(instructions), b"".join(instructions))]
    if uops:
        sections.append((2, len(uops), b"".join(struct.pack("<III", *u) for u in uops)))
    header = bytearray(128)
    header[0:4] = b"QNPU"
    struct.pack_into("<IIII", header, 4, 1, 128, len(sections), dram_size)
    for i, k in enumerate(KEYS):
        struct.pack_into("<I", header, 24 + 4 * i, cfg[k])
    table = bytearray()
    body = bytearray()
    offset = 128 + 16 * len(sections)
    offset += (-offset) % 16
    for kind, count, data in sections:
        table += struct.pack("<IIII", kind, count, offset + len(body), len(data))
        body += data + bytes((-len(data)) % 16)
    pad = bytes((-(128 + len(table))) % 16)
    return bytes(header) + bytes(table) + pad + bytes(body)


def main():
    out = sys.argv[1]
    files = {
        # Class 6: a config inside the old documented limits (64x64 blocks,
        # depths 2^24): 208 bytes asking for 64 GiB of WGT.
        "big_depths.qnpu": program([finish()], block_in=64, block_out=64,
                                   inp_depth=1 << 24, wgt_depth=1 << 24,
                                   acc_depth=1 << 24),
        # Depths within 2^20, buffers past 16 MiB.
        "big_wgt.qnpu": program([finish()], block_in=64, block_out=64,
                                wgt_depth=1 << 20),
        # Class 7: dram_size 2^30 (the documented maximum), race check on.
        "big_dram.qnpu": program([finish()], dram_size=1 << 30),
        # Class 9: a micro-op range past the micro-op section (UOP entries
        # beyond it are zero at reset).
        "uops_past_section.qnpu": program([gemm(0, 4, 1, 1, reset=True), finish()],
                                          uops=[(0, 0, 0)]),
        # 65535 x 65535 x 8192 block products: refused before it runs.
        "huge_work.qnpu": program([gemm(0, 8192, 65535, 65535, reset=True), finish()]),
    }
    for name, data in files.items():
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
