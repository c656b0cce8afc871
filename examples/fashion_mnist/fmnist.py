"""The bundled example: a small CNN for Fashion-MNIST, its data and its
export to the TOSA input contract (docs/InputContract.md).

Data come from Debian's dataset-fashion-mnist package. The network is

    conv 3x3 1->8 (pad 1), batch norm, ReLU, max pool 2x2
    conv 3x3 8->16 (pad 1), batch norm, ReLU, max pool 2x2
    flatten, linear 784->10

and is exported as NHWC TOSA with batch norm decomposed as torch-mlir emits
it (sub mean, mul rsqrt(var + eps), mul gamma, add beta) and the linear layer
as reshape, matmul, reshape, add.
"""
import gzip
import os

import numpy as np

DATA_DIR = os.environ.get("FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
           "Sneaker", "Bag", "Ankle boot"]


def load(split):
    """(images, labels) of 'train' or 't10k': images f32 in [0, 1], NHWC."""
    prefix = os.path.join(DATA_DIR, split)
    with gzip.open(prefix + "-images-idx3-ubyte.gz") as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16)
    with gzip.open(prefix + "-labels-idx1-ubyte.gz") as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    images = images.reshape(-1, 28, 28, 1).astype(np.float32) / np.float32(255)
    return images, labels.astype(np.int64)


def make_net():
    import torch.nn as nn
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(784, 10))


WEIGHTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "model.npz")


def load_net(path=WEIGHTS):
    """The trained network (eval mode) from the weights train.py saved."""
    import torch
    net = make_net()
    with np.load(path) as data:
        net.load_state_dict({k: torch.from_numpy(data[k]) for k in data.files})
    return net.eval()


def save_net(net, path=WEIGHTS):
    np.savez(path, **{k: v.numpy() for k, v in net.state_dict().items()})


# ---------------------------------------------------------------------------
# TOSA text


def _dense(a):
    a = np.asarray(a, np.float32)
    if a.ndim == 0:
        return "%.9e" % float(a)
    return "[" + ", ".join(_dense(x) for x in a) + "]"


def _t(shape, et="f32"):
    return "tensor<" + "x".join(str(d) for d in shape) + "x" + et + ">"


class _Emitter:
    def __init__(self):
        self.lines, self.n = [], 0

    def v(self):
        self.n += 1
        return "%%%d" % self.n

    def const(self, arr, et="f32"):
        arr = np.asarray(arr)
        name, t = self.v(), _t(arr.shape, et)
        text = _dense(arr) if et == "f32" else str(int(arr.ravel()[0]))
        self.lines.append('  %s = "tosa.const"() <{values = dense<%s> : %s}> : () -> %s'
                          % (name, text, t, t))
        return name

    def shape(self, dims):
        name = self.v()
        self.lines.append("  %s = tosa.const_shape {values = dense<[%s]> : tensor<%dxindex>} "
                          ": () -> !tosa.shape<%d>"
                          % (name, ", ".join(map(str, dims)), len(dims), len(dims)))
        return name

    def op(self, text):
        name = self.v()
        self.lines.append("  %s = %s" % (name, text))
        return name


def export_tosa(net, batch, name="main"):
    """MLIR text of `net` (from make_net, eval mode) for a fixed batch size."""
    conv1, bn1, _, _, conv2, bn2, _, _, _, fc = net
    e = _Emitter()
    zp = e.const(np.zeros(1, np.float32))
    shift = e.const(np.zeros(1, np.int8), "i8")
    x, shape = "%x", (batch, 28, 28, 1)

    def conv_bn_relu_pool(x, shape, conv, bn):
        n, h, w, _ = shape
        cout = conv.out_channels
        wt = conv.weight.detach().numpy().transpose(0, 2, 3, 1)  # OIHW -> OHWI
        wv, bv = e.const(wt), e.const(conv.bias.detach().numpy())
        out = (n, h, w, cout)
        y = e.op("tosa.conv2d %s, %s, %s, %s, %s {acc_type = f32, dilation = array<i64: 1, 1>, "
                 "pad = array<i64: 1, 1, 1, 1>, stride = array<i64: 1, 1>} : (%s, %s, %s, "
                 "tensor<1xf32>, tensor<1xf32>) -> %s"
                 % (x, wv, bv, zp, zp, _t(shape), _t(wt.shape), _t((cout,)), _t(out)))
        cs = (1, 1, 1, cout)
        mean = e.const(bn.running_mean.numpy().reshape(cs))
        var = e.const(bn.running_var.numpy().reshape(cs))
        eps = e.const(np.full((1, 1, 1, 1), bn.eps, np.float32))
        gamma = e.const(bn.weight.detach().numpy().reshape(cs))
        beta = e.const(bn.bias.detach().numpy().reshape(cs))
        t, ct = _t(out), _t(cs)
        s = e.op("tosa.sub %s, %s : (%s, %s) -> %s" % (y, mean, t, ct, t))
        ve = e.op("tosa.add %s, %s : (%s, tensor<1x1x1x1xf32>) -> %s" % (var, eps, ct, ct))
        rs = e.op("tosa.rsqrt %s : (%s) -> %s" % (ve, ct, ct))
        m1 = e.op("tosa.mul %s, %s, %s : (%s, %s, tensor<1xi8>) -> %s" % (s, rs, shift, t, ct, t))
        m2 = e.op("tosa.mul %s, %s, %s : (%s, %s, tensor<1xi8>) -> %s" % (m1, gamma, shift, t, ct, t))
        b = e.op("tosa.add %s, %s : (%s, %s) -> %s" % (m2, beta, t, ct, t))
        r = e.op("tosa.clamp %s {max_val = 3.40282347E+38 : f32, min_val = 0.0 : f32} : (%s) -> %s"
                 % (b, t, t))
        pooled = (n, h // 2, w // 2, cout)
        p = e.op("tosa.max_pool2d %s {kernel = array<i64: 2, 2>, pad = array<i64: 0, 0, 0, 0>, "
                 "stride = array<i64: 2, 2>} : (%s) -> %s" % (r, t, _t(pooled)))
        return p, pooled

    x, shape = conv_bn_relu_pool(x, shape, conv1, bn1)
    x, shape = conv_bn_relu_pool(x, shape, conv2, bn2)
    n, h, w, c = shape
    flat = h * w * c
    s3 = e.shape([1, n, flat])
    x3 = e.op("tosa.reshape %s, %s : (%s, !tosa.shape<3>) -> %s" % (x, s3, _t(shape), _t((1, n, flat))))
    # PyTorch flattens NCHW; the export flattens NHWC: permute the weight rows.
    wt = fc.weight.detach().numpy().reshape(10, c, h, w).transpose(2, 3, 1, 0).reshape(1, flat, 10)
    wv = e.const(wt)
    mm = e.op("tosa.matmul %s, %s, %s, %s : (%s, %s, tensor<1xf32>, tensor<1xf32>) -> %s"
              % (x3, wv, zp, zp, _t((1, n, flat)), _t(wt.shape), _t((1, n, 10))))
    s2 = e.shape([n, 10])
    y = e.op("tosa.reshape %s, %s : (%s, !tosa.shape<2>) -> %s" % (mm, s2, _t((1, n, 10)), _t((n, 10))))
    bias = e.const(fc.bias.detach().numpy().reshape(1, 10))
    logits = e.op("tosa.add %s, %s : (%s, tensor<1x10xf32>) -> %s" % (y, bias, _t((n, 10)), _t((n, 10))))
    head = ["// Fashion-MNIST CNN (float, batch %d), written by examples/fashion_mnist/train.py." % batch,
            "// Input: NHWC images in [0, 1]; output: logits.",
            "func.func @%s(%%x: %s) -> %s {" % (name, _t((batch, 28, 28, 1)), _t((batch, 10)))]
    return "\n".join(head + e.lines + ["  return %s : %s" % (logits, _t((batch, 10))), "}", ""])
