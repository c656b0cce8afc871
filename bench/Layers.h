//===- Layers.h - layer shapes of the int8 layer benchmark ------*- C++ -*-===//
//
// The convolution and GEMM shapes a benchmark should cover (bench/README.md)
// (batch 1, int8). Both the oneDNN peer and our own compiled kernels time
// exactly these problems, so the two sides of a ratio always agree on shapes.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_BENCH_LAYERS_H
#define QAT_BENCH_LAYERS_H

#include <cstdint>
#include <string>
#include <vector>

namespace qat::bench {

/// One benchmark problem.
struct Layer {
  /// "<network>/<layer>", e.g. "resnet50/conv1", "bert/qkv", "gemm1024".
  std::string name;
  enum Kind { Conv, Depthwise, MatMul } kind = Conv;
  // Conv/Depthwise: NHWC input 1 x h x w x cin, weights cout x kh x kw x cin
  // (Depthwise: cout == cin, channel multiplier 1, weights cin x kh x kw),
  // symmetric padding `pad`, `stride`, dilation 1.
  int64_t h = 1, w = 1, cin = 0, cout = 0, kh = 1, kw = 1, stride = 1, pad = 0;
  // MatMul: [m x k] x [k x n] with n in `cout` and k in `cin`.
  int64_t m = 0;
  /// How often the shape occurs in its network (per-network sums of times).
  int64_t count = 1;

  int64_t outH() const;
  int64_t outW() const;
  /// Multiply-accumulates of one call.
  int64_t macs() const;
  /// Operations of one call: 2 * multiply-accumulates.
  double ops() const;
  /// A short readable shape: "3x3 s2 64->128 @56", "128x2304x768 (MxNxK)".
  std::string shape() const;
};

/// Every shape of bench/README.md "Shapes", in a fixed order:
/// ResNet-50 v1.5, ResNet-18, MobileNetV2, BERT-base (sequence 128), a 1024^3
/// GEMM and a 1x2048x1000 GEMV. k x k convolutions use padding k/2 and the
/// torchvision strides. A shape used by two networks is listed under each.
const std::vector<Layer> &perfLayers();

} // namespace qat::bench

#endif // QAT_BENCH_LAYERS_H
