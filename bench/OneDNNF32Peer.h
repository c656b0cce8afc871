//===- OneDNNF32Peer.h - oneDNN fp32 primitives as the peer -----*- C++ -*-===//
//
// The fp32 peer of the float kernels: oneDNN's convolution (forward,
// backward data, backward weights) and matmul primitives on a benchmark
// Layer at a given batch, on the calling thread. Activations are NHWC (the
// layout our kernels use) or oneDNN's preferred blocked layout; weights
// always in the layout the primitive prefers, reordered once outside the
// timed calls.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_BENCH_ONEDNNF32PEER_H
#define QAT_BENCH_ONEDNNF32PEER_H

#include "Layers.h"

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace qat::bench {

/// Which pass of a layer: y = conv(x, W) + b; dx = conv^T(dy, W);
/// dW = x (*) dy with db = sum(dy). A matmul C = A B is timed as C = A B,
/// dA = dC B^T and dB = A^T dC (matmul primitives on transposed views).
enum class LayerPass { Forward, BackwardData, BackwardWeights };

const char *passName(LayerPass p);

/// One oneDNN fp32 primitive with random data, ready to run.
class OneDNNF32Problem {
public:
  /// Throws dnnl::error if oneDNN rejects the problem. `blocked`: let
  /// oneDNN choose the activation layout (format_tag::any) instead of NHWC.
  OneDNNF32Problem(const Layer &l, LayerPass pass, int64_t batch, bool blocked);
  ~OneDNNF32Problem();
  OneDNNF32Problem(const OneDNNF32Problem &) = delete;
  OneDNNF32Problem &operator=(const OneDNNF32Problem &) = delete;

  /// Executes the primitive once and waits for it.
  void run();
  /// oneDNN's implementation name (e.g. "jit:avx512_core").
  const std::string &impl() const;
  /// Compares `samples` outputs of the last run with a float64 reference
  /// within the float-sum bound; returns how many are outside it.
  int64_t check(int samples = 256);

  /// The plain inputs: x NHWC (matmul: A, M x K), W as [co][kh][kw][ci]
  /// (depthwise [c][kh][kw]; matmul B, K x N), dy NHWC (matmul dC, M x N).
  const std::vector<float> &x() const;
  const std::vector<float> &w() const;
  const std::vector<float> &dy() const;
  /// The float64 value of element `at` of the pass's plain output (NHWC;
  /// W's plain layout for backward weights) and the sum of the absolute
  /// values of its terms.
  std::pair<double, double> reference(int64_t at) const;
  /// Elements of the pass's output.
  int64_t outputSize() const;

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

} // namespace qat::bench

#endif // QAT_BENCH_ONEDNNF32PEER_H
