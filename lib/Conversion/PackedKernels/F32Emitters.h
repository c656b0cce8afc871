//===- F32Emitters.h - the code emitters of qat-lower-f32-kernels -*- C++
//-*-===//
//
// qat-lower-f32-kernels (LowerF32Kernels.cpp) replaces each f32 kernel op on
// memrefs by the loops one emitter writes:
//
//   F32EmitterBase.cpp        what the emitters share (beside WindowEmitter.h:
//                             loop nests, the window): stride phases of data
//                             gradients, the zero-padded input copy, the
//                             epilogue and its stores; the register tiles of
//                             pixels x blocks of 16 output channels
//                             (GemmTileEmitter) and of depthwise pixels
//                             (DepthwiseTileEmitter)
//   F32ConvEmitters.cpp       qat.packed_conv2d_f32 (grouped too),
//                             qat.conv2d_backward_data_f32,
//                             qat.conv2d_backward_weight_f32,
//                             qat.pack_conv_weights_f32
//   F32DepthwiseEmitters.cpp  qat.packed_depthwise_conv2d_f32 and the
//                             depthwise adjoints
//
// KernelIsa::Vnni multiplies and adds with one fma (AVX-512), Portable with
// a product and a sum (the generic loops' bits).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_PACKEDKERNELS_F32EMITTERS_H
#define QAT_LIB_CONVERSION_PACKEDKERNELS_F32EMITTERS_H

#include "WindowEmitter.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Support/Options.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qat::f32 {

/// What one depthwise multiply-accumulate costs against a convolution's,
/// for `min-parallel-macs` (one tap per lane, no reuse across channels).
constexpr int64_t kDepthwiseMacWeight = 8;

/// One stride phase of a data gradient (dilation 1): the outputs dx[py +
/// sh * j, px + sw * i] (j < ys, i < xs) receive the kernel rows `ty` and
/// columns `tx` (phaseTaps) from dy row j + cy and column i + cx.
struct StridePhase {
  int64_t py, px, ys, xs, cy, cx;
  SmallVector<int64_t> ty, tx;
};

/// Builder helpers shared by the f32 emitters.
class F32EmitterBase : protected WindowEmitter {
public:
  F32EmitterBase(Operation *op, KernelIsa isa, bool parallel)
      : WindowEmitter(op, isa, parallel) {}

protected:
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value add(Value x, int64_t y) { return y ? add(x, idx(y)) : x; }
  Value mul(Value x, int64_t y) {
    return y == 1 ? x : arith::MulIOp::create(b, loc, x, idx(y));
  }
  VectorType vecType() { return VectorType::get({16}, b.getF32Type()); }
  Value splat(float v) {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vecType(), b.getF32FloatAttr(v)));
  }
  Value mask(int64_t lanes) {
    return vector::ConstantMaskOp::create(
        b, loc, VectorType::get({16}, b.getI1Type()), ArrayRef<int64_t>{lanes});
  }
  /// acc + a * w: one fma (avx512) or a product and a sum (portable).
  /// math.fma becomes llvm.intr.fma, rounded once on every target
  /// (vector.fma becomes llvm.intr.fmuladd, which the backend may split).
  Value madd(Value a, Value w, Value acc) {
    if (isa == KernelIsa::Vnni)
      return math::FmaOp::create(b, loc, a, w, acc);
    return arith::AddFOp::create(b, loc, acc,
                                 arith::MulFOp::create(b, loc, a, w));
  }
  /// The input geometry: N x H x W x C in, Ho x Wo out, the window
  /// attributes and the padded size Hp x Wp.
  template <typename OpTy> void readWindow(OpTy op) {
    WindowEmitter::readWindow(op.getInput(), op.getInit(), op.getStride(),
                              op.getDilation(), op.getPad());
  }
  /// The geometry of a kernel's adjoint: the forward's input `x`, output
  /// `dy` and window attributes.
  template <typename OpTy> void readAdjointWindow(OpTy op) {
    WindowEmitter::readWindow(op.getInput(), op.getGradOutput(), op.getStride(),
                              op.getDilation(), op.getPad());
  }
  /// The stride phases of the data gradient `init` (dx, N x H x W x C) of
  /// `gradOutput` (dy) for a `kh` x `kw` window at stride `st` and pad `pd`
  /// (dilation 1). Makes dy the source geometry (n, h, wIn, c, pad, hp,
  /// wp): zero-padded so that every read of every phase is inside it.
  SmallVector<StridePhase> stridePhases(Value gradOutput, Value init,
                                        int64_t kh, int64_t kw,
                                        ArrayRef<int64_t> st,
                                        ArrayRef<int64_t> pd);

  /// The input as the 1-D N x Hp x Wp x cp buffer the kernel reads: the
  /// input itself when it has no padding, `cp` channels and an identity
  /// layout; else a copy with zeros in the border and in the channels
  /// beyond C (freed by releaseSource). The rows are copied in parallel with
  /// `par`; each element is written once.
  Value source(Value input, int64_t cp, bool par, int64_t slack = 0);
  void releaseSource() {
    if (copiedSource)
      memref::DeallocOp::create(b, loc, copiedSource);
  }

  /// The epilogue of `region` (may be empty) on the accumulator vector
  /// `acc` of 16 channels from `c0` at output pixel (img, oy, ox), then its
  /// store (the first `tail` lanes when tail != 0).
  void epilogueAndStore(Region &region, ValueRange inputs, Value out, Value acc,
                        Value img, Value oy, Value ox, Value c0, int64_t tail);
  /// The vector of 16 elements of epilogue input `in` (broadcasting to the
  /// output) at output indices `at` (the last one the first channel).
  Value loadEpilogueInput(Value in, ArrayRef<Value> at, int64_t tail);
  /// The epilogue region (may be empty) on the accumulator vector, with
  /// the epilogue inputs' vectors.
  Value applyEpilogue(Region &region, ArrayRef<Value> inputs, Value acc);

  Value copiedSource;
};

//===----------------------------------------------------------------------===//
// qat.packed_conv2d_f32 and qat.conv2d_backward_data_f32: register tiles of
// pixels x blocks of 16 output channels over packed weights
//===----------------------------------------------------------------------===//

/// Where the tiles of one loop nest read and write. The pixels are
/// N x ys x xs (flattened); pixel (img, y, x) reads the 1-D source from
///   base = srcOffset + img * imgStride + y * rowStride + x * colStride
/// and writes output element (img, outY0 + y * outYStep, outX0 + x *
/// outXStep). The reduction: `taps` rows at tapStride, each of `runs` runs
/// at runStride of `runLen` contiguous elements; the weight vector of block
/// k, tap t, run r, element j is at
///   wOffset + k * wBlockStride + ((t * runs + r) * runLen + j) * 16.
struct TileGeometry {
  int64_t ys = 0, xs = 0;
  int64_t srcOffset = 0, imgStride = 0, rowStride = 0, colStride = 0;
  int64_t taps = 0, tapStride = 0, runs = 1, runStride = 0, runLen = 0;
  int64_t wOffset = 0, wBlockStride = 0;
  int64_t outY0 = 0, outYStep = 1, outX0 = 0, outXStep = 1;
};

class GemmTileEmitter : protected F32EmitterBase {
public:
  GemmTileEmitter(Operation *op, KernelIsa isa, bool parallel, int64_t rows,
                  int64_t blocks)
      : F32EmitterBase(op, isa, parallel), rowsOpt(rows), blocksOpt(blocks) {}

protected:
  /// All tiles of one geometry: groups of `blocks` blocks of 16 output
  /// channels outermost (their weights stay in cache across the pixel
  /// tiles), then one group of the remaining blocks with a static index (the
  /// partial last block, if any, is there); full pixel tiles, then one of
  /// the rest.
  void emitAll(const TileGeometry &g);
  void emitTile(const TileGeometry &g, Value pixel, int64_t rows, Value block,
                int64_t blocks, bool partialLast);

  int64_t rowsOpt, blocksOpt;
  // Set by the op's emitter: the 1-D source and weights, the bias (or null
  // for 0.0), the output, its channel count (per group) and the epilogue.
  Value src, weights, bias, out;
  int64_t outChannels = 0, batch = 0;
  Region *epilogue = nullptr;
  ValueRange epilogueInputs;
  // A grouped convolution: `groups` groups, each reading `groupInChannels`
  // source elements from g * groupInChannels on, writing `outChannels`
  // channels from g * outChannels on, with its own ceil(outChannels / 16)
  // blocks of weights and bias. The loops over tiles carry the group index
  // `group` (null with one group).
  int64_t groups = 1, groupInChannels = 0;
  Value group;
};

//===----------------------------------------------------------------------===//
// qat.packed_depthwise_conv2d_f32 and qat.depthwise_conv2d_backward_data_f32:
// tiles of pixels of one output row, one accumulator per pixel and block of
// 16 channels
//===----------------------------------------------------------------------===//

/// Where one depthwise loop nest reads and writes. Output rows y < ys and
/// columns x < xs of each image; pixel (img, y, x) with tap (t, u) reads
/// the source (N x srcH x srcW x CP, 1-D) at row y * rowStep + tapRows[t]
/// and column x * colStep + tapCols[u], the weights (KH x KW x CP, 1-D) at
/// kernel position (wRows[t], wCols[u]), and writes output element (img,
/// outY0 + y * outYStep, outX0 + x * outXStep).
struct DepthwiseGeometry {
  int64_t ys = 0, xs = 0, rowStep = 1, colStep = 1;
  SmallVector<int64_t> tapRows, tapCols, wRows, wCols;
  int64_t outY0 = 0, outYStep = 1, outX0 = 0, outXStep = 1;
};

class DepthwiseTileEmitter : protected F32EmitterBase {
public:
  DepthwiseTileEmitter(Operation *op, KernelIsa isa, bool parallel,
                       int64_t cols)
      : F32EmitterBase(op, isa, parallel), tileCols(cols) {}

protected:
  void emitAll(const DepthwiseGeometry &g);
  void emitTile(const DepthwiseGeometry &g, Value img, Value y, Value x0,
                int64_t cols);

  int64_t tileCols;
  // Set by the op's emitter: the 1-D source (srcH x srcW x CP per image),
  // the 1-D weights (KH x KW x CP), the bias (CP entries, added after the
  // sum; null: none), the output, its channel count and the epilogue.
  Value src, weights, bias, out;
  int64_t srcH = 0, srcW = 0, cp = 0, kw = 0, channels = 0, batch = 0;
  Region *epilogue = nullptr;
  ValueRange epilogueInputs;
};

/// The kernel positions of stride phase `p` along one dimension (dilation
/// 1) of a data gradient: the k with (p + padLo - k) divisible by s, by
/// descending k (ascending dy index (p + padLo - k) / s), the first dy
/// index in `first`.
SmallVector<int64_t> phaseTaps(int64_t p, int64_t k, int64_t s, int64_t padLo,
                               int64_t &first);

// The entry points: each replaces its op by the loops.
void emitConv(PackedConv2DF32Op op, KernelIsa isa, bool parallel, int64_t rows,
              int64_t blocks);
void emitBackwardData(Conv2DBackwardDataF32Op op, KernelIsa isa, bool parallel,
                      int64_t rows, int64_t blocks);
void emitBackwardWeight(Conv2DBackwardWeightF32Op op, KernelIsa isa,
                        bool parallel);
void emitPackWeights(PackConvWeightsF32Op op, bool parallel);
void emitDepthwise(PackedDepthwiseConv2DF32Op op, KernelIsa isa, bool parallel,
                   int64_t cols);
void emitDepthwiseBackwardData(DepthwiseConv2DBackwardDataF32Op op,
                               KernelIsa isa, bool parallel, int64_t cols);
void emitDepthwiseBackwardWeight(DepthwiseConv2DBackwardWeightF32Op op,
                                 KernelIsa isa, bool parallel);

} // namespace mlir::qat::f32

#endif // QAT_LIB_CONVERSION_PACKEDKERNELS_F32EMITTERS_H
