//===- LowerF32Kernels.cpp - qat-lower-f32-kernels ------------------------===//
//
// qat.packed_conv2d_f32 and qat.packed_depthwise_conv2d_f32 on memrefs to
// register-tiled loops: a zero-padded copy of the input when the kernel pads,
// `rows` output pixels x `blocks` * 16 output channels of vector<16xf32>
// accumulators started at the bias and carried through the loops over kernel
// rows and over each kernel row's window (kernel columns x channels,
// contiguous in NHWC), one broadcast per pixel and one weight vector per block
// per step; the epilogue region is applied to each accumulator vector before
// its store.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERF32KERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

enum class F32Isa { Avx512, Portable };

/// What one depthwise multiply-accumulate costs against a convolution's,
/// for `min-parallel-macs` (one tap per lane, no reuse across channels).
constexpr int64_t kDepthwiseMacWeight = 8;

/// Builder helpers shared by the f32 emitters.
class F32EmitterBase {
public:
  F32EmitterBase(Operation *op, F32Isa isa, bool parallel)
      : b(op), loc(op->getLoc()), isa(isa), parallel(parallel) {}

protected:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
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
        b, loc, VectorType::get({16}, b.getI1Type()),
        ArrayRef<int64_t>{lanes});
  }
  /// acc + a * w: one fma (avx512) or a product and a sum (portable).
  /// math.fma becomes llvm.intr.fma, rounded once on every target
  /// (vector.fma becomes llvm.intr.fmuladd, which the backend may split).
  Value madd(Value a, Value w, Value acc) {
    if (isa == F32Isa::Avx512)
      return math::FmaOp::create(b, loc, a, w, acc);
    return arith::AddFOp::create(b, loc, acc,
                                 arith::MulFOp::create(b, loc, a, w));
  }
  /// `body(ivs)` in a loop nest over [0, ubs[i]) by steps[i]: one
  /// scf.parallel when `parallel`, else nested scf.for.
  void loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                function_ref<void(ValueRange)> body, bool par) {
    OpBuilder::InsertionGuard g(b);
    SmallVector<Value> lbs, ubv, stv;
    for (auto [ub, step] : llvm::zip(ubs, steps)) {
      lbs.push_back(idx(0));
      ubv.push_back(idx(ub));
      stv.push_back(idx(step));
    }
    if (par) {
      auto loop = scf::ParallelOp::create(b, loc, lbs, ubv, stv);
      b.setInsertionPointToStart(loop.getBody());
      body(loop.getInductionVars());
      return;
    }
    SmallVector<Value> ivs;
    for (auto [lb, ub, step] : llvm::zip(lbs, ubv, stv)) {
      auto loop = scf::ForOp::create(b, loc, lb, ub, step);
      b.setInsertionPointToStart(loop.getBody());
      ivs.push_back(loop.getInductionVar());
    }
    body(ivs);
  }
  void loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                function_ref<void(ValueRange)> body) {
    loopNest(ubs, steps, body, parallel);
  }
  /// A 1-D view of a contiguous memref.
  Value flatten(Value memref) {
    auto type = cast<MemRefType>(memref.getType());
    if (type.getRank() == 1)
      return memref;
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    return memref::CollapseShapeOp::create(
        b, loc, memref, ArrayRef<ReassociationIndices>{all});
  }

  /// The input geometry: N x H x W x C in, Ho x Wo out, the window
  /// attributes and the padded size Hp x Wp.
  template <typename OpTy> void readWindow(OpTy op) {
    auto in = cast<MemRefType>(op.getInput().getType());
    auto out = cast<MemRefType>(op.getInit().getType());
    n = in.getDimSize(0);
    h = in.getDimSize(1);
    wIn = in.getDimSize(2);
    c = in.getDimSize(3);
    ho = out.getDimSize(1);
    wo = out.getDimSize(2);
    co = out.getDimSize(3);
    stride.assign(op.getStride().begin(), op.getStride().end());
    dilation.assign(op.getDilation().begin(), op.getDilation().end());
    pad.assign(op.getPad().begin(), op.getPad().end());
    hp = h + pad[0] + pad[1];
    wp = wIn + pad[2] + pad[3];
  }

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
  void epilogueAndStore(Region &region, ValueRange inputs, Value out,
                        Value acc, Value img, Value oy, Value ox, Value c0,
                        int64_t tail);
  /// The vector of 16 elements of epilogue input `in` (broadcasting to the
  /// output) at output indices `at` (the last one the first channel).
  Value loadEpilogueInput(Value in, ArrayRef<Value> at, int64_t tail);
  /// The epilogue region (may be empty) on the accumulator vector, with
  /// the epilogue inputs' vectors.
  Value applyEpilogue(Region &region, ArrayRef<Value> inputs, Value acc);

  OpBuilder b;
  Location loc;
  F32Isa isa;
  bool parallel;
  int64_t n = 0, h = 0, wIn = 0, c = 0, ho = 0, wo = 0, co = 0, hp = 0,
          wp = 0;
  SmallVector<int64_t> stride, dilation, pad;
  Value copiedSource;
};

Value F32EmitterBase::source(Value input, int64_t cp, bool par,
                             int64_t slack) {
  auto type = cast<MemRefType>(input.getType());
  if (llvm::all_of(pad, [](int64_t p) { return p == 0; }) && cp == c &&
      type.getLayout().isIdentity() && !slack)
    return flatten(input);
  int64_t total = n * hp * wp * cp;
  auto bufType = MemRefType::get({total + slack}, b.getF32Type());
  Value buf = memref::AllocOp::create(b, loc, bufType, b.getI64IntegerAttr(64));
  copiedSource = buf;
  Value zero = splat(0.0f);
  for (int64_t i = 0; i < slack; i += 16)
    vector::MaskedStoreOp::create(b, loc, buf, ValueRange{idx(total + i)},
                                  mask(std::min<int64_t>(16, slack - i)),
                                  zero);
  // Zeros: `len` floats from `start`, whole vectors and a masked one.
  auto fill = [&](Value start, int64_t len) {
    int64_t whole = len / 16;
    if (whole > 4) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      vector::StoreOp::create(b, loc, zero, buf,
                              ValueRange{add(start, loop.getInductionVar())});
    } else {
      for (int64_t i = 0; i < whole; ++i)
        vector::StoreOp::create(b, loc, zero, buf,
                                ValueRange{add(start, i * 16)});
    }
    if (len % 16)
      vector::MaskedStoreOp::create(b, loc, buf,
                                    ValueRange{add(start, whole * 16)},
                                    mask(len % 16), zero);
  };
  int64_t rowLen = wp * cp;
  if (pad[0] || pad[1])
    loopNest(
        {n}, {1},
        [&](ValueRange iv) {
          Value base = mul(iv[0], hp * rowLen);
          fill(base, pad[0] * rowLen);
          fill(add(base, (pad[0] + h) * rowLen), pad[1] * rowLen);
        },
        par);
  loopNest(
      {n * h}, {1},
      [&](ValueRange iv) {
        Value y = arith::RemUIOp::create(b, loc, iv[0], idx(h));
        Value img = arith::DivUIOp::create(b, loc, iv[0], idx(h));
        Value rowStart = mul(add(mul(img, hp), add(y, pad[0])), rowLen);
        fill(rowStart, pad[2] * cp);
        fill(add(rowStart, (pad[2] + wIn) * cp), pad[3] * cp);
        Value dst0 = add(rowStart, pad[2] * cp);
        if (cp == c && type.getLayout().isIdentity()) {
          // The row is contiguous in the input: copy it in vectors.
          Value flatIn = flatten(input);
          Value src0 = mul(add(mul(img, h), y), wIn * c);
          int64_t len = wIn * c, whole = len / 16;
          if (whole) {
            auto loop =
                scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(loop.getBody());
            Value i = loop.getInductionVar();
            Value v = vector::LoadOp::create(b, loc, vecType(), flatIn,
                                             ValueRange{add(src0, i)});
            vector::StoreOp::create(b, loc, v, buf, ValueRange{add(dst0, i)});
          }
          if (len % 16) {
            Value v = vector::MaskedLoadOp::create(
                b, loc, vecType(), flatIn, ValueRange{add(src0, whole * 16)},
                mask(len % 16), zero);
            vector::MaskedStoreOp::create(b, loc, buf,
                                          ValueRange{add(dst0, whole * 16)},
                                          mask(len % 16), v);
          }
          return;
        }
        // Pixel by pixel, 16 channels at a time (channels beyond C: 0).
        auto loop = scf::ForOp::create(b, loc, idx(0), idx(wIn), idx(1));
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value x = loop.getInductionVar();
        Value dst = add(dst0, mul(x, cp));
        for (int64_t c0 = 0; c0 < cp; c0 += 16) {
          int64_t loadLen = std::clamp<int64_t>(c - c0, 0, 16);
          int64_t storeLen = std::min<int64_t>(16, cp - c0);
          SmallVector<Value, 4> from{img, y, x, idx(c0)};
          Value v = zero;
          if (loadLen == 16)
            v = vector::LoadOp::create(b, loc, vecType(), input, from);
          else if (loadLen > 0)
            v = vector::MaskedLoadOp::create(b, loc, vecType(), input, from,
                                             mask(loadLen), zero);
          if (storeLen == 16)
            vector::StoreOp::create(b, loc, v, buf, ValueRange{add(dst, c0)});
          else
            vector::MaskedStoreOp::create(b, loc, buf,
                                          ValueRange{add(dst, c0)},
                                          mask(storeLen), v);
        }
      },
      par);
  return buf;
}

Value F32EmitterBase::loadEpilogueInput(Value in, ArrayRef<Value> at,
                                        int64_t tail) {
  auto t = cast<MemRefType>(in.getType());
  SmallVector<Value, 4> idxs;
  for (int64_t d = 0; d < t.getRank(); ++d)
    idxs.push_back(t.getDimSize(d) == 1 ? idx(0) : at[d]);
  auto vt = VectorType::get({16}, t.getElementType());
  if (t.getDimSize(t.getRank() - 1) == 1)
    return vector::BroadcastOp::create(
        b, loc, vt, memref::LoadOp::create(b, loc, in, idxs));
  if (tail) {
    Value pass = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vt, b.getZeroAttr(t.getElementType())));
    return vector::MaskedLoadOp::create(b, loc, vt, in, idxs, mask(tail),
                                        pass);
  }
  return vector::LoadOp::create(b, loc, vt, in, idxs);
}

Value F32EmitterBase::applyEpilogue(Region &region, ArrayRef<Value> inputs,
                                    Value acc) {
  if (region.empty())
    return acc;
  Block &block = region.front();
  IRMapping mapping;
  mapping.map(block.getArgument(0), acc);
  for (auto [i, in] : llvm::enumerate(inputs))
    mapping.map(block.getArgument(i + 1), in);
  // The region's scalar ops on vector<16x...>: constants become splats,
  // values from outside the region broadcasts.
  auto vectorOf = [&](Value s) -> Value {
    if (Value m = mapping.lookupOrNull(s))
      return m;
    Value bc = vector::BroadcastOp::create(
        b, loc, VectorType::get({16}, s.getType()), s);
    mapping.map(s, bc);
    return bc;
  };
  for (Operation &op : block.without_terminator()) {
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      auto vt = VectorType::get({16}, cst.getType());
      mapping.map(cst.getResult(),
                  arith::ConstantOp::create(
                      b, loc, DenseElementsAttr::get(vt, cst.getValue())));
      continue;
    }
    OperationState state(loc, op.getName());
    for (Value operand : op.getOperands())
      state.operands.push_back(vectorOf(operand));
    for (Type t : op.getResultTypes())
      state.types.push_back(VectorType::get({16}, t));
    state.addAttributes(op.getAttrs());
    Operation *vop = b.create(state);
    mapping.map(op.getResult(0), vop->getResult(0));
  }
  return vectorOf(cast<YieldOp>(block.getTerminator()).getValues()[0]);
}

void F32EmitterBase::epilogueAndStore(Region &region, ValueRange inputs,
                                      Value out, Value acc, Value img,
                                      Value oy, Value ox, Value c0,
                                      int64_t tail) {
  SmallVector<Value> vectors;
  if (!region.empty())
    for (Value in : inputs)
      vectors.push_back(loadEpilogueInput(in, {img, oy, ox, c0}, tail));
  Value v = applyEpilogue(region, vectors, acc);
  SmallVector<Value, 4> at{img, oy, ox, c0};
  if (tail)
    vector::MaskedStoreOp::create(b, loc, out, at, mask(tail), v);
  else
    vector::StoreOp::create(b, loc, v, out, at);
}

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
  GemmTileEmitter(Operation *op, F32Isa isa, bool parallel, int64_t rows,
                  int64_t blocks)
      : F32EmitterBase(op, isa, parallel), rowsOpt(rows), blocksOpt(blocks) {}

protected:
  /// All tiles of one geometry: groups of `blocks` blocks of 16 output
  /// channels outermost (their weights stay in cache across the pixel
  /// tiles), then one group of the remaining blocks with a static index (the
  /// partial last block, if any, is there); full pixel tiles, then one of
  /// the rest.
  void emitAll(const TileGeometry &g);
  void emitTile(const TileGeometry &g, Value pixel, int64_t rows,
                Value block, int64_t blocks, bool partialLast);

  int64_t rowsOpt, blocksOpt;
  // Set by the op's emitter: the 1-D source and weights, the bias (or null
  // for 0.0), the output, its channel count and the epilogue.
  Value src, weights, bias, out;
  int64_t outChannels = 0, batch = 0;
  Region *epilogue = nullptr;
  ValueRange epilogueInputs;
};

/// Pixels per register tile for `blocks` blocks: the R (accumulators R x
/// blocks, plus the blocks' weights and a broadcast, within the 32 vector
/// registers) whose tiles, the last one partial, cost the fewest
/// multiply-add slots, counting a tile of fewer than 8 accumulators as 8 (the
/// fma latency it cannot hide); the larger R on a tie.
static int64_t defaultRows(int64_t pixels, int64_t blocks) {
  int64_t best = 1, bestCost = INT64_MAX;
  for (int64_t rows = 1; rows * blocks <= 28 && rows * blocks + blocks < 32;
       ++rows) {
    auto cost = [&](int64_t r) { return std::max<int64_t>(r * blocks, 8); };
    int64_t c = pixels / rows * cost(rows) +
                (pixels % rows ? cost(pixels % rows) : 0);
    if (c <= bestCost) {
      best = rows;
      bestCost = c;
    }
  }
  return best;
}

void GemmTileEmitter::emitTile(const TileGeometry &g, Value pixel,
                               int64_t rows, Value block, int64_t blocks,
                               bool partialLast) {
  SmallVector<Value> img(rows), oy(rows), ox(rows), base(rows);
  for (int64_t i = 0; i < rows; ++i) {
    Value p = add(pixel, i);
    Value x = arith::RemUIOp::create(b, loc, p, idx(g.xs));
    Value rest = arith::DivUIOp::create(b, loc, p, idx(g.xs));
    Value y = arith::RemUIOp::create(b, loc, rest, idx(g.ys));
    img[i] = arith::DivUIOp::create(b, loc, rest, idx(g.ys));
    base[i] = add(add(add(mul(img[i], g.imgStride), mul(y, g.rowStride)),
                      mul(x, g.colStride)),
                  g.srcOffset);
    oy[i] = add(mul(y, g.outYStep), g.outY0);
    ox[i] = add(mul(x, g.outXStep), g.outX0);
  }
  // Accumulators start at the bias of their block (or 0.0).
  SmallVector<Value> biasV(blocks), init;
  for (int64_t j = 0; j < blocks; ++j)
    biasV[j] = bias ? Value(vector::LoadOp::create(
                          b, loc, vecType(), bias,
                          ValueRange{mul(add(block, j), 16)}))
                    : splat(0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < blocks; ++j)
      init.push_back(biasV[j]);
  SmallVector<Value> wBase(blocks);
  for (int64_t j = 0; j < blocks; ++j)
    wBase[j] = add(mul(add(block, j), g.wBlockStride), g.wOffset);
  auto loopKy = scf::ForOp::create(b, loc, idx(0), idx(g.taps), idx(1), init);
  {
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loopKy.getBody());
    Value ky = loopKy.getInductionVar();
    Value rowOff = mul(ky, g.tapStride);
    Value wRow = mul(ky, g.runs * g.runLen * 16);
    auto loopKx = scf::ForOp::create(b, loc, idx(0), idx(g.runs), idx(1),
                                     loopKy.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g1(b);
      b.setInsertionPointToStart(loopKx.getBody());
      Value kx = loopKx.getInductionVar();
      Value aRun = add(rowOff, mul(kx, g.runStride));
      Value wRun = add(wRow, mul(kx, g.runLen * 16));
      auto loopJ = scf::ForOp::create(b, loc, idx(0), idx(g.runLen), idx(1),
                                      loopKx.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loopJ.getBody());
        Value j = loopJ.getInductionVar();
        SmallVector<Value> accs(loopJ.getRegionIterArgs());
        Value aOff = add(aRun, j);
        Value wOff = add(wRun, mul(j, 16));
        SmallVector<Value> wv(blocks);
        for (int64_t k = 0; k < blocks; ++k)
          wv[k] = vector::LoadOp::create(b, loc, vecType(), weights,
                                         ValueRange{add(wBase[k], wOff)});
        for (int64_t i = 0; i < rows; ++i) {
          Value a = memref::LoadOp::create(b, loc, src,
                                           ValueRange{add(base[i], aOff)});
          Value av = vector::BroadcastOp::create(b, loc, vecType(), a);
          for (int64_t k = 0; k < blocks; ++k) {
            Value &acc = accs[i * blocks + k];
            acc = madd(av, wv[k], acc);
          }
        }
        scf::YieldOp::create(b, loc, accs);
      }
      scf::YieldOp::create(b, loc, loopJ.getResults());
    }
    scf::YieldOp::create(b, loc, loopKx.getResults());
  }
  for (int64_t k = 0; k < blocks; ++k) {
    Value c0 = mul(add(block, k), 16);
    int64_t tail = partialLast && k == blocks - 1 ? outChannels % 16 : 0;
    for (int64_t i = 0; i < rows; ++i)
      epilogueAndStore(*epilogue, epilogueInputs, out,
                       loopKy.getResult(i * blocks + k), img[i], oy[i], ox[i],
                       c0, tail);
  }
}

void GemmTileEmitter::emitAll(const TileGeometry &g) {
  int64_t nb = llvm::divideCeil(outChannels, 16);
  int64_t pixels = batch * g.ys * g.xs;
  if (!pixels)
    return;
  // A GEMV (one pixel) takes 8 blocks per tile: 8 independent accumulators
  // cover the fma latency (one block would wait on it).
  int64_t blocksPerTile =
      blocksOpt ? blocksOpt : std::min<int64_t>(pixels == 1 ? 8 : 4, nb);
  int64_t rowsPerTile = rowsOpt ? rowsOpt : defaultRows(pixels, blocksPerTile);
  int64_t loopBlocks = outChannels % 16 ? nb - 1 : nb;
  int64_t full = loopBlocks / blocksPerTile * blocksPerTile;
  int64_t rest = nb - full;
  auto pixelTiles = [&](Value block, int64_t blocks, bool partialLast,
                        int64_t groups, int64_t rows) {
    int64_t fullPixels = pixels / rows * rows;
    // Split by pixels when a group does not fill whole 64-byte lines of a
    // pixel's output (threads would share the lines).
    bool pixelsOuter = outChannels % 64 || blocks * 16 % 64;
    if (fullPixels && groups) {
      if (pixelsOuter)
        loopNest({fullPixels, groups * blocks}, {rows, blocks},
                 [&](ValueRange iv) {
                   emitTile(g, iv[0], rows, block ? block : iv[1], blocks,
                            partialLast);
                 });
      else
        loopNest({groups * blocks, fullPixels}, {blocks, rows},
                 [&](ValueRange iv) {
                   emitTile(g, iv[1], rows, block ? block : iv[0], blocks,
                            partialLast);
                 });
    }
    if (pixels > fullPixels && groups)
      loopNest({groups * blocks}, {blocks}, [&](ValueRange iv) {
        emitTile(g, idx(fullPixels), pixels - fullPixels,
                 block ? block : iv[0], blocks, partialLast);
      });
  };
  if (full)
    pixelTiles(Value(), blocksPerTile, false, full / blocksPerTile,
               rowsPerTile);
  if (rest)
    pixelTiles(idx(full), rest, outChannels % 16 != 0, 1,
               rowsOpt ? rowsOpt : defaultRows(pixels, rest));
}

class ConvF32Emitter : GemmTileEmitter {
public:
  ConvF32Emitter(PackedConv2DF32Op op, F32Isa isa, bool parallel,
                 int64_t rows, int64_t blocks)
      : GemmTileEmitter(op, isa, parallel, rows, blocks), op(op) {
    readWindow(op);
  }
  void emit() {
    auto w = cast<MemRefType>(op.getWeights().getType());
    int64_t kh = w.getDimSize(1), kwc = w.getDimSize(2), kw = kwc / c;
    src = source(op.getInput(), c, parallel);
    weights = flatten(op.getWeights());
    bias = op.getBias();
    out = op.getInit();
    outChannels = co;
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
    // dilation is 1; else one run of C per kernel column.
    g.runs = dilation[1] == 1 ? 1 : kw;
    g.runStride = dilation[1] * c;
    g.runLen = dilation[1] == 1 ? kwc : c;
    g.wBlockStride = kh * kwc * 16;
    emitAll(g);
    releaseSource();
    op.erase();
  }

private:
  PackedConv2DF32Op op;
};

/// The kernel positions of stride phase `p` along one dimension (dilation
/// 1): the k with (p + padLo - k) divisible by s, by descending k (ascending
/// dy index (p + padLo - k) / s), the first dy index in `first`.
static SmallVector<int64_t> phaseTaps(int64_t p, int64_t k, int64_t s,
                                      int64_t padLo, int64_t &first) {
  SmallVector<int64_t> taps;
  for (int64_t kk = k - 1; kk >= 0; --kk)
    if ((p + padLo - kk) % s == 0)
      taps.push_back(kk);
  first = taps.empty() ? 0 : (p + padLo - taps.front()) / s;
  return taps;
}

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
  BackwardDataF32Emitter(Conv2DBackwardDataF32Op op, F32Isa isa,
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
  int64_t nImg = dxType.getDimSize(0), hIn = dxType.getDimSize(1),
          wInput = dxType.getDimSize(2), ci = dxType.getDimSize(3);
  int64_t hOut = dyType.getDimSize(1), wOut = dyType.getDimSize(2),
          o = dyType.getDimSize(3);
  int64_t kh = wType.getDimSize(1), kw = wType.getDimSize(2);
  ArrayRef<int64_t> st = op.getStride(), pd = op.getPad();
  int64_t sh = st[0], sw = st[1];
  // The phases, and the zero border dy needs so that every read of every
  // phase is inside the copy.
  struct Phase {
    int64_t py, px, ys, xs, cy, cx;
    SmallVector<int64_t> ty, tx;
  };
  SmallVector<Phase> phases;
  int64_t padT = 0, padB = 0, padL = 0, padR = 0;
  for (int64_t py = 0; py < std::min(sh, hIn); ++py)
    for (int64_t px = 0; px < std::min(sw, wInput); ++px) {
      Phase ph;
      ph.py = py;
      ph.px = px;
      ph.ys = (hIn - py + sh - 1) / sh;
      ph.xs = (wInput - px + sw - 1) / sw;
      ph.ty = phaseTaps(py, kh, sh, pd[0], ph.cy);
      ph.tx = phaseTaps(px, kw, sw, pd[2], ph.cx);
      if (!ph.ty.empty() && !ph.tx.empty()) {
        padT = std::max(padT, -ph.cy);
        padB = std::max<int64_t>(padB, ph.ys - 1 + ph.cy + int64_t(ph.ty.size()) -
                                           1 - (hOut - 1));
        padL = std::max(padL, -ph.cx);
        padR = std::max<int64_t>(padR, ph.xs - 1 + ph.cx + int64_t(ph.tx.size()) -
                                           1 - (wOut - 1));
      }
      phases.push_back(std::move(ph));
    }
  // dy as the source, padded: the base class's geometry is dy's.
  n = nImg;
  h = hOut;
  wIn = wOut;
  c = o;
  pad = {padT, padB, padL, padR};
  hp = h + padT + padB;
  wp = wIn + padL + padR;
  src = source(op.getGradOutput(), o, parallel);
  // The packed weights of every phase, blocks of 16 input channels.
  int64_t nbi = llvm::divideCeil(ci, 16);
  SmallVector<int64_t> offsets;
  int64_t total = 0;
  for (Phase &ph : phases) {
    offsets.push_back(total);
    total += nbi * int64_t(ph.ty.size() * ph.tx.size()) * o * 16;
  }
  Value packed = memref::AllocOp::create(
      b, loc, MemRefType::get({std::max<int64_t>(total, 16)}, b.getF32Type()),
      b.getI64IntegerAttr(64));
  Value w = op.getWeight();
  for (auto [phaseIdx, phRef] : llvm::enumerate(phases)) {
    int64_t phase = phaseIdx;
    Phase &ph = phRef;
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
              Value at = add(add(mul(k, blockStride),
                                 mul(add(oc, (int64_t(t) * int64_t(ph.tx.size()) + int64_t(u)) * o), 16)),
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
    Phase &ph = phRef;
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
// qat.pack_conv_weights_f32
//===----------------------------------------------------------------------===//

/// OHWI -> NB x KH x (KW * C) x 16: for each block of 16 output channels and
/// each element of a kernel row's window, one vector gathered from the 16
/// channels' rows (a strided load per lane), stored whole.
static void emitPackWeights(PackConvWeightsF32Op op, bool parallel) {
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
            vector::ConstantMaskOp::create(
                b, loc, VectorType::get({16}, b.getI1Type()),
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
      b, loc, op.getWeights(), ArrayRef<ReassociationIndices>{{0}, {1}, {2, 3}});
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
        auto ifOp = scf::IfOp::create(b, loc, TypeRange{b.getF32Type()},
                                      inside, true);
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
  BackwardWeightF32Emitter(Conv2DBackwardWeightF32Op op, F32Isa isa,
                           bool parallel, int64_t rows, int64_t vecs)
      : F32EmitterBase(op, isa, parallel), op(op), rowsOpt(rows),
        vecsOpt(vecs) {
    readWindow2();
  }
  void emit();

private:
  void readWindow2() {
    auto x = cast<MemRefType>(op.getInput().getType());
    auto dy = cast<MemRefType>(op.getGradOutput().getType());
    auto w = cast<MemRefType>(op.getInit().getType());
    n = x.getDimSize(0);
    h = x.getDimSize(1);
    wIn = x.getDimSize(2);
    c = x.getDimSize(3);
    ho = dy.getDimSize(1);
    wo = dy.getDimSize(2);
    co = dy.getDimSize(3);
    kh = w.getDimSize(1);
    kw = w.getDimSize(2);
    stride.assign(op.getStride().begin(), op.getStride().end());
    dilation.assign(op.getDilation().begin(), op.getDilation().end());
    pad.assign(op.getPad().begin(), op.getPad().end());
    hp = h + pad[0] + pad[1];
    wp = wIn + pad[2] + pad[3];
  }
  void emitTile(Value ky, Value o0, int64_t rows, Value v0, int64_t vecs,
                int64_t tail);

  Conv2DBackwardWeightF32Op op;
  int64_t rowsOpt, vecsOpt;
  int64_t kh = 0, kw = 0;
  Value xs, dys, out2;
};

void BackwardWeightF32Emitter::emitTile(Value ky, Value o0, int64_t rows,
                                        Value v0, int64_t vecs,
                                        int64_t tail) {
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
      Value xRow = add(add(mul(img, hp * wp * c), mul(oh, stride[0] * wp * c)),
                       col0);
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
          Value d = memref::LoadOp::create(b, loc, dys,
                                           ValueRange{add(dyAt, r)});
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
            inputs.push_back(loadEpilogueInput(
                in, {oc, idx(0), idx(0), idx(0)}, 0));
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
    loopNest({kh, rs - r0, vs - vStart}, {1, rStep, vStep},
             [&](ValueRange iv) {
               emitTile(iv[0], add(iv[1], r0), rStep, add(iv[2], vStart),
                        vStep, lastV ? tail : 0);
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
  DepthwiseTileEmitter(Operation *op, F32Isa isa, bool parallel,
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

void DepthwiseTileEmitter::emitTile(const DepthwiseGeometry &g, Value img,
                                    Value y, Value x0, int64_t cols) {
  // Offset of (img, y * rowStep, x0 * colStep, 0) in the source.
  Value rowBase = mul(add(mul(img, srcH), mul(y, g.rowStep)), srcW * cp);
  Value tileBase = add(rowBase, mul(mul(x0, g.colStep), cp));
  Value oy = add(mul(y, g.outYStep), g.outY0);
  int64_t maxCol = 0;
  for (int64_t c : g.tapCols)
    maxCol = std::max(maxCol, c);
  int64_t span = (cols - 1) * g.colStep + maxCol + 1;
  auto blockLoop = [&](Value c0, int64_t tail) {
    // The sum starts at 0 and the bias is added after it (the op's
    // contract, TOSA's order).
    SmallVector<Value> accs(cols, splat(0.0f));
    for (auto [t, tapRow] : llvm::enumerate(g.tapRows)) {
      Value rowOff = add(add(tileBase, tapRow * srcW * cp), c0);
      // Each input column once, shared by the pixels whose windows hold it.
      SmallVector<Value> colV(span);
      auto column = [&](int64_t xcol) {
        if (!colV[xcol])
          colV[xcol] = vector::LoadOp::create(
              b, loc, vecType(), src, ValueRange{add(rowOff, xcol * cp)});
        return colV[xcol];
      };
      for (auto [u, tapCol] : llvm::enumerate(g.tapCols)) {
        Value wv = vector::LoadOp::create(
            b, loc, vecType(), weights,
            ValueRange{add(c0, (g.wRows[t] * kw + g.wCols[u]) * cp)});
        for (int64_t i = 0; i < cols; ++i)
          accs[i] = madd(column(i * g.colStep + tapCol), wv, accs[i]);
      }
    }
    Value bv = bias ? Value(vector::LoadOp::create(b, loc, vecType(), bias,
                                                   ValueRange{c0}))
                    : Value();
    for (int64_t i = 0; i < cols; ++i) {
      Value acc = bv ? Value(arith::AddFOp::create(b, loc, bv, accs[i]))
                     : accs[i];
      Value ox = add(mul(add(x0, i), g.outXStep), g.outX0);
      epilogueAndStore(*epilogue, epilogueInputs, out, acc, img, oy, ox, c0,
                       tail);
    }
  };
  int64_t whole = channels / 16;
  if (whole) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loop.getBody());
    blockLoop(loop.getInductionVar(), 0);
  }
  if (channels % 16)
    blockLoop(idx(whole * 16), channels % 16);
}

void DepthwiseTileEmitter::emitAll(const DepthwiseGeometry &g) {
  if (!g.ys || !g.xs)
    return;
  int64_t tiles = g.xs / tileCols;
  loopNest({batch * g.ys}, {1}, [&](ValueRange iv) {
    Value y = arith::RemUIOp::create(b, loc, iv[0], idx(g.ys));
    Value img = arith::DivUIOp::create(b, loc, iv[0], idx(g.ys));
    if (tiles) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(tiles * tileCols),
                                     idx(tileCols));
      OpBuilder::InsertionGuard g0(b);
      b.setInsertionPointToStart(loop.getBody());
      emitTile(g, img, y, loop.getInductionVar(), tileCols);
    }
    if (g.xs % tileCols)
      emitTile(g, img, y, idx(tiles * tileCols), g.xs % tileCols);
  });
}

class DepthwiseF32Emitter : DepthwiseTileEmitter {
public:
  DepthwiseF32Emitter(PackedDepthwiseConv2DF32Op op, F32Isa isa,
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
                                  F32Isa isa, bool parallel, int64_t cols)
      : DepthwiseTileEmitter(op, isa, parallel, cols), op(op) {}
  void emit();

private:
  DepthwiseConv2DBackwardDataF32Op op;
};

void DepthwiseBackwardDataF32Emitter::emit() {
  auto dyType = cast<MemRefType>(op.getGradOutput().getType());
  auto wType = cast<MemRefType>(op.getWeight().getType());
  auto dxType = cast<MemRefType>(op.getInit().getType());
  int64_t nImg = dxType.getDimSize(0), hIn = dxType.getDimSize(1),
          wInput = dxType.getDimSize(2), ch = dxType.getDimSize(3);
  int64_t hOut = dyType.getDimSize(1), wOut = dyType.getDimSize(2);
  int64_t kh = wType.getDimSize(0);
  kw = wType.getDimSize(1);
  cp = llvm::alignTo(ch, 16);
  ArrayRef<int64_t> st = op.getStride(), pd = op.getPad();
  int64_t sh = st[0], sw = st[1];
  struct Phase {
    int64_t py, px, ys, xs, cy, cx;
    SmallVector<int64_t> ty, tx;
  };
  SmallVector<Phase> phases;
  int64_t padT = 0, padB = 0, padL = 0, padR = 0;
  for (int64_t py = 0; py < std::min(sh, hIn); ++py)
    for (int64_t px = 0; px < std::min(sw, wInput); ++px) {
      Phase ph;
      ph.py = py;
      ph.px = px;
      ph.ys = (hIn - py + sh - 1) / sh;
      ph.xs = (wInput - px + sw - 1) / sw;
      ph.ty = phaseTaps(py, kh, sh, pd[0], ph.cy);
      ph.tx = phaseTaps(px, kw, sw, pd[2], ph.cx);
      if (!ph.ty.empty() && !ph.tx.empty()) {
        padT = std::max(padT, -ph.cy);
        padB = std::max<int64_t>(
            padB, ph.ys - 1 + ph.cy + int64_t(ph.ty.size()) - 1 - (hOut - 1));
        padL = std::max(padL, -ph.cx);
        padR = std::max<int64_t>(
            padR, ph.xs - 1 + ph.cx + int64_t(ph.tx.size()) - 1 - (wOut - 1));
      }
      phases.push_back(std::move(ph));
    }
  n = nImg;
  h = hOut;
  wIn = wOut;
  c = ch;
  pad = {padT, padB, padL, padR};
  hp = h + padT + padB;
  wp = wIn + padL + padR;
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
            b, loc, vecType(), wFlat, ValueRange{add(mul(iv[0], ch), iv[1])},
            m, splat(0.0f));
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
  for (Phase &ph : phases) {
    DepthwiseGeometry g;
    g.ys = ph.ys;
    g.xs = ph.xs;
    for (auto [t, ky] : llvm::enumerate(ph.tx.empty() ? SmallVector<int64_t>()
                                                      : ph.ty)) {
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

//===----------------------------------------------------------------------===//
// qat.depthwise_conv2d_backward_weight_f32: per block of 16 channels, one
// accumulator per kernel position, the sum over all pixels innermost
//===----------------------------------------------------------------------===//

static void emitDepthwiseBackwardWeight(DepthwiseConv2DBackwardWeightF32Op op,
                                        F32Isa isa, bool parallel) {
  class Emitter : public F32EmitterBase {
  public:
    using F32EmitterBase::F32EmitterBase;
    void run(DepthwiseConv2DBackwardWeightF32Op op) {
      auto x = cast<MemRefType>(op.getInput().getType());
      auto dy = cast<MemRefType>(op.getGradOutput().getType());
      auto w = cast<MemRefType>(op.getInit().getType());
      n = x.getDimSize(0);
      h = x.getDimSize(1);
      wIn = x.getDimSize(2);
      c = x.getDimSize(3);
      ho = dy.getDimSize(1);
      wo = dy.getDimSize(2);
      int64_t kh = w.getDimSize(0), kw = w.getDimSize(1);
      stride.assign(op.getStride().begin(), op.getStride().end());
      dilation.assign(op.getDilation().begin(), op.getDilation().end());
      pad.assign(op.getPad().begin(), op.getPad().end());
      hp = h + pad[0] + pad[1];
      wp = wIn + pad[2] + pad[3];
      int64_t cp = llvm::alignTo(c, 16);
      Value xs = source(op.getInput(), cp, parallel);
      Value dys = flatten(op.getGradOutput());
      Value dw = memref::CollapseShapeOp::create(
          b, loc, op.getInit(),
          ArrayRef<ReassociationIndices>{{0, 1}, {2, 3}});
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
          Value xRow = add(mul(add(mul(img, hp), mul(oh, stride[0])), wp * cp),
                           c0);
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
                ValueRange{add(xAt, (ky * dilation[0] * wp + kx * dilation[1]) *
                                        cp)});
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

/// Replaces each memref operand of `op` whose layout is not the identity by
/// a contiguous copy (memref.alloc + memref.copy before `op`, dealloc after
/// it); the DPS init (the last operand) is copied in before and back after.
static void identityOperands(Operation *op) {
  OpBuilder before(op), after(op->getContext());
  after.setInsertionPointAfter(op);
  Location loc = op->getLoc();
  unsigned last = op->getNumOperands() - 1;
  for (unsigned i = 0; i <= last; ++i) {
    Value v = op->getOperand(i);
    auto t = cast<MemRefType>(v.getType());
    if (t.getLayout().isIdentity())
      continue;
    auto contiguous = MemRefType::get(t.getShape(), t.getElementType());
    Value copy = memref::AllocOp::create(before, loc, contiguous);
    memref::CopyOp::create(before, loc, v, copy);
    op->setOperand(i, copy);
    if (i == last)
      memref::CopyOp::create(after, loc, copy, v);
    memref::DeallocOp::create(after, loc, copy);
  }
}

struct LowerF32KernelsPass
    : qat::impl::LowerF32KernelsPassBase<LowerF32KernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    F32Isa which;
    if (isa == "avx512")
      which = F32Isa::Avx512;
    else if (isa == "portable")
      which = F32Isa::Portable;
    else {
      getOperation().emitError("qat-lower-f32-kernels: unknown isa '")
          << isa << "' (expected avx512 or portable)";
      return signalPassFailure();
    }
    int64_t r = rows, bl = blocks;
    if (r < 0 || bl < 0 || r * bl > 28) {
      getOperation().emitError("qat-lower-f32-kernels: rows x blocks "
                               "accumulators must be at most 28, got ")
          << r << " x " << bl;
      return signalPassFailure();
    }
    auto check = [](Operation *op) {
      if (op->getNumResults()) {
        op->emitOpError("must be bufferized before qat-lower-f32-kernels");
        return false;
      }
      for (Value v : op->getOperands()) {
        auto t = cast<MemRefType>(v.getType());
        if (!t.isLastDimUnitStride()) {
          op->emitOpError("needs unit-stride innermost dimensions, got ")
              << t;
          return false;
        }
      }
      auto identity = [](Value v) {
        return cast<MemRefType>(v.getType()).getLayout().isIdentity();
      };
      if (!identity(op->getOperand(1)) || !identity(op->getOperand(2))) {
        op->emitOpError("needs identity-layout weights and bias");
        return false;
      }
      return true;
    };
    SmallVector<PackedDepthwiseConv2DF32Op> dws;
    getOperation().walk(
        [&](PackedDepthwiseConv2DF32Op op) { dws.push_back(op); });
    for (PackedDepthwiseConv2DF32Op op : dws) {
      if (!check(op))
        return signalPassFailure();
      auto out = cast<MemRefType>(op.getInit().getType());
      auto w = cast<MemRefType>(op.getWeights().getType());
      int64_t macs = out.getNumElements() * w.getDimSize(0) *
                     w.getDimSize(1) * kDepthwiseMacWeight;
      DepthwiseF32Emitter(op, which, parallel && macs >= minParallelMacs, 8)
          .emit();
    }
    SmallVector<Operation *> kernels;
    getOperation().walk([&](Operation *op) {
      if (llvm::isa<PackedConv2DF32Op, Conv2DBackwardDataF32Op,
                    Conv2DBackwardWeightF32Op, PackConvWeightsF32Op,
                    DepthwiseConv2DBackwardDataF32Op,
                    DepthwiseConv2DBackwardWeightF32Op>(op))
        kernels.push_back(op);
    });
    for (Operation *op : kernels) {
      if (auto pack = dyn_cast<PackConvWeightsF32Op>(op)) {
        if (pack.getNumResults()) {
          op->emitOpError("must be bufferized before qat-lower-f32-kernels");
          return signalPassFailure();
        }
        emitPackWeights(pack, false);
        continue;
      }
      if (auto conv = dyn_cast<PackedConv2DF32Op>(op)) {
        if (!check(op))
          return signalPassFailure();
        auto w = cast<MemRefType>(conv.getWeights().getType());
        auto out = cast<MemRefType>(conv.getInit().getType());
        int64_t macs = out.getNumElements() * w.getDimSize(1) *
                       w.getDimSize(2);
        ConvF32Emitter(conv, which, parallel && macs >= minParallelMacs, r, bl)
            .emit();
        continue;
      }
      // The backward kernels: unpacked operands, identity layouts needed
      // only for unit-stride channels.
      if (op->getNumResults()) {
        op->emitOpError("must be bufferized before qat-lower-f32-kernels");
        return signalPassFailure();
      }
      // Operands in another layout (a subview: the slice that a strided
      // convolution's export takes of its input) are copied to contiguous
      // buffers first; a result in another layout is copied back after.
      identityOperands(op);
      if (auto bwd = dyn_cast<Conv2DBackwardDataF32Op>(op)) {
        auto dy = cast<MemRefType>(bwd.getGradOutput().getType());
        auto w = cast<MemRefType>(bwd.getWeight().getType());
        int64_t macs = dy.getNumElements() * w.getNumElements() /
                       w.getDimSize(0);
        BackwardDataF32Emitter(bwd, which, parallel && macs >= minParallelMacs,
                               r, bl)
            .emit();
        continue;
      }
      if (auto bwd = dyn_cast<DepthwiseConv2DBackwardDataF32Op>(op)) {
        auto dx = cast<MemRefType>(bwd.getInit().getType());
        auto w = cast<MemRefType>(bwd.getWeight().getType());
        int64_t macs = dx.getNumElements() * w.getDimSize(0) *
                       w.getDimSize(1) * kDepthwiseMacWeight;
        DepthwiseBackwardDataF32Emitter(
            bwd, which, parallel && macs >= minParallelMacs, 8)
            .emit();
        continue;
      }
      if (auto bwd = dyn_cast<DepthwiseConv2DBackwardWeightF32Op>(op)) {
        auto dy = cast<MemRefType>(bwd.getGradOutput().getType());
        auto w = cast<MemRefType>(bwd.getInit().getType());
        int64_t macs = dy.getNumElements() * w.getDimSize(0) *
                       w.getDimSize(1) * kDepthwiseMacWeight;
        emitDepthwiseBackwardWeight(bwd, which,
                                    parallel && macs >= minParallelMacs);
        continue;
      }
      auto bwd = cast<Conv2DBackwardWeightF32Op>(op);
      auto dy = cast<MemRefType>(bwd.getGradOutput().getType());
      auto w = cast<MemRefType>(bwd.getInit().getType());
      int64_t macs = dy.getNumElements() * w.getNumElements() / w.getDimSize(0);
      BackwardWeightF32Emitter(bwd, which, parallel && macs >= minParallelMacs,
                               0, 0)
          .emit();
    }
  }
};

} // namespace
