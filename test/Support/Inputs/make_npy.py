"""Writes .npy files byte by byte (no NumPy), valid and malformed, for the
reader's tests (lib/Support/Npy.cpp). Usage: make_npy.py DIR"""
import os
import struct
import sys


def npy(header, data=b"", version=1):
    header = header + " " * ((-(len(header) + 11)) % 64) + "\n"
    size = struct.pack("<H" if version == 1 else "<I", len(header))
    return b"\x93NUMPY" + bytes([version, 0]) + size + header.encode() + data


FILES = {
    # Crash class 5: (2^62, 4) float32 in 64 bytes: the element count
    # overflowed, the file was accepted and read past its buffer.
    "huge_shape.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387908, 4), }", bytes(64)),
    "maybe.npy": npy("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (2, 4), }", bytes(32)),
    "no_shape.npy": npy("{'descr': '<f4', 'fortran_order': False, }", bytes(32)),
    "twice.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'shape': (8,), }", bytes(32)),
    "extra_key.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), 'x': 1, }", bytes(32)),
    # A 'shape' hidden in a string is not the shape.
    "shape_in_string.npy": npy("{'descr': \"'shape': (8,)\", 'fortran_order': False, 'shape': (2, 4), }", bytes(32)),
    "negative.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2, 4), }", bytes(32)),
    "not_tuple.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (8), }", bytes(32)),
    "trailing.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 4), } x", bytes(32)),
    "structured.npy": npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2, 4), }", bytes(32)),
    # Valid: another key order, double quotes, version 2, (0, 4) and ().
    "reordered.npy": npy("{\"shape\": (2, 4), \"fortran_order\": False, \"descr\": \"<f4\"}", struct.pack("<8f", *range(8)), version=2),
    "empty.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }"),
    "empty_i8.npy": npy("{'descr': '|i1', 'fortran_order': False, 'shape': (0, 5, 5, 3), }"),
    "conv_input.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 5, 5, 3), }", bytes(2 * 75 * 4)),
    "empty_conv_input.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5, 5, 3), }"),
    "scalar.npy": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", struct.pack("<f", 0.5)),
}

if __name__ == "__main__":
    for name, data in FILES.items():
        with open(os.path.join(sys.argv[1], name), "wb") as f:
            f.write(data)
