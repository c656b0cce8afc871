"""check_npy.py FILE SHAPE DESCR: FILE's header has that shape and descr
(read without NumPy: the header dict is a Python literal)."""
import ast
import struct
import sys

data = open(sys.argv[1], "rb").read()
assert data[:6] == b"\x93NUMPY", "not a .npy file"
n = struct.unpack("<H", data[8:10])[0]
header = ast.literal_eval(data[10:10 + n].decode())
assert str(header["shape"]) == sys.argv[2], header
assert header["descr"] == sys.argv[3], header
assert header["fortran_order"] is False, header
