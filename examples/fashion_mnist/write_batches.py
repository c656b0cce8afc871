#!/usr/bin/env python3
"""Writes calibration batches of Fashion-MNIST training images as .npy files.

    /usr/bin/python3 write_batches.py OUTDIR [NUM_BATCHES] [BATCH]

OUTDIR/batch000.npy ... hold consecutive training images (NHWC, f32 in
[0, 1]), the input of examples/fashion_mnist/model.mlir.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402

out = sys.argv[1]
num = int(sys.argv[2]) if len(sys.argv) > 2 else 10
batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
os.makedirs(out, exist_ok=True)
images, _ = fmnist.load("train")
for i in range(num):
    np.save(os.path.join(out, "batch%03d.npy" % i), images[i * batch:(i + 1) * batch])
print("wrote %d batches of %d training images to %s" % (num, batch, out))
