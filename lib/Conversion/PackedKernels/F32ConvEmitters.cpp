//===- F32ConvEmitters.cpp - f32 convolution kernels and adjoints ---------===//
//
// qat.packed_conv2d_f32 (grouped too) and qat.conv2d_backward_data_f32 on
// the register tiles of GemmTileEmitter, qat.conv2d_backward_weight_f32 on
// tiles of output channels x window vectors, qat.pack_conv_weights_f32.
//
//===----------------------------------------------------------------------===//

#include "F32Emitters.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::f32;

namespace {

class ConvF32Emitter : GemmTileEmitter {
public:
  ConvF32Emitter(PackedConv2DF32Op op, KernelIsa isa, bool parallel,
                 int64_t rows, int64_t blocks)
      : GemmTileEmitter(op, isa, parallel, rows, blocks), op(op) {
    readWindow(op);
  }
  void emit() {
    auto w = cast<MemRefType>(op.getWeights().getType());
    groups = op.getNumGroups();
    groupInChannels = c / groups;
    int64_t kh = w.getDimSize(1), kwc = w.getDimSize(2),
            kw = kwc / groupInChannels;
    src = source(op.getInput(), c, parallel);
    weights = flatten(op.getWeights());
    bias = op.getBias();
    out = op.getInit();
    outChannels = co / groups;
    batch = n;
    epilogue = &op.getEpilogue();
    epilogueInputs = op.getEpilogueInputs();
    TileGeometry g;
    g.ys = ho;
    g.xs = wo;
    g.imgStride = hp * wp * c;
    g.rowStride = stride[0] * wp * c;
    g.colStride = stride[1] * c;
    g.taps = kh;
    g.tapStride = dilation[0] * wp * c;
    // The window of one kernel row: KW * C contiguous inputs when the
    // dilation is 1 and there is one group; else one run of a group's
    // channels per kernel column.
    bool contiguous = dilation[1] == 1 && groups == 1;
    g.runs = contiguous ? 1 : kw;
    g.runStride = dilation[1] * c;
    g.runLen = contiguous ? kwc : groupInChannels;
    g.wBlockStride = kh * kwc * 16;
    emitAll(g);
    releaseSource();
    op.erase();
  }

private:
  PackedConv2DF32Op op;
};

/// qat.conv2d_backward_data_f32 as sh x sw phases: the outputs dx[py + sh *
/// j, px + sw * i] (py < sh, px < sw) receive the taps ky with (py + top -
/// ky) divisible by sh (and likewise kx), from dy row j + (py + top - ky) /
/// sh: for a phase, a stride-1 correlation of a zero-padded copy of dy with
/// that phase's taps, rows and columns consecutive in dy (dilation 1). Each
/// phase's weights are packed when the kernel runs, in blocks of 16 input
/// channels: for its taps in ascending dy row (descending ky) and, in each,
/// its columns in ascending dy column (descending kx) times the O output
/// channels.
class BackwardDataF32Emitter : GemmTileEmitter {
public:
  BackwardDataF32Emitter(Conv2DBackwardDataF32Op op, KernelIsa isa,
                         bool parallel, int64_t rows, int64_t blocks)
      : GemmTileEmitter(op, isa, parallel, rows, blocks), op(op) {}

  void emit();

private:
  Conv2DBackwardDataF32Op op;
};

void BackwardDataF32Emitter::emit() {
  auto dyType = cast<MemRefType>(op.getGradOutput().getType());
  auto wType = cast<MemRefType>(op.getWeight().getType());
  auto dxType = cast<MemRefType>(op.getInit().getType());
  int64_t nImg = dxType.getDimSize(0), ci = dxType.getDimSize(3);
  int64_t o = dyType.getDimSize(3);
  int64_t kh = wType.getDimSize(1), kw = wType.getDimSize(2);
  ArrayRef<int64_t> st = op.getStride(), pd = op.getPad();
  int64_t sh = st[0], sw = st[1];
  SmallVector<StridePhase> phases =
      stridePhases(op.getGradOutput(), op.getInit(), kh, kw, st, pd);
  int64_t padT = pad[0], padL = pad[2];
  src = source(op.getGradOutput(), o, parallel);
  // The packed weights of every phase, blocks of 16 input channels.
  int64_t nbi = llvm::divideCeil(ci, 16);
  SmallVector<int64_t> offsets;
  int64_t total = 0;
  for (StridePhase &ph : phases) {
    offsets.push_back(total);
    total += nbi * int64_t(ph.ty.size() * ph.tx.size()) * o * 16;
  }
  Value packed = memref::AllocOp::create(
      b, loc, MemRefType::get({std::max<int64_t>(total, 16)}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  Value w = op.getWeight();
  for (auto [phaseIdx, phRef] : llvm::enumerate(phases)) {
    int64_t phase = phaseIdx;
    StridePhase &ph = phRef;
    int64_t runLen = int64_t(ph.tx.size()) * o;
    int64_t blockStride = int64_t(ph.ty.size()) * runLen * 16;
    for (auto [tIdx, kyIdx] : llvm::enumerate(ph.ty))
      for (auto [uIdx, kxIdx] : llvm::enumerate(ph.tx)) {
        int64_t t = tIdx, u = uIdx, ky = kyIdx, kx = kxIdx;
        // W[oc, ky, kx, 16k : 16k + 16] -> packed[offset + k * blockStride +
        // (t * runLen + u * O + oc) * 16].
        loopNest(
            {o, nbi}, {1, 1},
            [&](ValueRange iv) {
              Value oc = iv[0], k = iv[1];
              Value c0 = mul(k, 16);
              Value v;
              SmallVector<Value, 4> from{oc, idx(ky), idx(kx), c0};
              if (ci % 16 == 0) {
                v = vector::LoadOp::create(b, loc, vecType(), w, from);
              } else {
                // Lanes beyond I are 0.
                Value lanes = arith::SubIOp::create(b, loc, idx(ci), c0);
                Value m = vector::CreateMaskOp::create(
                    b, loc, VectorType::get({16}, b.getI1Type()),
                    ValueRange{lanes});
                v = vector::MaskedLoadOp::create(b, loc, vecType(), w, from, m,
                                                 splat(0.0f));
              }
              Value at =
                  add(add(mul(k, blockStride),
                          mul(add(oc, (int64_t(t) * int64_t(ph.tx.size()) +
                                       int64_t(u)) *
                                          o),
                              16)),
                      offsets[phase]);
              vector::StoreOp::create(b, loc, v, packed, ValueRange{at});
            },
            false);
      }
  }
  weights = packed;
  bias = Value();
  out = op.getInit();
  outChannels = ci;
  batch = nImg;
  epilogue = &op.getEpilogue();
  epilogueInputs = op.getEpilogueInputs();
  for (auto [phaseIdx, phRef] : llvm::enumerate(phases)) {
    int64_t phase = phaseIdx;
    StridePhase &ph = phRef;
    TileGeometry g;
    g.ys = ph.ys;
    g.xs = ph.xs;
    g.imgStride = hp * wp * o;
    g.rowStride = wp * o;
    g.colStride = o;
    g.srcOffset = ((ph.cy + padT) * wp + (ph.cx + padL)) * o;
    g.taps = ph.tx.empty() ? 0 : int64_t(ph.ty.size());
    g.tapStride = wp * o;
    g.runs = 1;
    g.runLen = int64_t(ph.tx.size()) * o;
    g.wOffset = offsets[phase];
    g.wBlockStride = int64_t(ph.ty.size()) * g.runLen * 16;
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

//===----------------------------------------------------------------------===//
// qat.conv2d_backward_weight_f32: register tiles of output channels x
// vectors of a kernel row's window, the sum over all pixels innermost
//===----------------------------------------------------------------------===//

/// dW[o, ky, kx * I + i] for a tile of `rows` output channels from o0 and
/// `vecs` vectors of 16 window elements from v0 (of kernel row ky): the
/// accumulators (rows x vecs, from 0.0) run over the pixels n, oh, ow in
/// order; each pixel broadcasts dy[n, oh, ow, o] per row and loads the
/// window vectors of x (a zero-padded copy with 16 elements of slack, so
/// that a partial last vector reads inside it).
class BackwardWeightF32Emitter : F32EmitterBase {
public:
  BackwardWeightF32Emitter(Conv2DBackwardWeightF32Op op, KernelIsa isa,
                           bool parallel, int64_t rows, int64_t vecs)
      : F32EmitterBase(op, isa, parallel), op(op), rowsOpt(rows),
        vecsOpt(vecs) {
    readAdjointWindow(op);
    auto w = cast<MemRefType>(op.getInit().getType());
    kh = w.getDimSize(1);
    kw = w.getDimSize(2);
  }
  void emit();

private:
  void emitTile(Value ky, Value o0, int64_t rows, Value v0, int64_t vecs,
                int64_t tail);

  Conv2DBackwardWeightF32Op op;
  int64_t rowsOpt, vecsOpt;
  int64_t kh = 0, kw = 0;
  Value xs, dys, out2;
};

void BackwardWeightF32Emitter::emitTile(Value ky, Value o0, int64_t rows,
                                        Value v0, int64_t vecs, int64_t tail) {
  int64_t run = kw * c;
  SmallVector<Value> init(rows * vecs, splat(0.0f));
  // Offset of pixel (img, oh, ow)'s window row ky, element v0 * 16:
  // ((img * Hp + oh * sh + ky * dh) * Wp + ow * sw) * C + v0 * 16.
  Value rowTap = mul(ky, dilation[0] * wp * c);
  Value col0 = add(rowTap, mul(v0, 16));
  auto loopN = scf::ForOp::create(b, loc, idx(0), idx(n), idx(1), init);
  {
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loopN.getBody());
    Value img = loopN.getInductionVar();
    auto loopY = scf::ForOp::create(b, loc, idx(0), idx(ho), idx(1),
                                    loopN.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g1(b);
      b.setInsertionPointToStart(loopY.getBody());
      Value oh = loopY.getInductionVar();
      Value xRow =
          add(add(mul(img, hp * wp * c), mul(oh, stride[0] * wp * c)), col0);
      Value dyRow = add(mul(add(mul(img, ho), oh), wo * co), o0);
      auto loopX = scf::ForOp::create(b, loc, idx(0), idx(wo), idx(1),
                                      loopY.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loopX.getBody());
        Value ow = loopX.getInductionVar();
        SmallVector<Value> accs(loopX.getRegionIterArgs());
        Value xAt = add(xRow, mul(ow, stride[1] * c));
        Value dyAt = add(dyRow, mul(ow, co));
        SmallVector<Value> xv(vecs);
        for (int64_t v = 0; v < vecs; ++v)
          xv[v] = vector::LoadOp::create(b, loc, vecType(), xs,
                                         ValueRange{add(xAt, v * 16)});
        for (int64_t r = 0; r < rows; ++r) {
          Value d =
              memref::LoadOp::create(b, loc, dys, ValueRange{add(dyAt, r)});
          Value dv = vector::BroadcastOp::create(b, loc, vecType(), d);
          for (int64_t v = 0; v < vecs; ++v) {
            Value &acc = accs[r * vecs + v];
            acc = madd(xv[v], dv, acc);
          }
        }
        scf::YieldOp::create(b, loc, accs);
      }
      scf::YieldOp::create(b, loc, loopX.getResults());
    }
    scf::YieldOp::create(b, loc, loopY.getResults());
  }
  // The epilogue and the store, in the O*KH x KW*I view of dW.
  Region &region = op.getEpilogue();
  for (int64_t r = 0; r < rows; ++r) {
    Value oc = add(o0, r);
    Value row = add(mul(oc, kh), ky);
    for (int64_t v = 0; v < vecs; ++v) {
      Value col = add(mul(v0, 16), v * 16);
      int64_t lanes = v == vecs - 1 ? tail : 0;
      SmallVector<Value> inputs;
      if (!region.empty())
        for (Value in : op.getEpilogueInputs()) {
          auto t = cast<MemRefType>(in.getType());
          // Full (O x KH x KW x I) inputs through the same 2-D view;
          // per-channel (O x 1 x 1 x 1) and scalar ones broadcast.
          if (t.getDimSize(3) != 1) {
            Value view = memref::CollapseShapeOp::create(
                b, loc, in, ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
            inputs.push_back(loadEpilogueInput(view, {row, col}, lanes));
          } else {
            inputs.push_back(
                loadEpilogueInput(in, {oc, idx(0), idx(0), idx(0)}, 0));
          }
        }
      Value val = applyEpilogue(region, inputs, loopN.getResult(r * vecs + v));
      if (lanes)
        vector::MaskedStoreOp::create(b, loc, out2, ValueRange{row, col},
                                      mask(lanes), val);
      else
        vector::StoreOp::create(b, loc, val, out2, ValueRange{row, col});
    }
  }
  (void)run;
}

void BackwardWeightF32Emitter::emit() {
  // x, zero-padded, with 16 elements of slack after it when the window's
  // last vector is partial (it reads past the end).
  xs = source(op.getInput(), c, parallel, (kw * c) % 16 ? 16 : 0);
  dys = flatten(op.getGradOutput());
  out2 = memref::CollapseShapeOp::create(
      b, loc, op.getInit(), ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
  int64_t run = kw * c, nv = llvm::divideCeil(run, 16);
  // Tile: rows of output channels x vectors of the window, within the
  // register budget; the cheapest in multiply-add slots (a tile of fewer
  // than 8 accumulators counts 8), then the fewest loads per fma.
  int64_t bestR = 1, bestV = 1;
  double bestCost = 1e300;
  for (int64_t v = 1; v <= std::min<int64_t>(nv, 7); ++v)
    for (int64_t r = 1; r * v <= 28 && r * v + v < 32; ++r) {
      if (vecsOpt && v != vecsOpt)
        continue;
      if (rowsOpt && r != rowsOpt)
        continue;
      auto slots = [&](int64_t rr, int64_t vv) {
        return double(std::max<int64_t>(rr * vv, 8));
      };
      double cost = 0;
      for (int64_t rr : {r, co % r})
        for (int64_t vv : {v, nv % v}) {
          if (!rr || !vv)
            continue;
          int64_t nr = rr == r ? co / r : 1, nvv = vv == v ? nv / v : 1;
          cost += double(nr * nvv) * slots(rr, vv) *
                  (1.0 + 0.25 * double(rr + vv) / double(rr * vv));
        }
      if (cost < bestCost) {
        bestCost = cost;
        bestR = r;
        bestV = v;
      }
    }
  int64_t tail = run % 16;
  int64_t fullR = co / bestR * bestR, fullV = nv / bestV * bestV;
  // Tiles over (ky, output-channel rows, window vectors); the partial ones
  // (the last rows, the last vectors) with static sizes.
  auto tiles = [&](int64_t r0, int64_t rs, int64_t rStep, int64_t vStart,
                   int64_t vs, int64_t vStep, bool lastV) {
    if (rs <= r0 || vs <= vStart)
      return;
    loopNest({kh, rs - r0, vs - vStart}, {1, rStep, vStep}, [&](ValueRange iv) {
      emitTile(iv[0], add(iv[1], r0), rStep, add(iv[2], vStart), vStep,
               lastV ? tail : 0);
    });
  };
  bool partialInFull = fullV == nv && tail;
  // Full vector tiles whose last vector is not the partial one.
  int64_t fullVNoTail = partialInFull ? fullV - bestV : fullV;
  tiles(0, fullR, bestR, 0, fullVNoTail, bestV, false);
  if (partialInFull)
    tiles(0, fullR, bestR, fullVNoTail, fullV, bestV, true);
  if (nv > fullV)
    tiles(0, fullR, bestR, fullV, nv, nv - fullV, tail != 0);
  if (co > fullR) {
    int64_t rr = co - fullR;
    tiles(fullR, co, rr, 0, fullVNoTail, bestV, false);
    if (partialInFull)
      tiles(fullR, co, rr, fullVNoTail, fullV, bestV, true);
    if (nv > fullV)
      tiles(fullR, co, rr, fullV, nv, nv - fullV, tail != 0);
  }
  releaseSource();
  op.erase();
}

} // namespace

//===----------------------------------------------------------------------===//
// qat.pack_conv_weights_f32
//===----------------------------------------------------------------------===//

/// OHWI -> NB x KH x (KW * C) x 16: for each block of 16 output channels and
/// each element of a kernel row's window, one vector gathered from the 16
/// channels' rows (a strided load per lane), stored whole.
void mlir::qat::f32::emitPackWeights(PackConvWeightsF32Op op, bool parallel) {
  OpBuilder b(op);
  Location loc = op.getLoc();
  auto wType = cast<MemRefType>(op.getWeights().getType());
  if (wType.getRank() == 2) {
    // A K x N matmul operand: each packed vector is 16 consecutive elements
    // of a row of B (the last block's lanes beyond N masked to 0.0).
    int64_t k = wType.getDimSize(0), nn = wType.getDimSize(1);
    int64_t nb = llvm::divideCeil(nn, 16);
    Value p = memref::CollapseShapeOp::create(
        b, loc, op.getInit(), ArrayRef<ReassociationIndices>{{0, 1, 2, 3}});
    auto vt = VectorType::get({16}, b.getF32Type());
    auto ci = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto outer = scf::ForOp::create(b, loc, ci(0), ci(k), ci(1));
    b.setInsertionPointToStart(outer.getBody());
    Value row = outer.getInductionVar();
    Value zero = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vt, b.getF32FloatAttr(0.0f)));
    for (int64_t blk = 0; blk < nb; ++blk) {
      int64_t lanes = std::min<int64_t>(16, nn - blk * 16);
      Value v;
      if (lanes == 16)
        v = vector::LoadOp::create(b, loc, vt, op.getWeights(),
                                   ValueRange{row, ci(blk * 16)});
      else
        v = vector::MaskedLoadOp::create(
            b, loc, vt, op.getWeights(), ValueRange{row, ci(blk * 16)},
            vector::ConstantMaskOp::create(b, loc,
                                           VectorType::get({16}, b.getI1Type()),
                                           ArrayRef<int64_t>{lanes}),
            zero);
      Value at = arith::MulIOp::create(
          b, loc, arith::AddIOp::create(b, loc, row, ci(blk * k)), ci(16));
      vector::StoreOp::create(b, loc, v, p, ValueRange{at});
    }
    (void)parallel;
    op.erase();
    return;
  }
  int64_t o = wType.getDimSize(0), kh = wType.getDimSize(1),
          kwc = wType.getDimSize(2) * wType.getDimSize(3);
  int64_t nb = llvm::divideCeil(o, 16);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value w = memref::CollapseShapeOp::create(
      b, loc, op.getWeights(),
      ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
  Value p = memref::CollapseShapeOp::create(
      b, loc, op.getInit(), ArrayRef<ReassociationIndices>{{0, 1, 2, 3}});
  auto vt = VectorType::get({16}, b.getF32Type());
  SmallVector<Value> lbs{idx(0), idx(0)}, ubs{idx(nb), idx(kh)},
      steps{idx(1), idx(1)};
  auto body = [&](OpBuilder &nb0, Location l, ValueRange iv) {
    OpBuilder::InsertionGuard g(b);
    Value blk = iv[0], ky = iv[1];
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(kwc), idx(1));
    b.setInsertionPointToStart(loop.getBody());
    Value j = loop.getInductionVar();
    Value v = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vt, b.getF32FloatAttr(0.0f)));
    for (int64_t lane = 0; lane < 16; ++lane) {
      Value oc = arith::AddIOp::create(
          b, loc, arith::MulIOp::create(b, loc, blk, idx(16)), idx(lane));
      auto load = [&]() -> Value {
        return memref::LoadOp::create(b, loc, w, ValueRange{oc, ky, j});
      };
      Value e;
      if (o % 16 == 0) {
        e = load();
      } else {
        Value inside = arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult,
                                             oc, idx(o));
        auto ifOp =
            scf::IfOp::create(b, loc, TypeRange{b.getF32Type()}, inside, true);
        {
          OpBuilder::InsertionGuard gi(b);
          b.setInsertionPointToStart(ifOp.thenBlock());
          scf::YieldOp::create(b, loc, load());
          b.setInsertionPointToStart(ifOp.elseBlock());
          scf::YieldOp::create(b, loc,
                               ValueRange{arith::ConstantOp::create(
                                   b, loc, b.getF32FloatAttr(0.0f))});
        }
        e = ifOp.getResult(0);
      }
      v = vector::InsertOp::create(b, loc, e, v, ArrayRef<int64_t>{lane});
    }
    Value at = arith::MulIOp::create(
        b, loc,
        arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(
                b, loc,
                arith::AddIOp::create(
                    b, loc, arith::MulIOp::create(b, loc, blk, idx(kh)), ky),
                idx(kwc)),
            j),
        idx(16));
    vector::StoreOp::create(b, loc, v, p, ValueRange{at});
  };
  if (parallel) {
    auto loop = scf::ParallelOp::create(b, loc, lbs, ubs, steps);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    body(b, loc, loop.getInductionVars());
  } else {
    auto outer = scf::ForOp::create(b, loc, lbs[0], ubs[0], steps[0]);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(outer.getBody());
    auto inner = scf::ForOp::create(b, loc, lbs[1], ubs[1], steps[1]);
    b.setInsertionPointToStart(inner.getBody());
    body(b, loc, {outer.getInductionVar(), inner.getInductionVar()});
  }
  op.erase();
}

void mlir::qat::f32::emitConv(PackedConv2DF32Op op, KernelIsa isa,
                              bool parallel, int64_t rows, int64_t blocks) {
  ConvF32Emitter(op, isa, parallel, rows, blocks).emit();
}

void mlir::qat::f32::emitBackwardData(Conv2DBackwardDataF32Op op, KernelIsa isa,
                                      bool parallel, int64_t rows,
                                      int64_t blocks) {
  BackwardDataF32Emitter(op, isa, parallel, rows, blocks).emit();
}

void mlir::qat::f32::emitBackwardWeight(Conv2DBackwardWeightF32Op op,
                                        KernelIsa isa, bool parallel) {
  BackwardWeightF32Emitter(op, isa, parallel, 0, 0).emit();
}
