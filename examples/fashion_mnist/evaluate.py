#!/usr/bin/env python3
"""Runs a compiled Fashion-MNIST model (any MLIR form of @main over a batch
of NHWC images) on the 10,000 test images with qat-run --split and prints
its accuracy; --compare-with another model's logits gives the agreement of
the predictions.

    /usr/bin/python3 evaluate.py MODEL.mlir [--logits OUT.npy] [--label NAME]
                                 [--compare-with OTHER_LOGITS.npy]
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402


def model_batch(model):
    """The batch size of @main's argument in the MLIR file."""
    m = re.search(r"func\.func @main\(%\w+: tensor<(\d+)x", open(model).read())
    return int(m.group(1))


def run(model, images, qat_run="qat-run"):
    """(logits, microseconds per image) of @main of `model` on `images`; the
    last batch is padded with zeros (their logits are dropped)."""
    batch = model_batch(model)
    n = len(images)
    padded = np.zeros(((n + batch - 1) // batch * batch,) + images.shape[1:], images.dtype)
    padded[:n] = images
    with tempfile.TemporaryDirectory() as tmp:
        x, y = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        np.save(x, padded)
        proc = subprocess.run([qat_run, model, "--entry", "main", "--input", x, "--output", y,
                               "--split"], capture_output=True, text=True)
        if proc.returncode:
            sys.exit(proc.stderr)
        m = re.search(r"time per batch: ([0-9.]+) us \((\d+) batches", proc.stdout)
        per_image = float(m.group(1)) / batch
        return np.load(y)[:n], per_image


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--logits")
    ap.add_argument("--label", default="model")
    ap.add_argument("--compare-with", help="logits (.npy) of another model")
    args = ap.parse_args()
    images, labels = fmnist.load("t10k")
    logits, us = run(args.model, images)
    if args.logits:
        np.save(args.logits, logits)
    line = ("%s: accuracy %.2f%% on %d test images, %.1f us per image"
            % (args.label, 100.0 * np.mean(logits.argmax(1) == labels), len(labels), us))
    if args.compare_with:
        other = np.load(args.compare_with)
        line += ("; predictions agree with %s on %.2f%%"
                 % (os.path.basename(args.compare_with),
                    100.0 * np.mean(other.argmax(1) == logits.argmax(1))))
    print(line)
