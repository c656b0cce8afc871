//===- LowerPackedKernels.cpp - qat-lower-packed-kernels ------------------===//
//
// qat.packed_conv2d on memrefs to a padded unsigned copy of the input and a
// register-tiled loop nest: `rows` output pixels x `blocks` * 16 output
// channels of int32 accumulators (vector<16xi32>) carried through the loops
// over kernel rows, kernel columns and groups of 4 input channels, each step
// one broadcast of 4 input bytes per pixel and one dot product (vpdpbusd or
// its portable form) per accumulator; the requantization epilogue stores i8.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERPACKEDKERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

enum class Isa { Vnni, Portable };

/// Emits the code of one qat.packed_conv2d on memrefs.
class KernelEmitter {
public:
  KernelEmitter(PackedConv2DOp op, Isa isa, int64_t rows, int64_t blocks)
      : op(op), isa(isa), rowsPerTile(rows), blocksPerTile(blocks), b(op),
        loc(op.getLoc()) {
    auto in = cast<MemRefType>(op.getInput().getType());
    auto w = cast<MemRefType>(op.getWeights().getType());
    auto out = cast<MemRefType>(op.getInit().getType());
    n = in.getDimSize(0);
    h = in.getDimSize(1);
    wIn = in.getDimSize(2);
    c = in.getDimSize(3);
    nb = w.getDimSize(0);
    kh = w.getDimSize(1);
    kw = w.getDimSize(2);
    c4 = w.getDimSize(3);
    ho = out.getDimSize(1);
    wo = out.getDimSize(2);
    co = out.getDimSize(3);
    stride.assign(op.getStride().begin(), op.getStride().end());
    dilation.assign(op.getDilation().begin(), op.getDilation().end());
    pad.assign(op.getPad().begin(), op.getPad().end());
    hp = h + pad[0] + pad[1];
    wp = wIn + pad[2] + pad[3];
  }

  void emit();

private:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value i32Splat(int64_t v) {
    auto t = VectorType::get({16}, b.getI32Type());
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(t, b.getI32IntegerAttr(v)));
  }
  Value f32Splat(float v) {
    auto t = VectorType::get({16}, b.getF32Type());
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(t, b.getF32FloatAttr(v)));
  }
  Value flatten(Value memref);
  Value padInput();
  Value dot(Value acc, Value a, Value w);
  void emitTile(Value pixel, int64_t rows, Value block, int64_t blocks,
                bool partialLast);
  void emitRows(Value block, int64_t blocks, bool partialLast);

  PackedConv2DOp op;
  Isa isa;
  int64_t rowsPerTile, blocksPerTile;
  OpBuilder b;
  Location loc;
  int64_t n, h, wIn, c, nb, kh, kw, c4, ho, wo, co, hp, wp;
  SmallVector<int64_t> stride, dilation, pad;
  Value padded, weights, bias, mult;
};

/// A 1-D view of a contiguous memref.
Value KernelEmitter::flatten(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 1)
    return memref;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return memref::CollapseShapeOp::create(b, loc, memref,
                                         ArrayRef<ReassociationIndices>{all});
}

/// The input as unsigned codes (x + 128, i.e. x xor 0x80) in a buffer
/// N x Hp x Wp x 4*C4 whose border and extra channels hold the padding code.
Value KernelEmitter::padInput() {
  int64_t cp = c4 * 4;
  // Rounded up to whole 64-byte vectors, so the fill needs no tail.
  int64_t total = llvm::alignTo(n * hp * wp * cp, 64);
  auto type = MemRefType::get({total}, b.getI8Type());
  Value buf = memref::AllocOp::create(b, loc, type, b.getI64IntegerAttr(64));
  bool covered =
      pad[0] == 0 && pad[1] == 0 && pad[2] == 0 && pad[3] == 0 && cp == c;
  auto v64 = VectorType::get({64}, b.getI8Type());
  if (!covered) {
    int8_t fill = int8_t(op.getInputZeroPoint() + 128);
    Value splat = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(v64, b.getI8IntegerAttr(fill)));
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(total), idx(64));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    vector::StoreOp::create(b, loc, splat, buf,
                            ValueRange{loop.getInductionVar()});
  }
  // Rows of C codes: masked 64-byte chunks, xor 0x80.
  Value input = op.getInput();
  Value flip = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(v64, b.getI8IntegerAttr(-128)));
  auto rowLoop = scf::ForOp::create(b, loc, idx(0), idx(n * h * wIn), idx(1));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(rowLoop.getBody());
  Value r = rowLoop.getInductionVar();
  Value x = arith::RemUIOp::create(b, loc, r, idx(wIn));
  Value rest = arith::DivUIOp::create(b, loc, r, idx(wIn));
  Value y = arith::RemUIOp::create(b, loc, rest, idx(h));
  Value img = arith::DivUIOp::create(b, loc, rest, idx(h));
  // Destination offset of (img, y + pad top, x + pad left, 0).
  Value dRow =
      arith::AddIOp::create(b, loc, arith::MulIOp::create(b, loc, img, idx(hp)),
                            arith::AddIOp::create(b, loc, y, idx(pad[0])));
  Value dPix = arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, dRow, idx(wp)),
      arith::AddIOp::create(b, loc, x, idx(pad[2])));
  Value dst = arith::MulIOp::create(b, loc, dPix, idx(cp));
  Value pass = arith::ConstantOp::create(
      b, loc, DenseElementsAttr::get(v64, b.getI8IntegerAttr(0)));
  for (int64_t c0 = 0; c0 < c; c0 += 64) {
    int64_t len = std::min<int64_t>(64, c - c0);
    Value at = arith::AddIOp::create(b, loc, dst, idx(c0));
    Value v;
    if (len == 64) {
      v = vector::LoadOp::create(b, loc, v64, input,
                                 ValueRange{img, y, x, idx(c0)});
    } else {
      Value mask = vector::ConstantMaskOp::create(
          b, loc, VectorType::get({64}, b.getI1Type()), ArrayRef<int64_t>{len});
      v = vector::MaskedLoadOp::create(
          b, loc, v64, input, ValueRange{img, y, x, idx(c0)}, mask, pass);
    }
    v = arith::XOrIOp::create(b, loc, v, flip);
    if (len == 64) {
      vector::StoreOp::create(b, loc, v, buf, ValueRange{at});
    } else {
      Value mask = vector::ConstantMaskOp::create(
          b, loc, VectorType::get({64}, b.getI1Type()), ArrayRef<int64_t>{len});
      vector::MaskedStoreOp::create(b, loc, buf, ValueRange{at}, mask, v);
    }
  }
  return buf;
}

/// acc + sum over groups of 4 of u8(a) * s8(w).
Value KernelEmitter::dot(Value acc, Value a, Value w) {
  auto v16 = VectorType::get({16}, b.getI32Type());
  if (isa == Isa::Vnni)
    return LLVM::CallIntrinsicOp::create(
               b, loc, v16, b.getStringAttr("llvm.x86.avx512.vpdpbusd.512"),
               ValueRange{acc, a, w})
        .getResult(0);
  auto v64 = VectorType::get({64}, b.getI32Type());
  Value ae = arith::ExtUIOp::create(b, loc, v64, a);
  Value we = arith::ExtSIOp::create(b, loc, v64, w);
  Value p = arith::MulIOp::create(b, loc, ae, we);
  Value sum = acc;
  for (int64_t j = 0; j < 4; ++j) {
    SmallVector<int64_t> lanes;
    for (int64_t i = 0; i < 16; ++i)
      lanes.push_back(i * 4 + j);
    Value part = vector::ShuffleOp::create(b, loc, p, p, lanes);
    sum = arith::AddIOp::create(b, loc, sum, part);
  }
  return sum;
}

/// One register tile: `rows` pixels from `pixel`, `blocks` blocks of 16
/// output channels from `block`.
void KernelEmitter::emitTile(Value pixel, int64_t rows, Value block,
                             int64_t blocks, bool partialLast) {
  int64_t cp = c4 * 4;
  // Pixel coordinates and the offset of each pixel's window in `padded`.
  SmallVector<Value> img(rows), oy(rows), ox(rows), base(rows);
  for (int64_t i = 0; i < rows; ++i) {
    Value p = arith::AddIOp::create(b, loc, pixel, idx(i));
    ox[i] = arith::RemUIOp::create(b, loc, p, idx(wo));
    Value rest = arith::DivUIOp::create(b, loc, p, idx(wo));
    oy[i] = arith::RemUIOp::create(b, loc, rest, idx(ho));
    img[i] = arith::DivUIOp::create(b, loc, rest, idx(ho));
    Value row = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, img[i], idx(hp)),
        arith::MulIOp::create(b, loc, oy[i], idx(stride[0])));
    Value pix = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, row, idx(wp)),
        arith::MulIOp::create(b, loc, ox[i], idx(stride[1])));
    base[i] = arith::MulIOp::create(b, loc, pix, idx(cp));
  }
  auto v16 = VectorType::get({16}, b.getI32Type());
  auto v64 = VectorType::get({64}, b.getI8Type());
  auto v4 = VectorType::get({4}, b.getI8Type());
  SmallVector<Value> init(rows * blocks, i32Splat(0));
  // Weight offset of (block + j, ky, kx, g, 0, 0).
  auto loopKy = scf::ForOp::create(b, loc, idx(0), idx(kh), idx(1), init);
  {
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loopKy.getBody());
    Value ky = loopKy.getInductionVar();
    auto loopKx = scf::ForOp::create(b, loc, idx(0), idx(kw), idx(1),
                                     loopKy.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g1(b);
      b.setInsertionPointToStart(loopKx.getBody());
      Value kx = loopKx.getInductionVar();
      // Tap offset (ky * d0 * Wp + kx * d1) * Cp, weight offset of the tap.
      Value tap = arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, ky, idx(dilation[0] * wp)),
              arith::MulIOp::create(b, loc, kx, idx(dilation[1]))),
          idx(cp));
      Value wTap = arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(b, loc,
                                arith::MulIOp::create(b, loc, ky, idx(kw)), kx),
          idx(c4 * 64));
      auto loopG = scf::ForOp::create(b, loc, idx(0), idx(c4), idx(1),
                                      loopKx.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loopG.getBody());
        Value grp = loopG.getInductionVar();
        Value aOff = arith::AddIOp::create(
            b, loc, tap, arith::MulIOp::create(b, loc, grp, idx(4)));
        Value wOff = arith::AddIOp::create(
            b, loc, wTap, arith::MulIOp::create(b, loc, grp, idx(64)));
        SmallVector<Value> wv(blocks);
        for (int64_t j = 0; j < blocks; ++j) {
          // ((block + j) * KH * KW * C4) * 64 + wOff
          Value blk = arith::AddIOp::create(b, loc, block, idx(j));
          Value at = arith::AddIOp::create(
              b, loc,
              arith::MulIOp::create(b, loc, blk, idx(kh * kw * c4 * 64)), wOff);
          wv[j] = vector::LoadOp::create(b, loc, v64, weights, ValueRange{at});
        }
        SmallVector<Value> accs(loopG.getRegionIterArgs());
        for (int64_t i = 0; i < rows; ++i) {
          Value at = arith::AddIOp::create(b, loc, base[i], aOff);
          Value a4 = vector::LoadOp::create(b, loc, v4, padded, ValueRange{at});
          Value a1 = vector::BitCastOp::create(
              b, loc, VectorType::get({1}, b.getI32Type()), a4);
          Value s = vector::ExtractOp::create(b, loc, a1, ArrayRef<int64_t>{0});
          Value bc = vector::BroadcastOp::create(b, loc, v16, s);
          Value a = vector::BitCastOp::create(b, loc, v64, bc);
          for (int64_t j = 0; j < blocks; ++j)
            accs[i * blocks + j] = dot(accs[i * blocks + j], a, wv[j]);
        }
        scf::YieldOp::create(b, loc, accs);
      }
      scf::YieldOp::create(b, loc, loopG.getResults());
    }
    scf::YieldOp::create(b, loc, loopKx.getResults());
  }
  // Epilogue.
  auto f16 = VectorType::get({16}, b.getF32Type());
  auto i8x16 = VectorType::get({16}, b.getI8Type());
  int64_t zp = op.getOutputZeroPoint();
  int64_t lo = op.getQuantMin(), hi = op.getQuantMax();
  Value tLo = f32Splat(float(lo - zp - 1)), tHi = f32Splat(float(hi - zp + 1));
  Value zpV = i32Splat(zp), loV = i32Splat(lo), hiV = i32Splat(hi);
  Value resZp, resMult;
  if (op.getResidual()) {
    resZp = f32Splat(float(int64_t(*op.getResidualZeroPoint())));
    resMult = f32Splat(op.getResidualMultiplier()->convertToFloat());
  }
  Value out = op.getInit();
  for (int64_t j = 0; j < blocks; ++j) {
    Value blk = arith::AddIOp::create(b, loc, block, idx(j));
    Value c0 = arith::MulIOp::create(b, loc, blk, idx(16));
    Value bv = vector::LoadOp::create(b, loc, v16, bias, ValueRange{c0});
    Value mv = vector::LoadOp::create(b, loc, f16, mult, ValueRange{c0});
    // The last block of a partial channel count holds `tail` channels. Its
    // lanes are read and written one by one: LLVM 22 miscompiles a masked
    // i8 store with one active lane into a 4-byte store (vmovd).
    int64_t tail = partialLast && j == blocks - 1 ? co % 16 : 0;
    for (int64_t i = 0; i < rows; ++i) {
      Value acc =
          arith::AddIOp::create(b, loc, loopKy.getResult(i * blocks + j), bv);
      Value t = arith::MulFOp::create(
          b, loc, arith::SIToFPOp::create(b, loc, f16, acc), mv);
      SmallVector<Value, 4> at{img[i], oy[i], ox[i], c0};
      if (op.getResidual()) {
        Value r;
        if (tail) {
          r = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(i8x16, b.getI8IntegerAttr(0)));
          for (int64_t l = 0; l < tail; ++l) {
            SmallVector<Value, 4> lane(at);
            lane.back() = arith::AddIOp::create(b, loc, c0, idx(l));
            Value e = memref::LoadOp::create(b, loc, op.getResidual(), lane);
            r = vector::InsertOp::create(b, loc, e, r, ArrayRef<int64_t>{l});
          }
        } else {
          r = vector::LoadOp::create(b, loc, i8x16, op.getResidual(), at);
        }
        Value u = arith::MulFOp::create(
            b, loc,
            arith::SubFOp::create(
                b, loc, arith::SIToFPOp::create(b, loc, f16, r), resZp),
            resMult);
        t = arith::AddFOp::create(b, loc, t, u);
      }
      // clamp(roundeven(t) + zp): bounding t first keeps the conversion in
      // range without changing the clamped code.
      t = arith::MinimumFOp::create(
          b, loc, arith::MaximumFOp::create(b, loc, t, tLo), tHi);
      Value q = arith::FPToSIOp::create(b, loc, v16,
                                        math::RoundEvenOp::create(b, loc, t));
      q = arith::AddIOp::create(b, loc, q, zpV);
      q = arith::MinSIOp::create(b, loc, arith::MaxSIOp::create(b, loc, q, loV),
                                 hiV);
      Value q8 = arith::TruncIOp::create(b, loc, i8x16, q);
      if (tail) {
        for (int64_t l = 0; l < tail; ++l) {
          SmallVector<Value, 4> lane(at);
          lane.back() = arith::AddIOp::create(b, loc, c0, idx(l));
          Value e = vector::ExtractOp::create(b, loc, q8, ArrayRef<int64_t>{l});
          memref::StoreOp::create(b, loc, e, out, lane);
        }
      } else {
        vector::StoreOp::create(b, loc, q8, out, at);
      }
    }
  }
}

/// All pixels for the blocks [block, block + blocks): full tiles of
/// `rowsPerTile` pixels in a loop, then one tile of the rest.
void KernelEmitter::emitRows(Value block, int64_t blocks, bool partialLast) {
  int64_t pixels = n * ho * wo;
  int64_t full = pixels / rowsPerTile * rowsPerTile;
  if (full) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(full), idx(rowsPerTile));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    emitTile(loop.getInductionVar(), rowsPerTile, block, blocks, partialLast);
  }
  if (pixels > full)
    emitTile(idx(full), pixels - full, block, blocks, partialLast);
}

void KernelEmitter::emit() {
  padded = padInput();
  weights = flatten(op.getWeights());
  bias = op.getBias();
  mult = op.getMultiplier();
  // Blocks of output channels outermost: a tile's weights stay in cache
  // across the pixel loop.
  // A partial last block (Co % 16 != 0) is never inside the loop: the tile
  // that holds it has a static block index.
  int64_t loopBlocks = co % 16 ? nb - 1 : nb;
  int64_t full = loopBlocks / blocksPerTile * blocksPerTile;
  if (full) {
    auto loop =
        scf::ForOp::create(b, loc, idx(0), idx(full), idx(blocksPerTile));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    emitRows(loop.getInductionVar(), blocksPerTile, false);
  }
  // The rest (at most blocksPerTile blocks, with the partial one last).
  for (int64_t at = full; at < nb; at += blocksPerTile) {
    int64_t count = std::min(blocksPerTile, nb - at);
    emitRows(idx(at), count, co % 16 && at + count == nb);
  }
  memref::DeallocOp::create(b, loc, padded);
  op.erase();
}

struct LowerPackedKernelsPass
    : qat::impl::LowerPackedKernelsPassBase<LowerPackedKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
    Isa which;
    if (isa == "vnni")
      which = Isa::Vnni;
    else if (isa == "portable")
      which = Isa::Portable;
    else {
      getOperation().emitError("qat-lower-packed-kernels: unknown isa '")
          << isa << "' (expected vnni or portable)";
      return signalPassFailure();
    }
    int64_t r = rows, bl = blocks;
    if (r < 0 || bl < 0 || r * bl > 28) {
      getOperation().emitError("qat-lower-packed-kernels: rows x blocks "
                               "accumulators must be at most 28, got ")
          << r << " x " << bl;
      return signalPassFailure();
    }
    SmallVector<PackedConv2DOp> ops;
    getOperation().walk([&](PackedConv2DOp op) { ops.push_back(op); });
    for (PackedConv2DOp op : ops) {
      if (op.getNumResults()) {
        op.emitOpError("must be bufferized before qat-lower-packed-kernels");
        return signalPassFailure();
      }
      auto w = cast<MemRefType>(op.getWeights().getType());
      auto in = cast<MemRefType>(op.getInput().getType());
      auto out = cast<MemRefType>(op.getInit().getType());
      if (!w.getLayout().isIdentity() || !in.isLastDimUnitStride() ||
          !out.isLastDimUnitStride() ||
          !cast<MemRefType>(op.getBias().getType()).getLayout().isIdentity() ||
          !cast<MemRefType>(op.getMultiplier().getType())
               .getLayout()
               .isIdentity()) {
        op.emitOpError("needs identity-layout weights, bias and multiplier "
                       "and unit-stride channels");
        return signalPassFailure();
      }
      // Default tile: up to 4 blocks of 16 channels, and as many pixels as
      // keep about 24 accumulators in flight (fewer channels, more pixels).
      int64_t nb = w.getDimSize(0);
      int64_t tileBlocks = bl ? bl : std::min<int64_t>(4, nb);
      int64_t tileRows = r ? r : std::max<int64_t>(1, 24 / tileBlocks);
      KernelEmitter(op, which, tileRows, tileBlocks).emit();
    }
  }
};

} // namespace
