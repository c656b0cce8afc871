//===- F32DepthwiseEmitters.cpp - f32 depthwise kernels and adjoints ------===//
//
// qat.packed_depthwise_conv2d_f32 and qat.depthwise_conv2d_backward_data_f32
// on the tiles of DepthwiseTileEmitter; the depthwise weight gradient.
//
//===----------------------------------------------------------------------===//

#include "F32Emitters.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::f32;

namespace {

class DepthwiseF32Emitter : DepthwiseTileEmitter {
public:
  DepthwiseF32Emitter(PackedDepthwiseConv2DF32Op op, KernelIsa isa,
                      bool parallel, int64_t cols)
      : DepthwiseTileEmitter(op, isa, parallel, cols), op(op) {
    readWindow(op);
  }
  void emit() {
    auto w = cast<MemRefType>(op.getWeights().getType());
    int64_t kh = w.getDimSize(0);
    kw = w.getDimSize(1);
    cp = w.getDimSize(2);
    // The source has the channels padded to CP (zeros), so every block
    // reads whole vectors.
    src = source(op.getInput(), cp, parallel);
    srcH = hp;
    srcW = wp;
    weights = flatten(op.getWeights());
    bias = op.getBias();
    out = op.getInit();
    channels = c;
    batch = n;
    epilogue = &op.getEpilogue();
    epilogueInputs = op.getEpilogueInputs();
    DepthwiseGeometry g;
    g.ys = ho;
    g.xs = wo;
    g.rowStep = stride[0];
    g.colStep = stride[1];
    for (int64_t t = 0; t < kh; ++t) {
      g.tapRows.push_back(t * dilation[0]);
      g.wRows.push_back(t);
    }
    for (int64_t u = 0; u < kw; ++u) {
      g.tapCols.push_back(u * dilation[1]);
      g.wCols.push_back(u);
    }
    emitAll(g);
    releaseSource();
    op.erase();
  }

private:
  PackedDepthwiseConv2DF32Op op;
};

/// qat.depthwise_conv2d_backward_data_f32 as sh x sw stride phases, as
/// qat.conv2d_backward_data_f32: per phase, a stride-1 depthwise
/// correlation of a zero-padded copy of dy (channels padded to 16) with the
/// phase's taps; the weights repacked to KH x KW x CP when the kernel runs.
class DepthwiseBackwardDataF32Emitter : DepthwiseTileEmitter {
public:
  DepthwiseBackwardDataF32Emitter(DepthwiseConv2DBackwardDataF32Op op,
                                  KernelIsa isa, bool parallel, int64_t cols)
      : DepthwiseTileEmitter(op, isa, parallel, cols), op(op) {}
  void emit();

private:
  DepthwiseConv2DBackwardDataF32Op op;
};

void DepthwiseBackwardDataF32Emitter::emit() {
  auto wType = cast<MemRefType>(op.getWeight().getType());
  auto dxType = cast<MemRefType>(op.getInit().getType());
  int64_t nImg = dxType.getDimSize(0), ch = dxType.getDimSize(3);
  int64_t kh = wType.getDimSize(0);
  kw = wType.getDimSize(1);
  cp = llvm::alignTo(ch, 16);
  ArrayRef<int64_t> st = op.getStride(), pd = op.getPad();
  int64_t sh = st[0], sw = st[1];
  SmallVector<StridePhase> phases =
      stridePhases(op.getGradOutput(), op.getInit(), kh, kw, st, pd);
  int64_t padT = pad[0], padL = pad[2];
  src = source(op.getGradOutput(), cp, parallel);
  srcH = hp;
  srcW = wp;
  // W (KH x KW x C x 1) -> KH x KW x CP, zeros beyond C.
  Value packed = memref::AllocOp::create(
      b, loc, MemRefType::get({kh * kw * cp}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  Value wFlat = memref::CollapseShapeOp::create(
      b, loc, op.getWeight(), ArrayRef<ReassociationIndices>{{0, 1, 2, 3}});
  loopNest(
      {kh * kw, cp}, {1, 16},
      [&](ValueRange iv) {
        Value lanes = arith::SubIOp::create(b, loc, idx(ch), iv[1]);
        Value m = vector::CreateMaskOp::create(
            b, loc, VectorType::get({16}, b.getI1Type()), ValueRange{lanes});
        Value v = vector::MaskedLoadOp::create(
            b, loc, vecType(), wFlat, ValueRange{add(mul(iv[0], ch), iv[1])}, m,
            splat(0.0f));
        vector::StoreOp::create(b, loc, v, packed,
                                ValueRange{add(mul(iv[0], cp), iv[1])});
      },
      false);
  weights = packed;
  bias = Value();
  out = op.getInit();
  channels = ch;
  batch = nImg;
  epilogue = &op.getEpilogue();
  epilogueInputs = op.getEpilogueInputs();
  for (StridePhase &ph : phases) {
    DepthwiseGeometry g;
    g.ys = ph.ys;
    g.xs = ph.xs;
    for (auto [t, ky] :
         llvm::enumerate(ph.tx.empty() ? SmallVector<int64_t>() : ph.ty)) {
      g.tapRows.push_back(ph.cy + padT + int64_t(t));
      g.wRows.push_back(ky);
    }
    for (auto [u, kx] : llvm::enumerate(ph.tx)) {
      g.tapCols.push_back(ph.cx + padL + int64_t(u));
      g.wCols.push_back(kx);
    }
    g.outY0 = ph.py;
    g.outYStep = sh;
    g.outX0 = ph.px;
    g.outXStep = sw;
    emitAll(g);
  }
  memref::DeallocOp::create(b, loc, packed);
  releaseSource();
  op.erase();
}

} // namespace

//===----------------------------------------------------------------------===//
// qat.depthwise_conv2d_backward_weight_f32: per block of 16 channels, one
// accumulator per kernel position, the sum over all pixels innermost
//===----------------------------------------------------------------------===//

void mlir::qat::f32::emitDepthwiseBackwardWeight(
    DepthwiseConv2DBackwardWeightF32Op op, KernelIsa isa, bool parallel) {
  class Emitter : public F32EmitterBase {
  public:
    using F32EmitterBase::F32EmitterBase;
    void run(DepthwiseConv2DBackwardWeightF32Op op) {
      readAdjointWindow(op);
      auto w = cast<MemRefType>(op.getInit().getType());
      int64_t kh = w.getDimSize(0), kw = w.getDimSize(1);
      int64_t cp = llvm::alignTo(c, 16);
      Value xs = source(op.getInput(), cp, parallel);
      Value dys = flatten(op.getGradOutput());
      Value dw = memref::CollapseShapeOp::create(
          b, loc, op.getInit(), ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
      // Kernel positions in groups of at most 24 accumulators.
      int64_t taps = kh * kw;
      for (int64_t t0 = 0; t0 < taps; t0 += 24) {
        int64_t nt = std::min<int64_t>(24, taps - t0);
        auto blocks = [&](Value c0, int64_t tail) {
          Value m = tail ? mask(tail) : Value();
          SmallVector<Value> init(nt, splat(0.0f));
          auto loopN = scf::ForOp::create(b, loc, idx(0), idx(n), idx(1), init);
          OpBuilder::InsertionGuard g0(b);
          b.setInsertionPointToStart(loopN.getBody());
          Value img = loopN.getInductionVar();
          auto loopY = scf::ForOp::create(b, loc, idx(0), idx(ho), idx(1),
                                          loopN.getRegionIterArgs());
          b.setInsertionPointToStart(loopY.getBody());
          Value oh = loopY.getInductionVar();
          Value xRow =
              add(mul(add(mul(img, hp), mul(oh, stride[0])), wp * cp), c0);
          Value dyRow = add(mul(add(mul(img, ho), oh), wo * c), c0);
          auto loopX = scf::ForOp::create(b, loc, idx(0), idx(wo), idx(1),
                                          loopY.getRegionIterArgs());
          b.setInsertionPointToStart(loopX.getBody());
          Value ow = loopX.getInductionVar();
          SmallVector<Value> accs(loopX.getRegionIterArgs());
          Value dyAt = add(dyRow, mul(ow, c));
          Value d = tail ? Value(vector::MaskedLoadOp::create(
                               b, loc, vecType(), dys, ValueRange{dyAt}, m,
                               splat(0.0f)))
                         : Value(vector::LoadOp::create(b, loc, vecType(), dys,
                                                        ValueRange{dyAt}));
          Value xAt = add(xRow, mul(ow, stride[1] * cp));
          for (int64_t i = 0; i < nt; ++i) {
            int64_t ky = (t0 + i) / kw, kx = (t0 + i) % kw;
            Value xv = vector::LoadOp::create(
                b, loc, vecType(), xs,
                ValueRange{
                    add(xAt, (ky * dilation[0] * wp + kx * dilation[1]) * cp)});
            accs[i] = madd(xv, d, accs[i]);
          }
          scf::YieldOp::create(b, loc, accs);
          b.setInsertionPointAfter(loopX);
          scf::YieldOp::create(b, loc, loopX.getResults());
          b.setInsertionPointAfter(loopY);
          scf::YieldOp::create(b, loc, loopY.getResults());
          b.setInsertionPointAfter(loopN);
          for (int64_t i = 0; i < nt; ++i) {
            SmallVector<Value, 2> at{idx(t0 + i), c0};
            if (tail)
              vector::MaskedStoreOp::create(b, loc, dw, at, m,
                                            loopN.getResult(i));
            else
              vector::StoreOp::create(b, loc, loopN.getResult(i), dw, at);
          }
        };
        int64_t whole = c / 16;
        if (whole)
          loopNest({whole * 16}, {16},
                   [&](ValueRange iv) { blocks(iv[0], 0); });
        if (c % 16)
          blocks(idx(whole * 16), c % 16);
      }
      releaseSource();
      op.erase();
    }
  };
  Emitter(op, isa, parallel).run(op);
}

void mlir::qat::f32::emitDepthwise(PackedDepthwiseConv2DF32Op op, KernelIsa isa,
                                   bool parallel, int64_t cols) {
  DepthwiseF32Emitter(op, isa, parallel, cols).emit();
}

void mlir::qat::f32::emitDepthwiseBackwardData(
    DepthwiseConv2DBackwardDataF32Op op, KernelIsa isa, bool parallel,
    int64_t cols) {
  DepthwiseBackwardDataF32Emitter(op, isa, parallel, cols).emit();
}
