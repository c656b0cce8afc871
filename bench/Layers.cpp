//===- Layers.cpp - layer shapes of the int8 layer benchmark --------------===//
//
// The shape list of bench/README.md. Networks list every distinct convolution
// and fully connected shape with its number of occurrences, so that per-network
// sums of primitive times can be compared with the peer figures there.
//
//===----------------------------------------------------------------------===//

#include "Layers.h"

#include <cassert>

using namespace qat::bench;

int64_t Layer::outH() const {
  if (kind == MatMul)
    return m;
  return (h + 2 * pad - kh) / stride + 1;
}

int64_t Layer::outW() const {
  if (kind == MatMul)
    return cout;
  return (w + 2 * pad - kw) / stride + 1;
}

int64_t Layer::macs() const {
  switch (kind) {
  case Conv:
    return outH() * outW() * cout * cin * kh * kw;
  case Depthwise:
    return outH() * outW() * cout * kh * kw;
  case MatMul:
    return m * cin * cout;
  }
  return 0;
}

double Layer::ops() const { return 2.0 * static_cast<double>(macs()); }

std::string Layer::shape() const {
  if (kind == MatMul)
    return std::to_string(m) + "x" + std::to_string(cout) + "x" +
           std::to_string(cin) + " (MxNxK)";
  std::string s = std::to_string(kh) + "x" + std::to_string(kw);
  if (stride != 1)
    s += " s" + std::to_string(stride);
  s += kind == Depthwise
           ? " dw " + std::to_string(cin)
           : " " + std::to_string(cin) + "->" + std::to_string(cout);
  return s + " @" + std::to_string(h);
}

/// A k x k convolution on a square input with the torchvision padding k / 2.
static Layer conv(std::string name, int64_t hw, int64_t cin, int64_t cout,
                  int64_t k, int64_t stride = 1, int64_t count = 1) {
  Layer l;
  l.name = std::move(name);
  l.kind = Layer::Conv;
  l.h = l.w = hw;
  l.cin = cin;
  l.cout = cout;
  l.kh = l.kw = k;
  l.stride = stride;
  l.pad = k / 2;
  l.count = count;
  return l;
}

/// A 3x3 depthwise convolution (multiplier 1) with padding 1.
static Layer depthwise(std::string name, int64_t hw, int64_t c,
                       int64_t stride = 1, int64_t count = 1) {
  Layer l = conv(std::move(name), hw, c, c, 3, stride, count);
  l.kind = Layer::Depthwise;
  return l;
}

/// [m x k] x [k x n].
static Layer matmul(std::string name, int64_t m, int64_t k, int64_t n,
                    int64_t count = 1) {
  Layer l;
  l.name = std::move(name);
  l.kind = Layer::MatMul;
  l.m = m;
  l.cin = k;
  l.cout = n;
  l.count = count;
  return l;
}

static std::vector<Layer> buildPerfLayers() {
  std::vector<Layer> ls;
  // ResNet-50 v1.5 at 224: the stride of a downsampling bottleneck sits in its
  // 3x3 convolution; projection shortcuts are 1x1 with the block's stride.
  const std::string r50 = "resnet50/";
  ls.push_back(conv(r50 + "conv1", 224, 3, 64, 7, 2));
  ls.push_back(conv(r50 + "res2_1x1_64_64", 56, 64, 64, 1));
  ls.push_back(conv(r50 + "res2_3x3", 56, 64, 64, 3, 1, 3));
  // Three expansions and the projection shortcut share this shape.
  ls.push_back(conv(r50 + "res2_1x1_64_256", 56, 64, 256, 1, 1, 4));
  ls.push_back(conv(r50 + "res2_1x1_256_64", 56, 256, 64, 1, 1, 2));
  ls.push_back(conv(r50 + "res3_1x1_256_128", 56, 256, 128, 1));
  ls.push_back(conv(r50 + "res3_3x3_s2", 56, 128, 128, 3, 2));
  ls.push_back(conv(r50 + "res3_down", 56, 256, 512, 1, 2));
  ls.push_back(conv(r50 + "res3_1x1_128_512", 28, 128, 512, 1, 1, 4));
  ls.push_back(conv(r50 + "res3_1x1_512_128", 28, 512, 128, 1, 1, 3));
  ls.push_back(conv(r50 + "res3_3x3", 28, 128, 128, 3, 1, 3));
  ls.push_back(conv(r50 + "res4_1x1_512_256", 28, 512, 256, 1));
  ls.push_back(conv(r50 + "res4_3x3_s2", 28, 256, 256, 3, 2));
  ls.push_back(conv(r50 + "res4_down", 28, 512, 1024, 1, 2));
  ls.push_back(conv(r50 + "res4_3x3", 14, 256, 256, 3, 1, 5));
  ls.push_back(conv(r50 + "res4_1x1_256_1024", 14, 256, 1024, 1, 1, 6));
  ls.push_back(conv(r50 + "res4_1x1_1024_256", 14, 1024, 256, 1, 1, 5));
  ls.push_back(conv(r50 + "res5_1x1_1024_512", 14, 1024, 512, 1));
  ls.push_back(conv(r50 + "res5_3x3_s2", 14, 512, 512, 3, 2));
  ls.push_back(conv(r50 + "res5_down", 14, 1024, 2048, 1, 2));
  ls.push_back(conv(r50 + "res5_3x3", 7, 512, 512, 3, 1, 2));
  ls.push_back(conv(r50 + "res5_1x1_512_2048", 7, 512, 2048, 1, 1, 3));
  ls.push_back(conv(r50 + "res5_1x1_2048_512", 7, 2048, 512, 1, 1, 2));
  ls.push_back(matmul(r50 + "fc", 1, 2048, 1000));

  // ResNet-18 at 224: basic blocks; the first block of layers 2-4 has a
  // stride-2 3x3 and a 1x1 stride-2 projection shortcut.
  const std::string r18 = "resnet18/";
  ls.push_back(conv(r18 + "conv1", 224, 3, 64, 7, 2));
  ls.push_back(conv(r18 + "layer1_3x3", 56, 64, 64, 3, 1, 4));
  ls.push_back(conv(r18 + "layer2_3x3_s2", 56, 64, 128, 3, 2));
  ls.push_back(conv(r18 + "layer2_down", 56, 64, 128, 1, 2));
  ls.push_back(conv(r18 + "layer2_3x3", 28, 128, 128, 3, 1, 3));
  ls.push_back(conv(r18 + "layer3_3x3_s2", 28, 128, 256, 3, 2));
  ls.push_back(conv(r18 + "layer3_down", 28, 128, 256, 1, 2));
  ls.push_back(conv(r18 + "layer3_3x3", 14, 256, 256, 3, 1, 3));
  ls.push_back(conv(r18 + "layer4_3x3_s2", 14, 256, 512, 3, 2));
  ls.push_back(conv(r18 + "layer4_down", 14, 256, 512, 1, 2));
  ls.push_back(conv(r18 + "layer4_3x3", 7, 512, 512, 3, 1, 3));
  ls.push_back(matmul(r18 + "fc", 1, 512, 1000));

  // MobileNetV2 (width 1.0) at 224: stem, inverted residual blocks
  // (expand 1x1, depthwise 3x3, project 1x1), last 1x1 and classifier.
  const std::string mb = "mobilenetv2/";
  ls.push_back(conv(mb + "stem", 224, 3, 32, 3, 2));
  ls.push_back(depthwise(mb + "dw32", 112, 32));
  ls.push_back(conv(mb + "pw32_16", 112, 32, 16, 1));
  ls.push_back(conv(mb + "pw16_96", 112, 16, 96, 1));
  ls.push_back(depthwise(mb + "dw96_s2", 112, 96, 2));
  ls.push_back(conv(mb + "pw96_24", 56, 96, 24, 1));
  ls.push_back(conv(mb + "pw24_144", 56, 24, 144, 1, 1, 2));
  ls.push_back(depthwise(mb + "dw144", 56, 144));
  ls.push_back(conv(mb + "pw144_24", 56, 144, 24, 1));
  ls.push_back(depthwise(mb + "dw144_s2", 56, 144, 2));
  ls.push_back(conv(mb + "pw144_32", 28, 144, 32, 1));
  ls.push_back(conv(mb + "pw32_192", 28, 32, 192, 1, 1, 3));
  ls.push_back(depthwise(mb + "dw192", 28, 192, 1, 2));
  ls.push_back(conv(mb + "pw192_32", 28, 192, 32, 1, 1, 2));
  ls.push_back(depthwise(mb + "dw192_s2", 28, 192, 2));
  ls.push_back(conv(mb + "pw192_64", 14, 192, 64, 1));
  ls.push_back(conv(mb + "pw64_384", 14, 64, 384, 1, 1, 4));
  ls.push_back(depthwise(mb + "dw384", 14, 384, 1, 4));
  ls.push_back(conv(mb + "pw384_64", 14, 384, 64, 1, 1, 3));
  ls.push_back(conv(mb + "pw384_96", 14, 384, 96, 1));
  ls.push_back(conv(mb + "pw96_576", 14, 96, 576, 1, 1, 3));
  ls.push_back(depthwise(mb + "dw576", 14, 576, 1, 2));
  ls.push_back(conv(mb + "pw576_96", 14, 576, 96, 1, 1, 2));
  ls.push_back(depthwise(mb + "dw576_s2", 14, 576, 2));
  ls.push_back(conv(mb + "pw576_160", 7, 576, 160, 1));
  ls.push_back(conv(mb + "pw160_960", 7, 160, 960, 1, 1, 3));
  ls.push_back(depthwise(mb + "dw960", 7, 960, 1, 3));
  ls.push_back(conv(mb + "pw960_160", 7, 960, 160, 1, 1, 2));
  ls.push_back(conv(mb + "pw960_320", 7, 960, 320, 1));
  ls.push_back(conv(mb + "pw320_1280", 7, 320, 1280, 1));
  ls.push_back(matmul(mb + "fc", 1, 1280, 1000));

  // BERT-base, sequence 128: the four weight GEMMs of one encoder layer
  // (12 layers). bench/README.md writes them M x N x K.
  const std::string bert = "bert/";
  ls.push_back(matmul(bert + "qkv", 128, 768, 2304, 12));
  ls.push_back(matmul(bert + "attn_out", 128, 768, 768, 12));
  ls.push_back(matmul(bert + "ffn_up", 128, 768, 3072, 12));
  ls.push_back(matmul(bert + "ffn_down", 128, 3072, 768, 12));

  // Sanity shapes: compute-bound GEMM and bandwidth-bound GEMV.
  ls.push_back(matmul("gemm1024", 1024, 1024, 1024));
  ls.push_back(matmul("gemv", 1, 2048, 1000));

  for ([[maybe_unused]] const Layer &l : ls)
    assert(l.kind != Layer::Depthwise || l.cin == l.cout);
  return ls;
}

const std::vector<Layer> &qat::bench::perfLayers() {
  static const std::vector<Layer> layers = buildPerfLayers();
  return layers;
}
