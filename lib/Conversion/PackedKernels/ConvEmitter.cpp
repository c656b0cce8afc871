//===- ConvEmitter.cpp - qat.packed_conv2d to register tiles --------------===//
//
// qat.packed_conv2d on memrefs to a padded unsigned copy of the input (or the
// input read in place) and a register-tiled loop nest: `rows` output pixels
// x `blocks` * 16 output channels of int32 accumulators (vector<16xi32>)
// carried through the loops over kernel rows, kernel columns and groups of 4
// input channels, each step one broadcast of 4 input bytes per pixel and one
// dot product (vpdpbusd or its portable form) per accumulator; the
// requantization epilogue stores i8.
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::packed;

namespace {

/// Emits the code of one qat.packed_conv2d on memrefs.
class KernelEmitter : EmitterBase {
public:
  KernelEmitter(PackedConv2DOp op, KernelIsa isa, bool parallel, int64_t rows,
                int64_t blocks)
      : EmitterBase(op, isa, parallel), op(op), rowsPerTile(rows),
        blocksPerTile(blocks) {
    readWindow(op);
    auto w = cast<MemRefType>(op.getWeights().getType());
    nb = w.getDimSize(0);
    kh = w.getDimSize(1);
    kw = w.getDimSize(2);
    c4 = w.getDimSize(3);
    co = cast<MemRefType>(op.getInit().getType()).getDimSize(3);
  }

  void emit();

private:
  Value dot(Value acc, Value a, Value w);
  void emitTile(Value pixel, int64_t rows, Value block, int64_t blocks,
                bool partialLast);

  PackedConv2DOp op;
  int64_t rowsPerTile, blocksPerTile;
  int64_t nb, kh, kw, c4, co;
  Value padded, weights, bias, mult;
  /// Signed codes read in place, made unsigned (xor 0x80) after their
  /// broadcast.
  bool flipInLoop = false;
};

/// acc + sum over groups of 4 of u8(a) * s8(w).
Value KernelEmitter::dot(Value acc, Value a, Value w) {
  auto v16 = VectorType::get({16}, b.getI32Type());
  if (isa == KernelIsa::Vnni)
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
  // A small tile (a GEMV's one pixel by one block) has too few
  // accumulators to hide the latency of the dot products: up to 8 / tile
  // sets of them take the groups of 4 input channels in turn and are summed
  // after the reduction (the weights still stream from the same blocks).
  int64_t tile = rows * blocks, sets = 1;
  for (int64_t s : {8, 4, 2})
    if (tile * s <= 8 && c4 % s == 0) {
      sets = s;
      break;
    }
  // The accumulators of the first set start at the bias of their block,
  // the others at 0.
  SmallVector<Value> init;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < blocks; ++j)
      init.push_back(vector::LoadOp::create(
          b, loc, v16, bias,
          ValueRange{arith::MulIOp::create(
              b, loc, arith::AddIOp::create(b, loc, block, idx(j)), idx(16))}));
  init.append((sets - 1) * tile, i32Splat(0));
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
      auto loopG = scf::ForOp::create(b, loc, idx(0), idx(c4), idx(sets),
                                      loopKx.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loopG.getBody());
        SmallVector<Value> accs(loopG.getRegionIterArgs());
        for (int64_t set = 0; set < sets; ++set) {
          Value grp =
              arith::AddIOp::create(b, loc, loopG.getInductionVar(), idx(set));
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
                arith::MulIOp::create(b, loc, blk, idx(kh * kw * c4 * 64)),
                wOff);
            wv[j] =
                vector::LoadOp::create(b, loc, v64, weights, ValueRange{at});
          }
          for (int64_t i = 0; i < rows; ++i) {
            Value at = arith::AddIOp::create(b, loc, base[i], aOff);
            Value a4 =
                vector::LoadOp::create(b, loc, v4, padded, ValueRange{at});
            Value a1 = vector::BitCastOp::create(
                b, loc, VectorType::get({1}, b.getI32Type()), a4);
            Value s =
                vector::ExtractOp::create(b, loc, a1, ArrayRef<int64_t>{0});
            Value bc = vector::BroadcastOp::create(b, loc, v16, s);
            Value a = vector::BitCastOp::create(b, loc, v64, bc);
            if (flipInLoop)
              a = arith::XOrIOp::create(
                  b, loc, a,
                  arith::ConstantOp::create(
                      b, loc,
                      DenseElementsAttr::get(v64, b.getI8IntegerAttr(-128))));
            for (int64_t j = 0; j < blocks; ++j) {
              Value &acc = accs[set * tile + i * blocks + j];
              acc = dot(acc, a, wv[j]);
            }
          }
        }
        scf::YieldOp::create(b, loc, accs);
      }
      scf::YieldOp::create(b, loc, loopG.getResults());
    }
    scf::YieldOp::create(b, loc, loopKx.getResults());
  }
  // The sum of the sets (int32, exact in any order).
  SmallVector<Value> sums(loopKy.getResults().take_front(tile));
  for (int64_t set = 1; set < sets; ++set)
    for (int64_t k = 0; k < tile; ++k)
      sums[k] = arith::AddIOp::create(b, loc, sums[k],
                                      loopKy.getResult(set * tile + k));
  // Epilogue.
  auto f16 = VectorType::get({16}, b.getF32Type());
  auto i8x16 = VectorType::get({16}, b.getI8Type());
  Value resZp, resMult;
  if (op.getResidual()) {
    // Unsigned residual codes are x + 128: the zero point moves with them.
    int64_t zr = int64_t(op.getResidualZeroPoint().value());
    resZp = f32Splat(float(op.getUnsignedResidual() ? zr + 128 : zr));
    resMult = f32Splat(op.getResidualMultiplier()->convertToFloat());
  }
  Value out = op.getInit();
  for (int64_t j = 0; j < blocks; ++j) {
    Value blk = arith::AddIOp::create(b, loc, block, idx(j));
    Value c0 = arith::MulIOp::create(b, loc, blk, idx(16));
    Value mv = vector::LoadOp::create(b, loc, f16, mult, ValueRange{c0});
    Value fb = loadFloatBias(op.getFloatBias(), c0);
    // The last block of a partial channel count holds `tail` channels: its
    // residual read lane by lane, its codes stored in pieces (storeCodes).
    int64_t tail = partialLast && j == blocks - 1 ? co % 16 : 0;
    for (int64_t i = 0; i < rows; ++i) {
      Value acc = sums[i * blocks + j];
      SmallVector<Value, 4> at{img[i], oy[i], ox[i], c0};
      Value u;
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
        u = arith::MulFOp::create(
            b, loc,
            arith::SubFOp::create(
                b, loc,
                op.getUnsignedResidual()
                    ? Value(arith::UIToFPOp::create(b, loc, f16, r))
                    : Value(arith::SIToFPOp::create(b, loc, f16, r)),
                resZp),
            resMult);
      }
      Value q8 = requantize(acc, mv, u, int64_t(op.getOutputZeroPoint()),
                            int64_t(op.getQuantMin()),
                            int64_t(op.getQuantMax()), op.getUnsignedOutput(),
                            fb, optionalInt(op.getFloatZeroPointOffset()));
      storeCodes(q8, out, outIndices(at), tail);
    }
  }
}

void KernelEmitter::emit() {
  // Signed codes without padding in whole groups of 4 channels are read in
  // place and flipped after their broadcast (one xor per pixel and group,
  // shared by the tile's blocks) instead of copied.
  auto inType = cast<MemRefType>(op.getInput().getType());
  flipInLoop = !op.getUnsignedInput() &&
               llvm::all_of(pad, [](int64_t p) { return p == 0; }) &&
               inType.getDimSize(3) == c4 * 4 &&
               inType.getLayout().isIdentity();
  padded = flipInLoop ? flatten(op.getInput()) : unsignedInput(op, c4 * 4);
  weights = flatten(op.getWeights());
  bias = op.getBias();
  mult = op.getMultiplier();
  fillOutputBorder(op.getInit(), op.getOutputPad(), storedZeroPoint(op));
  // Groups of `blocksPerTile` blocks of output channels outermost, so that
  // a tile's weights stay in cache across the pixel tiles. A partial last
  // block (Co % 16 != 0) is never inside a loop: the tile that holds it has
  // a static block index. Full tiles of `rowsPerTile` pixels, then one tile
  // of the rest of the pixels per group. With `parallel`, the loops over
  // groups and pixel tiles form one scf.parallel.
  int64_t loopBlocks = co % 16 ? nb - 1 : nb;
  int64_t full = loopBlocks / blocksPerTile * blocksPerTile;
  int64_t pixels = n * ho * wo;
  int64_t fullPixels = pixels / rowsPerTile * rowsPerTile;
  // The threads of a parallel loop each take a contiguous part of it. Split
  // by channel groups, two threads would write parts of every pixel's output
  // row, and unless each group fills whole 64-byte lines (a group of 4
  // blocks, and rows of a multiple of 64 channels) they would write the same
  // cache lines all the time: MobileNetV2's 1x1 24->144 @56 took 4.5 times
  // as long on two threads as on one. Such kernels split the pixels (pixel
  // tiles outer); their weights are small enough to stay in cache.
  bool pixelsOuter = parallel && (co % 64 || blocksPerTile * 16 % 64);
  if (full && fullPixels && pixelsOuter)
    loopNest({fullPixels, full}, {rowsPerTile, blocksPerTile},
             [&](ValueRange iv) {
               emitTile(iv[0], rowsPerTile, iv[1], blocksPerTile, false);
             });
  else if (full && fullPixels)
    loopNest({full, fullPixels}, {blocksPerTile, rowsPerTile},
             [&](ValueRange iv) {
               emitTile(iv[1], rowsPerTile, iv[0], blocksPerTile, false);
             });
  if (full && pixels > fullPixels)
    loopNest({full}, {blocksPerTile}, [&](ValueRange iv) {
      emitTile(idx(fullPixels), pixels - fullPixels, iv[0], blocksPerTile,
               false);
    });
  // The rest (at most blocksPerTile blocks, with the partial one last).
  for (int64_t at = full; at < nb; at += blocksPerTile) {
    int64_t count = std::min(blocksPerTile, nb - at);
    bool partialLast = co % 16 && at + count == nb;
    if (fullPixels)
      loopNest({fullPixels}, {rowsPerTile}, [&](ValueRange iv) {
        emitTile(iv[0], rowsPerTile, idx(at), count, partialLast);
      });
    if (pixels > fullPixels)
      emitTile(idx(fullPixels), pixels - fullPixels, idx(at), count,
               partialLast);
  }
  releaseInput();
  op.erase();
}

} // namespace

void packed::emitPackedConv2D(PackedConv2DOp op, KernelIsa isa, bool parallel,
                              int64_t rows, int64_t blocks) {
  KernelEmitter(op, isa, parallel, rows, blocks).emit();
}
