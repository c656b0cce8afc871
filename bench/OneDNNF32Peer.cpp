//===- OneDNNF32Peer.cpp - oneDNN fp32 primitives as the peer -------------===//
//
// Builds oneDNN's (2.x API) fp32 convolution and matmul primitives of a
// Layer for one pass (forward, backward data, backward weights), runs them
// on the calling thread and checks sampled outputs against a float64
// reference.
//
//===----------------------------------------------------------------------===//

#include "OneDNNF32Peer.h"
#include "OneDNNPeer.h"

#include "oneapi/dnnl/dnnl.hpp"

#include <cmath>
#include <random>
#include <unordered_map>
#include <vector>

using namespace qat::bench;
using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;

const char *qat::bench::passName(LayerPass p) {
  switch (p) {
  case LayerPass::Forward:
    return "fwd";
  case LayerPass::BackwardData:
    return "bwd_data";
  case LayerPass::BackwardWeights:
    return "bwd_weights";
  }
  return "?";
}

static std::vector<float> randomFloats(size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float &x : v)
    x = dist(gen);
  return v;
}

struct OneDNNF32Problem::Impl {
  Layer l;
  LayerPass pass;
  int64_t batch;
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
  dnnl::primitive prim;
  std::unordered_map<int, dnnl::memory> args;
  std::string impl;
  // Plain data: x NHWC (matmul: A [M x K]), W [co][kh][kw][ci] (depthwise
  // [c][kh][kw]; matmul B [K x N]), dy NHWC (matmul dC [M x N]).
  std::vector<float> x, w, dy;
  // The result in plain layout after a run (reordered back if needed).
  dnnl::memory result, plainResult;
  bool reorderResult = false;

  bool dw() const { return l.kind == Layer::Depthwise; }
  int64_t rows() const { return batch * l.m; } // matmul rows

  /// A memory of `md` filled from plain data through a reorder (once,
  /// outside the timed calls).
  dnnl::memory from(const dnnl::memory::desc &plainMd,
                    const dnnl::memory::desc &wanted, std::vector<float> &data) {
    dnnl::memory plain(plainMd, eng, data.data());
    if (wanted == plainMd)
      return plain;
    dnnl::memory mem(wanted, eng);
    dnnl::reorder(plain, mem).execute(strm, plain, mem);
    strm.wait();
    return mem;
  }

  void buildConv(bool blocked) {
    int64_t ho = l.outH(), wo = l.outW();
    dnnl::memory::dims srcDims = {batch, l.cin, l.h, l.w};
    dnnl::memory::dims dstDims = {batch, l.cout, ho, wo};
    dnnl::memory::dims wDims = dw() ? dnnl::memory::dims{l.cin, 1, 1, l.kh, l.kw}
                                    : dnnl::memory::dims{l.cout, l.cin, l.kh, l.kw};
    dnnl::memory::desc srcPlain(srcDims, dt::f32, tag::nhwc);
    dnnl::memory::desc dstPlain(dstDims, dt::f32, tag::nhwc);
    dnnl::memory::desc wPlain(wDims, dt::f32, dw() ? tag::goihw : tag::ohwi);
    dnnl::memory::desc biasMd({l.cout}, dt::f32, tag::x);
    tag act = blocked ? tag::any : tag::nhwc;
    dnnl::memory::desc srcMd(srcDims, dt::f32, act), dstMd(dstDims, dt::f32, act),
        wMd(wDims, dt::f32, tag::any);
    dnnl::memory::dims strides = {l.stride, l.stride}, padding = {l.pad, l.pad};
    // TOSA-style bottom/right padding: what a strided window reaches.
    dnnl::memory::dims padR = {
        (ho - 1) * l.stride + l.kh - l.h - l.pad,
        (wo - 1) * l.stride + l.kw - l.w - l.pad};
    x = randomFloats(batch * l.h * l.w * l.cin, 1);
    w = randomFloats(dw() ? l.cin * l.kh * l.kw : l.cout * l.kh * l.kw * l.cin,
                     2);
    dy = randomFloats(batch * ho * wo * l.cout, 3);
    std::vector<float> bias = randomFloats(l.cout, 4);
    dnnl::convolution_forward::desc fwdDesc(
        pass == LayerPass::Forward ? dnnl::prop_kind::forward_inference
                              : dnnl::prop_kind::forward_training,
        dnnl::algorithm::convolution_direct, srcMd, wMd, biasMd, dstMd,
        strides, padding, padR);
    dnnl::convolution_forward::primitive_desc fwd(fwdDesc, eng);
    if (pass == LayerPass::Forward) {
      impl = fwd.impl_info_str();
      result = dnnl::memory(fwd.dst_desc(), eng);
      args = {{DNNL_ARG_SRC, from(srcPlain, fwd.src_desc(), x)},
              {DNNL_ARG_WEIGHTS, from(wPlain, fwd.weights_desc(), w)},
              {DNNL_ARG_BIAS, dnnl::memory(biasMd, eng)},
              {DNNL_ARG_DST, result}};
      // Zero bias so the reference need not know it.
      std::fill_n(static_cast<float *>(args[DNNL_ARG_BIAS].get_data_handle()),
                  l.cout, 0.0f);
      prim = dnnl::convolution_forward(fwd);
      setPlain(dstPlain);
      return;
    }
    if (pass == LayerPass::BackwardData) {
      dnnl::convolution_backward_data::desc desc(
          dnnl::algorithm::convolution_direct, srcMd, wMd, dstMd, strides,
          padding, padR);
      dnnl::convolution_backward_data::primitive_desc pd(desc, eng, fwd);
      impl = pd.impl_info_str();
      result = dnnl::memory(pd.diff_src_desc(), eng);
      args = {{DNNL_ARG_DIFF_DST, from(dstPlain, pd.diff_dst_desc(), dy)},
              {DNNL_ARG_WEIGHTS, from(wPlain, pd.weights_desc(), w)},
              {DNNL_ARG_DIFF_SRC, result}};
      prim = dnnl::convolution_backward_data(pd);
      setPlain(srcPlain);
      return;
    }
    dnnl::convolution_backward_weights::desc desc(
        dnnl::algorithm::convolution_direct, srcMd, wMd, biasMd, dstMd,
        strides, padding, padR);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, eng, fwd);
    impl = pd.impl_info_str();
    result = dnnl::memory(pd.diff_weights_desc(), eng);
    args = {{DNNL_ARG_SRC, from(srcPlain, pd.src_desc(), x)},
            {DNNL_ARG_DIFF_DST, from(dstPlain, pd.diff_dst_desc(), dy)},
            {DNNL_ARG_DIFF_WEIGHTS, result},
            {DNNL_ARG_DIFF_BIAS, dnnl::memory(pd.diff_bias_desc(), eng)}};
    prim = dnnl::convolution_backward_weights(pd);
    setPlain(wPlain);
  }

  /// C = A B as C[M x N] = A[M x K] B[K x N]; the backward passes as
  /// matmuls on transposed views: dA = dC B^T, dB = A^T dC.
  void buildMatMul() {
    int64_t m = rows(), k = l.cin, n = l.cout;
    x = randomFloats(m * k, 1);
    w = randomFloats(k * n, 2);
    dy = randomFloats(m * n, 3);
    dnnl::memory::desc aMd({m, k}, dt::f32, tag::ab), bMd({k, n}, dt::f32, tag::ab),
        cMd({m, n}, dt::f32, tag::ab);
    if (pass == LayerPass::Forward) {
      dnnl::memory::desc wAny({k, n}, dt::f32, tag::any);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(aMd, wAny, cMd), eng);
      impl = pd.impl_info_str();
      result = dnnl::memory(cMd, eng);
      args = {{DNNL_ARG_SRC, from(aMd, aMd, x)},
              {DNNL_ARG_WEIGHTS, from(bMd, pd.weights_desc(), w)},
              {DNNL_ARG_DST, result}};
      prim = dnnl::matmul(pd);
      return;
    }
    if (pass == LayerPass::BackwardData) {
      // dA[M x K] = dC[M x N] B^T, B^T the [N x K] view of B (tag ba).
      dnnl::memory::desc btMd({n, k}, dt::f32, tag::ba);
      dnnl::memory::desc aOut({m, k}, dt::f32, tag::ab);
      dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(cMd, btMd, aOut),
                                      eng);
      impl = pd.impl_info_str();
      result = dnnl::memory(aOut, eng);
      args = {{DNNL_ARG_SRC, dnnl::memory(cMd, eng, dy.data())},
              {DNNL_ARG_WEIGHTS, dnnl::memory(btMd, eng, w.data())},
              {DNNL_ARG_DST, result}};
      prim = dnnl::matmul(pd);
      return;
    }
    // dB[K x N] = A^T dC, A^T the [K x M] view of A (tag ba).
    dnnl::memory::desc atMd({k, m}, dt::f32, tag::ba);
    dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(atMd, cMd, bMd), eng);
    impl = pd.impl_info_str();
    result = dnnl::memory(bMd, eng);
    args = {{DNNL_ARG_SRC, dnnl::memory(atMd, eng, x.data())},
            {DNNL_ARG_WEIGHTS, dnnl::memory(cMd, eng, dy.data())},
            {DNNL_ARG_DST, result}};
    prim = dnnl::matmul(pd);
  }

  void setPlain(const dnnl::memory::desc &plainMd) {
    if (result.get_desc() == plainMd) {
      plainResult = result;
      return;
    }
    plainResult = dnnl::memory(plainMd, eng);
    reorderResult = true;
  }

  const float *plain() {
    if (reorderResult) {
      dnnl::reorder(result, plainResult).execute(strm, result, plainResult);
      strm.wait();
    }
    return static_cast<const float *>(plainResult.get_data_handle());
  }

  // float64 reference of one output element and the sum of |terms|.
  double xAt(int64_t img, int64_t y, int64_t xx, int64_t c) const {
    if (y < 0 || y >= l.h || xx < 0 || xx >= l.w)
      return 0;
    return x[((img * l.h + y) * l.w + xx) * l.cin + c];
  }
  double wAt(int64_t o, int64_t ky, int64_t kx, int64_t i) const {
    if (dw())
      return w[(o * l.kh + ky) * l.kw + kx];
    return w[((o * l.kh + ky) * l.kw + kx) * l.cin + i];
  }
  double dyAt(int64_t img, int64_t y, int64_t xx, int64_t c) const {
    return dy[((img * l.outH() + y) * l.outW() + xx) * l.cout + c];
  }

  /// Reference of plain output element `at`.
  std::pair<double, double> reference(int64_t at) const {
    double sum = 0, mag = 0;
    auto term = [&](double a, double b) {
      sum += a * b;
      mag += std::fabs(a * b);
    };
    if (l.kind == Layer::MatMul) {
      int64_t m = rows(), k = l.cin, n = l.cout;
      if (pass == LayerPass::Forward) {
        int64_t r = at / n, c = at % n;
        for (int64_t i = 0; i < k; ++i)
          term(x[r * k + i], w[i * n + c]);
      } else if (pass == LayerPass::BackwardData) {
        int64_t r = at / k, c = at % k;
        for (int64_t j = 0; j < n; ++j)
          term(dy[r * n + j], w[c * n + j]);
      } else {
        int64_t r = at / n, c = at % n;
        for (int64_t i = 0; i < m; ++i)
          term(x[i * k + r], dy[i * n + c]);
      }
      return {sum, mag};
    }
    int64_t ho = l.outH(), wo = l.outW();
    if (pass == LayerPass::Forward) {
      int64_t c = at % l.cout, p = at / l.cout;
      int64_t ox = p % wo, oy = p / wo % ho, img = p / wo / ho;
      for (int64_t ky = 0; ky < l.kh; ++ky)
        for (int64_t kx = 0; kx < l.kw; ++kx) {
          int64_t iy = oy * l.stride - l.pad + ky, ix = ox * l.stride - l.pad + kx;
          if (dw())
            term(xAt(img, iy, ix, c), wAt(c, ky, kx, 0));
          else
            for (int64_t i = 0; i < l.cin; ++i)
              term(xAt(img, iy, ix, i), wAt(c, ky, kx, i));
        }
      return {sum, mag};
    }
    if (pass == LayerPass::BackwardData) {
      int64_t ci = at % l.cin, p = at / l.cin;
      int64_t ix = p % l.w, iy = p / l.w % l.h, img = p / l.w / l.h;
      for (int64_t ky = 0; ky < l.kh; ++ky)
        for (int64_t kx = 0; kx < l.kw; ++kx) {
          int64_t ty = iy + l.pad - ky, tx = ix + l.pad - kx;
          if (ty < 0 || tx < 0 || ty % l.stride || tx % l.stride)
            continue;
          int64_t oy = ty / l.stride, ox = tx / l.stride;
          if (oy >= ho || ox >= wo)
            continue;
          if (dw())
            term(dyAt(img, oy, ox, ci), wAt(ci, ky, kx, 0));
          else
            for (int64_t o = 0; o < l.cout; ++o)
              term(dyAt(img, oy, ox, o), wAt(o, ky, kx, ci));
        }
      return {sum, mag};
    }
    // Backward weights: `at` indexes W's plain layout.
    int64_t o, ky, kx, ci = 0;
    if (dw()) {
      kx = at % l.kw;
      ky = at / l.kw % l.kh;
      o = at / l.kw / l.kh;
    } else {
      ci = at % l.cin;
      kx = at / l.cin % l.kw;
      ky = at / l.cin / l.kw % l.kh;
      o = at / l.cin / l.kw / l.kh;
    }
    for (int64_t img = 0; img < batch; ++img)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox)
          term(xAt(img, oy * l.stride - l.pad + ky, ox * l.stride - l.pad + kx,
                   dw() ? o : ci),
               dyAt(img, oy, ox, o));
    return {sum, mag};
  }

  int64_t outputSize() const {
    if (l.kind == Layer::MatMul)
      return pass == LayerPass::Forward        ? rows() * l.cout
             : pass == LayerPass::BackwardData ? rows() * l.cin
                                          : l.cin * l.cout;
    if (pass == LayerPass::Forward)
      return batch * l.outH() * l.outW() * l.cout;
    if (pass == LayerPass::BackwardData)
      return batch * l.h * l.w * l.cin;
    return dw() ? l.cin * l.kh * l.kw : l.cout * l.kh * l.kw * l.cin;
  }
};

OneDNNF32Problem::OneDNNF32Problem(const Layer &l, LayerPass pass, int64_t batch,
                                   bool blocked)
    : impl_(std::make_unique<Impl>()) {
  limitOneDNNToOneThread();
  impl_->l = l;
  impl_->pass = pass;
  impl_->batch = batch;
  if (l.kind == Layer::MatMul)
    impl_->buildMatMul();
  else
    impl_->buildConv(blocked);
  if (!impl_->plainResult.get(/*allow_empty=*/true))
    impl_->plainResult = impl_->result;
}

const std::vector<float> &OneDNNF32Problem::x() const { return impl_->x; }
const std::vector<float> &OneDNNF32Problem::w() const { return impl_->w; }
const std::vector<float> &OneDNNF32Problem::dy() const { return impl_->dy; }
std::pair<double, double> OneDNNF32Problem::reference(int64_t at) const {
  return impl_->reference(at);
}
int64_t OneDNNF32Problem::outputSize() const { return impl_->outputSize(); }

OneDNNF32Problem::~OneDNNF32Problem() = default;

void OneDNNF32Problem::run() {
  impl_->prim.execute(impl_->strm, impl_->args);
  impl_->strm.wait();
}

const std::string &OneDNNF32Problem::impl() const { return impl_->impl; }

int64_t OneDNNF32Problem::check(int samples) {
  const float *out = impl_->plain();
  int64_t size = impl_->outputSize(), bad = 0;
  std::mt19937 gen(5);
  for (int i = 0; i < samples; ++i) {
    int64_t at = size <= samples ? i % size
                                 : std::uniform_int_distribution<int64_t>(
                                       0, size - 1)(gen);
    auto [ref, mag] = impl_->reference(at);
    // The float-sum bound of any order, with room for blocked sums.
    double tol = 1e-5 * mag + 1e-6;
    if (std::fabs(ref - double(out[at])) > tol)
      ++bad;
  }
  return bad;
}
