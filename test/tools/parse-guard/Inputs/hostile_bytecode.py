"""Writes small MLIR bytecode files (mlir/docs/BytecodeFormat.md, version 6)
into the directory argv[1], one per count that MLIR 22's bytecode reader
trusts: each count is 2^40 (or the file is otherwise hostile) where the
rest of its section holds a few bytes. Indices into the tables are never
resolved: the guard refuses the file before the reader reads it."""
import os
import struct
import sys

BIG = 1 << 40


def varint(v):
    """PrefixVarInt: n bytes hold 7n bits, the low bits say n."""
    for n in range(1, 9):
        if v < 1 << (7 * n):
            return ((v << n) | (1 << (n - 1))).to_bytes(n, "little")
    return b"\0" + v.to_bytes(8, "little")


def section(ident, data):
    return bytes([ident]) + varint(len(data)) + data


def module(strings=varint(0), dialects=varint(0) + varint(0),
           offsets=varint(0) + varint(0), properties=b"", ir=None):
    """The file: header, then the string, dialect, attribute/type (empty),
    its offsets, properties and IR sections."""
    if ir is None:
        ir = varint(0)  # a top-level block without ops or arguments
    return (b"ML\xefR" + varint(6) + b"test\0" + section(0, strings) +
            section(1, dialects) + section(2, b"") + section(3, offsets) +
            section(8, properties) + section(4, ir))


def op(mask, *fields):
    """An op named #0 at location #0: the mask, then its fields."""
    return varint(0) + bytes([mask]) + varint(0) + b"".join(fields)


def block(num_ops, *ops):
    return varint(num_ops << 1) + b"".join(ops)


REGIONS = 16  # OpEncodingMask::kHasInlineRegions


def one_region(*region):
    """An op with one region (not isolated), then that region."""
    return op(REGIONS, varint(1 << 1)) + b"".join(region)


def nested(depth):
    """`depth` ops each holding the next in the one block of its region."""
    inner = block(0)
    for _ in range(depth):
        inner = block(1, one_region(varint(1), varint(0), inner))
    return inner


def strings(*names):
    """The string section: the count, the lengths from the last string,
    then the strings with their NUL bytes."""
    data = [n.encode() + b"\0" for n in names]
    return (varint(len(names)) + b"".join(varint(len(d)) for d in reversed(data)) +
            b"".join(data))


def builtin_module(attrs, types=(), custom=True):
    """A `builtin.module` at location attribute #0, with one result of type
    #0 when there are types: the reader reads attribute #0 (and type #0) as
    soon as it reads the op, through the builtin dialect's own encoding
    (mlir/IR/BuiltinDialectBytecode.td), each entry given as its bytes;
    with custom=False the entries are text (up to a NUL) that the reader
    hands to MLIR's parser."""
    dialects = (varint(1) + varint(0 << 1) + varint(1) +  # builtin, 1 op name
                varint(0) + varint(1) + varint(1 << 1 | 1))  # builtin: module
    entries = b"".join(attrs) + b"".join(types)
    offsets = varint(len(attrs)) + varint(len(types))
    for group in (attrs, types):
        if group:
            offsets += varint(0) + varint(len(group)) + b"".join(
                varint(len(e) << 1 | int(custom)) for e in group)
    mask = 2 if types else 0  # kHasResults
    ir = block(1, op(mask, varint(1) + varint(0) if types else b""))
    return (b"ML\xefR" + varint(6) + b"test\0" + section(0, strings("builtin", "module")) +
            section(1, dialects) + section(2, entries) + section(3, offsets) +
            section(8, b"") + section(4, ir))


def signed(v):
    return varint((v << 1) ^ (v >> 63))


UNKNOWN_LOC = varint(15)
F32 = varint(5)


def tensor(*shape):
    """RankedTensorType of type #0's elements."""
    return varint(13) + varint(len(shape)) + b"".join(signed(d) for d in shape) + varint(0)


def quant_module(quant_type):
    """A `builtin.module` with one result of type #0, the quant dialect's
    entry `quant_type` (mlir/Dialect/Quant/IR/QuantDialectBytecode.td), whose
    types #1 and #2 are i8 and f32 (builtin)."""
    dialects = (varint(2) + varint(0 << 1) + varint(2 << 1) +  # builtin, quant
                varint(1) + varint(0) + varint(1) + varint(1 << 1 | 1))
    types = [quant_type, varint(0) + varint(8 << 2), F32]
    entries = UNKNOWN_LOC + b"".join(types)
    offsets = (varint(1) + varint(3) + varint(0) + varint(1) + varint(len(UNKNOWN_LOC) << 1 | 1) +
               varint(1) + varint(1) + varint(len(types[0]) << 1 | 1) +
               varint(0) + varint(2) + b"".join(varint(len(t) << 1 | 1) for t in types[1:]))
    ir = block(1, op(2, varint(1) + varint(0)))
    return (b"ML\xefR" + varint(6) + b"test\0" +
            section(0, strings("builtin", "module", "quant")) + section(1, dialects) +
            section(2, entries) + section(3, offsets) + section(8, b"") + section(4, ir))


def llvm_module(attr):
    """A `builtin.module` at location attribute #0, the llvm dialect's entry
    `attr` (mlir/Dialect/LLVMIR/LLVMDialectBytecode.td)."""
    dialects = (varint(2) + varint(0 << 1) + varint(2 << 1) +  # builtin, llvm
                varint(1) + varint(0) + varint(1) + varint(1 << 1 | 1))
    offsets = varint(1) + varint(0) + varint(1) + varint(1) + varint(len(attr) << 1 | 1)
    return (b"ML\xefR" + varint(6) + b"test\0" +
            section(0, strings("builtin", "module", "llvm")) + section(1, dialects) +
            section(2, attr) + section(3, offsets) + section(8, b"") +
            section(4, block(1, op(0))))


def double(x):
    """An f64 as the quant dialect writes it: its bits as a signed varint."""
    return signed(struct.unpack("<q", struct.pack("<d", x))[0])


I8, F32_INDEX = varint(1), varint(2)
BOUNDS = signed(-128) + signed(127)

CASES = {
    "strings": module(strings=varint(BIG) + b"\3"),
    # Two strings, the last of length 0 (not even its NUL): the reader would
    # make it a string of 2^64 - 1 bytes.
    "empty-string": module(strings=varint(2) + varint(0) + varint(2) + b"a\0"),
    "dialects": module(dialects=varint(BIG) + b"\1"),
    "op-names": module(dialects=varint(0) + varint(BIG) + b"\1"),
    "attributes": module(offsets=varint(BIG) + varint(0) + b"\1"),
    "types": module(offsets=varint(0) + varint(BIG) + b"\1"),
    "properties": module(properties=varint(BIG) + b"\1"),
    "block-arguments": module(ir=block(1, one_region(varint(1), varint(0),
                                                     varint(1) + varint(BIG) + b"\1"))),
    # The top-level block (of the module op) takes no arguments; the reader
    # would define them before it has a scope for values.
    "top-level-arguments": module(ir=varint(1) + varint(0)),
    "results": module(ir=block(1, op(2, varint(BIG), b"\1"))),
    "operands": module(ir=block(1, op(4, varint(BIG), b"\1"))),
    "successors": module(ir=block(1, op(8, varint(BIG), b"\1"))),
    "regions": module(ir=block(1, op(REGIONS, varint(BIG << 1), b"\1"))),
    "blocks": module(ir=block(1, one_region(varint(BIG), b"\1\1"))),
    "values": module(ir=block(1, one_region(varint(1), varint(BIG), b"\1"))),
    # 5 values declared, none defined; bytes enough after it for 5.
    "undefined-values": module(ir=block(1, one_region(
        varint(1), varint(5), block(0))) + b"\1" * 8),
    "depth": module(ir=nested(300)),
    # An isolated op's regions must be an IR section; here a string one.
    "isolated-section": module(ir=block(1, op(REGIONS, varint(1 << 1 | 1)),
                                        section(0, varint(1) + varint(0)))),
    # Inside the builtin dialect's entries: list counts, the words of a wide
    # integer, dense data that does not fit its type, dense strings.
    "array-attr": builtin_module([varint(0) + varint(BIG)]),
    "dictionary-attr": builtin_module([varint(1) + varint(BIG)]),
    "fused-loc": builtin_module([varint(12) + varint(BIG)]),
    # FileLineColRange: the file name (string attribute #1), then the list.
    "loc-range": builtin_module([varint(22) + varint(1) + varint(BIG),
                                 varint(2) + varint(0)]),
    "wide-integer": builtin_module([varint(8) + varint(0) + varint(BIG)],
                                   [varint(0) + varint(128 << 2)]),
    "dense-elements": builtin_module(
        [varint(18) + varint(1) + varint(8) + b"\0" * 8], [F32, tensor(1000)]),
    "dense-strings": builtin_module(
        [varint(19) + varint(1) + varint(0) + varint(0)], [F32, tensor(BIG)]),
    "shape": builtin_module([UNKNOWN_LOC], [varint(13) + varint(BIG)]),
    "function-type": builtin_module([UNKNOWN_LOC], [varint(2) + varint(BIG)]),
    # An integer type of 2^30 bits (IntegerType keeps 30 bits of the width:
    # i0; the limit is 2^24 - 1).
    "integer-width": builtin_module([UNKNOWN_LOC], [varint(0) + varint((1 << 30) << 2)]),
    # The quant dialect's types, which it builds unchecked (`get`): a storage
    # type that is not an integer, two scales for one zero point.
    "quant-storage-f32": quant_module(varint(4) + varint(1) + F32_INDEX + F32_INDEX +
                                      double(0.5) + signed(0) + BOUNDS),
    "quant-per-axis-counts": quant_module(
        varint(5) + varint(1) + I8 + F32_INDEX + varint(0) + BOUNDS +
        varint(2) + double(0.5) + double(0.25) + varint(1) + signed(3)),
    "quant-valid": quant_module(varint(4) + varint(1) + I8 + F32_INDEX +
                                double(0.5) + signed(3) + BOUNDS),
    # The llvm dialect's #llvm.di_expression: a present list of 2^40
    # operations (the reader reserves them first: an abort).
    "llvm-list": llvm_module(varint(5) + b"\1" + varint(BIG) + b"\1"),
    # Attributes stored as text (no dialect encoding): the reader hands them
    # to MLIR 22's parser, which crashed on a dense array of index elements
    # (SIGSEGV) and on deep nesting (a stack overflow).
    "text-index-array": builtin_module([b"array<index: 1>\0"], custom=False),
    "text-nesting": builtin_module([b"[" * 9000 + b"]" * 9000 + b"\0"],
                                   custom=False),
}

if __name__ == "__main__":
    for name, data in CASES.items():
        with open(os.path.join(sys.argv[1], name + ".mlirbc"), "wb") as f:
            f.write(data)
