#!/usr/bin/env python3
"""Trains the bundled Fashion-MNIST CNN (float) and writes its TOSA export.

    /usr/bin/python3 examples/fashion_mnist/train.py [--epochs 3] [--batch 32]

Writes examples/fashion_mnist/model.npz (the trained weights, read back by
fmnist.load_net) and model.mlir (@main on a fixed batch; other batch sizes:
fmnist.export_tosa(fmnist.load_net(), batch)), and prints the float test
accuracy after each epoch. Fixed seed, two threads.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fmnist  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32, help="batch of the exported @main")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "model.mlir"))
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    x, y = fmnist.load("train")
    xt, yt = fmnist.load("t10k")
    X = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    Y = torch.from_numpy(y)
    net = fmnist.make_net()
    opt = torch.optim.Adam(net.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(0)
    for epoch in range(args.epochs):
        net.train()
        perm = torch.randperm(len(X), generator=gen)
        for i in range(0, len(X), 64):
            idx = perm[i:i + 64]
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(X[idx]), Y[idx])
            loss.backward()
            opt.step()
        net.eval()
        with torch.no_grad():
            pred = net(torch.from_numpy(xt).permute(0, 3, 1, 2)).argmax(1).numpy()
        print("epoch %d: loss %.4f, float test accuracy %.2f%%"
              % (epoch + 1, loss.item(), 100.0 * np.mean(pred == yt)))
    fmnist.save_net(net)
    with open(args.out, "w") as f:
        f.write(fmnist.export_tosa(net, args.batch))
    print("wrote", args.out, "and", fmnist.WEIGHTS)


if __name__ == "__main__":
    main()
