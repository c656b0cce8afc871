"""Model sweep (issue 19): torchvision models with random weights exported
to float TOSA and compared with PyTorch, then quantized for x86 (and bpu
where the NPU rules allow) with the int8 model checked against its float
simulation bit for bit.

    PYTHONPATH=python /usr/bin/python3 python/tests/model_sweep.py [--int8] [--bpu] [NAME...]

Without names, every model of MODELS runs (minutes: VGG-11's 133 M weights,
ViT-B/16 at 224x224). test_model_sweep.py runs the small ones in CI.
Metric of the float check: max |ours - torch| / max |torch| <= 1e-5.
"""
import argparse
import copy
import sys
import time

import numpy as np
import torch

import qat_mlir
from helpers import estimate_batch_norm, rel_error

FLOAT_TOL = 1e-5


def _tv():
    import torchvision
    return torchvision.models


def _seg(name):
    def make():
        import torchvision
        return getattr(torchvision.models.segmentation, name)(
            weights=None, weights_backbone=None, aux_loss=False)
    return make


# name -> (constructor, input size (N, C, H, W)). The sizes are the smallest
# the models accept (ViT-B/16: its position embedding fixes 224) or small
# ones that keep every layer (stride 32 -> at least 32x32).
MODELS = {
    "mobilenet_v3_large": (lambda: _tv().mobilenet_v3_large(), (1, 3, 32, 32)),
    "efficientnet_b0": (lambda: _tv().efficientnet_b0(), (1, 3, 32, 32)),
    "shufflenet_v2_x1_0": (lambda: _tv().shufflenet_v2_x1_0(), (1, 3, 32, 32)),
    "regnet_y_400mf": (lambda: _tv().regnet_y_400mf(), (1, 3, 32, 32)),
    "googlenet": (lambda: _tv().googlenet(aux_logits=False, init_weights=True), (1, 3, 32, 32)),
    "squeezenet1_1": (lambda: _tv().squeezenet1_1(), (1, 3, 64, 64)),
    "vgg11": (lambda: _tv().vgg11(), (1, 3, 32, 32)),
    "vit_b_16": (lambda: _tv().vit_b_16(), (1, 3, 224, 224)),
    # Reduced sizes of the same architectures for CI (test_model_sweep.py).
    "vit_tiny": (lambda: __import__("torchvision.models.vision_transformer").models
                 .vision_transformer.VisionTransformer(image_size=32, patch_size=8, num_layers=2,
                                                       num_heads=4, hidden_dim=64, mlp_dim=128,
                                                       num_classes=10), (1, 3, 32, 32)),
    "fcn_resnet50": (_seg("fcn_resnet50"), (1, 3, 32, 32)),
    "deeplabv3_mobilenet_v3_large": (_seg("deeplabv3_mobilenet_v3_large"), (1, 3, 32, 32)),
}


def make(name, shape=None, seed=0):
    ctor, default = MODELS[name]
    shape = shape or default
    torch.manual_seed(seed)
    net = ctor()
    # torchvision's ViT zero-initialises its classifier (every logit 0, a
    # vacuous comparison): such all-zero linear layers get random weights.
    for m in net.modules():
        if isinstance(m, torch.nn.Linear) and not torch.any(m.weight):
            torch.nn.init.normal_(m.weight, std=m.in_features ** -0.5)
            if m.bias is not None:
                torch.nn.init.normal_(m.bias, std=0.1)
    estimate_batch_norm(net, (4,) + tuple(shape[1:]), batches=2, seed=seed)
    return net, shape


def reference(net, x):
    with torch.no_grad():
        y = net(x)
    if isinstance(y, dict):  # segmentation models: {"out": ...}
        y = y["out"]
    return y.numpy()


class Unwrap(torch.nn.Module):
    """Segmentation models return {"out": y}: the exporter takes tensors."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        y = self.net(x)
        return y["out"] if isinstance(y, dict) else y


def float_check(name, shape=None):
    net, shape = make(name, shape)
    x = torch.randn(shape, generator=torch.Generator().manual_seed(1))
    ref = reference(net, x)
    ref64 = reference(copy.deepcopy(net).double(), x.double())
    t0 = time.perf_counter()
    text = qat_mlir.export(Unwrap(net), x)
    t1 = time.perf_counter()
    f = qat_mlir.compile(text)
    t2 = time.perf_counter()
    ours = f(x.numpy())
    err = rel_error(ours, ref)
    err64, torch64 = rel_error(ours, ref64), rel_error(ref, ref64)
    return dict(net=net, x=x, text=text, ref=ref, ours=ours, err=err, err64=err64,
                torch64=torch64,
                line="%-30s %-16s float: vs torch f32 %.2e, vs torch f64 %.2e (torch f32 vs "
                     "f64 %.2e; max |torch| %.3g); MLIR %.1f MB, export %.1f s, compile %.1f s"
                     % (name, "x".join(map(str, shape)), err, err64, torch64,
                        np.max(np.abs(ref)), len(text) / 1e6, t1 - t0, t2 - t1))


def float_ok(r):
    """Within 1e-5 of PyTorch float32; or, where PyTorch float32 itself is
    further than 1e-5 / 2 from PyTorch float64 (deep random-weight models),
    within twice PyTorch float32's distance of float64."""
    if r["err"] <= FLOAT_TOL:
        return True
    return r["torch64"] > FLOAT_TOL / 2 and r["err64"] <= 2 * r["torch64"]


def int8_check(text, shape, target, batches=4, seed=2):
    """prepare -> calibrate -> freeze -> convert; (int8 vs simulation
    mismatches, outputs, int8 text)."""
    prepared = qat_mlir.prepare(text, target)
    g = torch.Generator().manual_seed(seed)
    data = [torch.randn(shape, generator=g).numpy() for _ in range(batches)]
    frozen = qat_mlir.freeze(qat_mlir.calibrate(prepared, "main", data, progress=False))
    int8 = qat_mlir.convert(frozen)
    sim = qat_mlir.convert(frozen, simulate=True)
    x = torch.randn(shape, generator=g).numpy()
    y8 = qat_mlir.compile(int8)(x)
    ys = qat_mlir.compile(sim)(x)
    yf = qat_mlir.compile(frozen)(x)
    mismatches = int(np.sum(y8.view(np.uint32) != ys.view(np.uint32)))
    return mismatches, y8, yf, int8


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--int8", action="store_true", help="also quantize for x86")
    ap.add_argument("--bpu", action="store_true", help="also quantize for bpu")
    args = ap.parse_args(argv)
    bad = 0
    for name in args.names or list(MODELS):
        try:
            r = float_check(name)
        except Exception as e:  # report and go on with the next model
            print("%-30s FAILED: %s" % (name, str(e).splitlines()[0][:400]), flush=True)
            bad += 1
            continue
        print(r["line"], flush=True)
        bad += not float_ok(r)
        for target, wanted in (("x86", args.int8), ("bpu", args.bpu)):
            if not wanted:
                continue
            try:
                t0 = time.perf_counter()
                text = r["text"]
                if target == "bpu":  # no tosa.slice on the NPU: crops as zero taps
                    text = qat_mlir.export(Unwrap(r["net"]), r["x"], crops="taps")
                n, y8, yf, int8 = int8_check(text, r["x"].shape, target)
                print("%-30s %-16s %s int8: %d of %d outputs differ from the simulation; "
                      "max |int8 - fake-quant| %.3g, max |int8 - float| %.3g of %.3g (%.0f s)"
                      % (name, "", target, n, y8.size, np.max(np.abs(y8 - yf)),
                         np.max(np.abs(y8 - r["ours"])), np.max(np.abs(r["ours"])),
                         time.perf_counter() - t0), flush=True)
                bad += n != 0
            except Exception as e:
                print("%-30s %s int8 FAILED: %s" % (name, target, str(e).splitlines()[0][:400]),
                      flush=True)
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
