#!/usr/bin/env python3
"""Prints the quantizers of a frozen module printed with
--mlir-print-debuginfo --mlir-print-local-scope: for each fake_quant, its
name (act<N> for activations), range, scale(s) and zero point(s)."""
import re
import sys

text = open(sys.argv[1]).read()
consts = {m.group(1): m.group(2) for m in re.finditer(
    r"(%\w+) = arith\.constant dense<([^>]+)> : tensor<[^>]*>", text)}
for m in re.finditer(r"qat\.fake_quant (%\w+), (%\w+), (%\w+) \{([^}]*)\} : (tensor<[^,]*>).*?loc\((.*)\)$",
                     text, re.M):
    name = re.match(r'"(act\d+)"', m.group(6))
    attrs = dict(kv.split(" = ") for kv in m.group(4).split(", "))
    qmin, qmax = attrs["quant_min"].split(" :")[0], attrs["quant_max"].split(" :")[0]
    axis = attrs.get("axis", "").split(" :")[0]
    kind = name.group(1) if name else "weight"
    scale, zp = consts.get(m.group(2), "?"), consts.get(m.group(3), "?")
    if len(scale) > 60:
        scale = scale[:57] + "..."
    print("%-7s %-22s [%s, %s]%s  scale %s  zero point %s"
          % (kind, m.group(5), qmin, qmax, " axis %s" % axis if axis else "", scale, zp))
