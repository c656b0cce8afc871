# REQUIRES: torch
# RUN: %python %s
#
# torch.nn.parallel.DistributedDataParallel over the compiled QAT module
# (qat_mlir.prepare_qat), gloo, 2 processes on localhost, against one
# process on the combined batch (docs/Training.md, "Several processes").
#
# A tiny model (conv 1->4 3x3 + ReLU, linear 256->10; x86 target, 8x8
# images, cross-entropy). Observer ranges are compiled state, not module
# buffers: DDP does not broadcast them, and each process's observers would
# see only its half of the batch. So every run first calibrates the same
# way (two training-mode forwards on the two halves of the first batch,
# observers updating) and then freezes the observers (disable_observer);
# the single process copies the calibrated state into its module compiled
# for the combined batch (state_dict). Then 3 SGD steps (lr 0.1, momentum
# 0.9, weight decay 1e-4): each DDP process on its half of a batch of 16
# (DDP averages the two gradients), the single process on the whole batch.
# Checked: after each step every parameter equal to float-sum tolerance
# (max|diff| / max|ref| <= 1e-5), and the DDP replicas equal to each other
# bit for bit.
import os
import sys
import tempfile

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
from common import rel  # noqa: E402

HALF, STEPS = 8, 3


def net():
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(),
                         nn.Linear(256, 10)).eval()


def data():
    g = torch.Generator().manual_seed(1)
    x = torch.rand((STEPS + 1) * 2 * HALF, 1, 8, 8, generator=g)
    y = torch.randint(0, 10, ((STEPS + 1) * 2 * HALF,), generator=g)
    return x, y


def calibrated(batch):
    """prepare_qat for `batch` rows, observers calibrated on the two halves
    of the first batch, then frozen."""
    import qat_mlir
    x, _ = data()
    m = qat_mlir.prepare_qat(net(), x[:batch]).train()
    if batch == HALF:
        m(x[:HALF])
        m(x[HALF:2 * HALF])
    else:
        cal = calibrated(HALF)
        m.load_state_dict(cal.state_dict())
    m.disable_observer()
    return m


def sgd(params):
    return torch.optim.SGD(params, lr=0.1, momentum=0.9, weight_decay=1e-4)


def worker(rank, init, out):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    model = torch.nn.parallel.DistributedDataParallel(calibrated(HALF))
    opt = sgd(model.parameters())
    x, y = data()
    history = []
    for s in range(1, STEPS + 1):
        lo = s * 2 * HALF + rank * HALF
        opt.zero_grad()
        F.cross_entropy(model(x[lo:lo + HALF]), y[lo:lo + HALF]).backward()
        opt.step()
        history.append({n: p.detach().numpy().copy() for n, p in
                        model.module.named_parameters()})
    np.save(os.path.join(out, "rank%d.npy" % rank), history, allow_pickle=True)
    dist.destroy_process_group()


def main():
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(worker, args=("file://" + os.path.join(tmp, "rendezvous"), tmp),
                           nprocs=2, start_method="spawn")
        ranks = [np.load(os.path.join(tmp, "rank%d.npy" % r), allow_pickle=True)
                 for r in range(2)]
    single = calibrated(2 * HALF)
    opt = sgd(single.parameters())
    x, y = data()
    ok = True
    for s in range(1, STEPS + 1):
        lo = s * 2 * HALF
        opt.zero_grad()
        F.cross_entropy(single(x[lo:lo + 2 * HALF]), y[lo:lo + 2 * HALF]).backward()
        opt.step()
        worst, same = 0.0, True
        for n, p in single.named_parameters():
            ref = p.detach().numpy()
            worst = max(worst, rel(ranks[0][s - 1][n], ref))
            same = same and np.array_equal(ranks[0][s - 1][n], ranks[1][s - 1][n])
        print("step %d: DDP (2 x %d) vs one process (%d): every parameter within %.2g; "
              "replicas equal: %s" % (s, HALF, 2 * HALF, worst, same))
        if not (worst <= 1e-5 and same):
            ok = False
    if not ok:
        print("FAIL")
        sys.exit(1)
    print("all checks passed")


if __name__ == "__main__":
    main()
