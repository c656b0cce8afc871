//===- AMXEmitter.cpp - qat.packed_conv2d to AMX tiles --------------------===//
//
// qat.packed_conv2d with tile-layout weights (qat-pack-amx-weights) on
// memrefs to an implicit GEMM on AMX tiles, written with the upstream amx
// dialect: M = output pixels (16 per A tile, rows read in place from the
// input or its padded copy with one stride), N = output channels (16 per
// block), K = the window (per kernel row, 64 input bytes per A tile, 16
// groups of 4 per B tile). Groups of 2 x 2 accumulator tiles (plus 2 A and 2
// B tiles: the 8 tile registers) are carried through the loops over kernel
// rows and K tiles, then stored to a stack buffer, from which the epilogue of
// the vector kernels requantizes each row of 16 channels. Every tile is the
// full 16 x 64-byte shape of palette 1 (AMXTiles.h).
//
//===----------------------------------------------------------------------===//

#include "AMXTiles.h"
#include "Emitters.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::packed;

namespace {

/// Tiles of output pixels (M) per group and blocks of output channels (N)
/// per group: 2 x 2 accumulators, 2 A and 2 B tiles use the 8 tile
/// registers.
constexpr int64_t kGroupTiles = 2, kGroupBlocks = 2;

class AMXEmitter : EmitterBase {
public:
  AMXEmitter(PackedConv2DOp op, KernelIsa isa, bool parallel);
  void emit();

private:
  /// Output pixels of A tiles in the input: tile g (over all images) has
  /// its 16 rows at tileBase(g) + r * rowPitch bytes.
  ///  - flat: each image's output pixels (oy, ox) are the virtual rows
  ///    v = oy * virt + ox, at byte v * rowPitch of the image (virt =
  ///    stride[0] * Wp / stride[1] input pixels per output row, >= Wo);
  ///    rows with ox >= Wo are computed and dropped. Tile t of an image
  ///    holds rows 16t .. 16t + 15 of its v rows.
  ///  - otherwise each tile holds 16 pixels of one output row.
  Value tileBase(Value g);
  /// The output pixel (image, row, column) of row r of tile g, and whether
  /// it is one (null when every row of the tile range is).
  struct Pixel {
    Value img, oy, ox, valid;
  };
  Pixel pixelOf(Value g, Value r, bool check);
  /// Whether every row of tile g is an output pixel.
  bool tileFull(int64_t g) const;
  /// The last byte + 1 that tile g's A loads read.
  int64_t tileEnd(int64_t g) const;

  /// One group: tiles g .. g + tiles - 1 by blocks blk .. blk + blocks - 1
  /// (the last of them holding co % 16 channels with `partialLast`).
  /// `staged` A tiles are copied row by row (masked at the end of the
  /// input) into a stack tile before their tile load; `check` drops rows
  /// that are not output pixels.
  void emitGroup(Value g, int64_t tiles, Value blk, int64_t blocks,
                 bool partialLast, bool staged, bool check);
  /// The tiles [from, to) in groups of kGroupTiles (a loop; `to - from`
  /// even) or one by one (`single`, static tile indices), over all blocks.
  void emitTiles(int64_t from, int64_t to, bool single, bool staged,
                 bool check);
  Value scratch(MemRefType type);

  PackedConv2DOp op;
  int64_t nb, kh, kw, c4, cp, co;
  TileLayout layout;
  /// Input bytes between two A rows, between images.
  int64_t rowPitch, imagePitch;
  bool flat;
  int64_t virt = 0, virtRows = 0, tilesPerRow = 0, tilesPerImage = 0;
  /// The input the A tiles read (1-D) and its size in bytes.
  Value src;
  int64_t srcSize = 0;
  Value weights, bias, mult;
  /// Stack buffers of the accumulators and of a staged A tile (serial: one
  /// each for the kernel; parallel: made in each loop body, one per thread
  /// after qat-hoist-parallel-allocas).
  Value accBuf, stageBuf;
  /// Bytes of a group of B tiles: one kernel row's K tiles of one block.
  int64_t blockBytes;
};

AMXEmitter::AMXEmitter(PackedConv2DOp op, KernelIsa isa, bool parallel)
    : EmitterBase(op, isa, parallel), op(op),
      layout(op.getWindowWidth(),
             int64_t(llvm::divideCeil(
                 cast<MemRefType>(op.getInput().getType()).getDimSize(3), 4)),
             op.getDilation()[1]) {
  readWindow(op);
  auto w = cast<MemRefType>(op.getWeights().getType());
  nb = w.getDimSize(0);
  kh = w.getDimSize(1);
  kw = op.getWindowWidth();
  c4 = layout.c4;
  cp = c4 * 4;
  co = cast<MemRefType>(op.getInit().getType()).getDimSize(3);
  rowPitch = stride[1] * cp;
  imagePitch = hp * wp * cp;
  blockBytes = kh * layout.groups * 4 * 16;
  // Flat rows when an output row's step in the input is a whole number of
  // A rows, and they make fewer tiles than tiles within rows.
  tilesPerRow = int64_t(llvm::divideCeil(wo, kTileRows));
  int64_t rowTiles = ho * tilesPerRow;
  flat = false;
  if ((stride[0] * wp) % stride[1] == 0) {
    virt = stride[0] * wp / stride[1];
    virtRows = (ho - 1) * virt + wo;
    flat = virt >= wo &&
           int64_t(llvm::divideCeil(virtRows, kTileRows)) <= rowTiles;
  }
  tilesPerImage =
      flat ? int64_t(llvm::divideCeil(virtRows, kTileRows)) : rowTiles;
}

Value AMXEmitter::scratch(MemRefType type) {
  return memref::AllocaOp::create(b, loc, type, b.getI64IntegerAttr(64));
}

Value AMXEmitter::tileBase(Value g) {
  Value img = arith::DivUIOp::create(b, loc, g, idx(tilesPerImage));
  Value t = arith::RemUIOp::create(b, loc, g, idx(tilesPerImage));
  Value off;
  if (flat) {
    off = arith::MulIOp::create(b, loc, t, idx(kTileRows * rowPitch));
  } else {
    Value oy = arith::DivUIOp::create(b, loc, t, idx(tilesPerRow));
    Value ox0 = arith::MulIOp::create(
        b, loc, arith::RemUIOp::create(b, loc, t, idx(tilesPerRow)),
        idx(kTileRows));
    off = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, oy, idx(stride[0] * wp * cp)),
        arith::MulIOp::create(b, loc, ox0, idx(rowPitch)));
  }
  return arith::AddIOp::create(
      b, loc, arith::MulIOp::create(b, loc, img, idx(imagePitch)), off);
}

AMXEmitter::Pixel AMXEmitter::pixelOf(Value g, Value r, bool check) {
  Pixel p;
  p.img = arith::DivUIOp::create(b, loc, g, idx(tilesPerImage));
  Value t = arith::RemUIOp::create(b, loc, g, idx(tilesPerImage));
  auto lt = [&](Value x, int64_t bound) -> Value {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x,
                                 idx(bound));
  };
  if (flat) {
    Value v = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, t, idx(kTileRows)), r);
    p.oy = arith::DivUIOp::create(b, loc, v, idx(virt));
    p.ox = arith::RemUIOp::create(b, loc, v, idx(virt));
    if (check)
      p.valid = arith::AndIOp::create(b, loc, lt(v, virtRows), lt(p.ox, wo));
  } else {
    p.oy = arith::DivUIOp::create(b, loc, t, idx(tilesPerRow));
    p.ox = arith::AddIOp::create(
        b, loc,
        arith::MulIOp::create(
            b, loc, arith::RemUIOp::create(b, loc, t, idx(tilesPerRow)),
            idx(kTileRows)),
        r);
    if (check)
      p.valid = lt(p.ox, wo);
  }
  return p;
}

bool AMXEmitter::tileFull(int64_t g) const {
  int64_t t = g % tilesPerImage;
  if (!flat)
    return (t % tilesPerRow + 1) * kTileRows <= wo;
  for (int64_t v = t * kTileRows; v < (t + 1) * kTileRows; ++v)
    if (v >= virtRows || v % virt >= wo)
      return false;
  return true;
}

int64_t AMXEmitter::tileEnd(int64_t g) const {
  int64_t img = g / tilesPerImage, t = g % tilesPerImage;
  int64_t base = img * imagePitch;
  if (flat)
    base += t * kTileRows * rowPitch;
  else
    base += (t / tilesPerRow) * stride[0] * wp * cp +
            (t % tilesPerRow) * kTileRows * rowPitch;
  // The furthest K tile: the last kernel row, the last run, its last tile.
  int64_t lastRun =
      ((kh - 1) * dilation[0] * wp + (layout.runs - 1) * dilation[1]) * cp +
      (layout.tilesPerRun - 1) * kTileBytes;
  return base + (kTileRows - 1) * rowPitch + lastRun + kTileBytes;
}

void AMXEmitter::emitGroup(Value g, int64_t tiles, Value blk, int64_t blocks,
                           bool partialLast, bool staged, bool check) {
  auto i8 = b.getI8Type(), i32 = b.getI32Type();
  auto aType = amx::TileType::get({kTileRows, kTileBytes}, i8);
  auto cType = amx::TileType::get({kTileRows, kTileGroups}, i32);
  Value accs =
      parallel
          ? scratch(MemRefType::get({kGroupTiles * kGroupBlocks * 256}, i32))
          : accBuf;
  Value stage =
      staged ? (parallel ? scratch(MemRefType::get({1024}, i8)) : stageBuf)
             : Value();
  SmallVector<Value> base(tiles), wBase(blocks);
  for (int64_t i = 0; i < tiles; ++i)
    base[i] = tileBase(arith::AddIOp::create(b, loc, g, idx(i)));
  for (int64_t j = 0; j < blocks; ++j)
    wBase[j] = arith::MulIOp::create(
        b, loc, arith::AddIOp::create(b, loc, blk, idx(j)), idx(blockBytes));
  SmallVector<Value> init;
  for (int64_t k = 0; k < tiles * blocks; ++k)
    init.push_back(amx::TileZeroOp::create(b, loc, cType));
  // Kernel rows, then the K tiles of a row: run s = k / tilesPerRun, tile
  // q = k % tilesPerRun reads 64 bytes from input offset
  // (ky * d0 * Wp + s * d1) * cp + q * 64 of each row's window start, and
  // B tile k of the kernel row.
  auto loopKy = scf::ForOp::create(b, loc, idx(0), idx(kh), idx(1), init);
  {
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loopKy.getBody());
    Value ky = loopKy.getInductionVar();
    int64_t kTiles = layout.runs * layout.tilesPerRun;
    auto loopK = scf::ForOp::create(b, loc, idx(0), idx(kTiles), idx(1),
                                    loopKy.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g1(b);
      b.setInsertionPointToStart(loopK.getBody());
      Value k = loopK.getInductionVar();
      Value s = arith::DivUIOp::create(b, loc, k, idx(layout.tilesPerRun));
      Value q = arith::RemUIOp::create(b, loc, k, idx(layout.tilesPerRun));
      Value aOff = arith::AddIOp::create(
          b, loc,
          arith::MulIOp::create(
              b, loc,
              arith::AddIOp::create(
                  b, loc,
                  arith::MulIOp::create(b, loc, ky, idx(dilation[0] * wp)),
                  arith::MulIOp::create(b, loc, s, idx(dilation[1]))),
              idx(cp)),
          arith::MulIOp::create(b, loc, q, idx(kTileBytes)));
      // (ky * G + k * 16) * 64: B tile k of kernel row ky.
      Value wOff = arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, ky, idx(layout.groups)),
              arith::MulIOp::create(b, loc, k, idx(kTileGroups))),
          idx(64));
      SmallVector<Value> bt(blocks);
      for (int64_t j = 0; j < blocks; ++j)
        bt[j] = amx::TileLoadOp::create(
            b, loc, aType, weights,
            ValueRange{arith::AddIOp::create(b, loc, wBase[j], wOff)},
            idx(kTileBytes));
      SmallVector<Value> accIn(loopK.getRegionIterArgs()), accOut(accIn);
      for (int64_t i = 0; i < tiles; ++i) {
        Value start = arith::AddIOp::create(b, loc, base[i], aOff);
        Value at;
        if (staged) {
          // Each row's 64 bytes, those past the input's end as 0 (a row
          // wholly past it loads nothing from one past the end).
          auto v64 = VectorType::get({64}, i8);
          Value zero = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(v64, b.getI8IntegerAttr(0)));
          for (int64_t r = 0; r < kTileRows; ++r) {
            Value from = arith::MinUIOp::create(
                b, loc, arith::AddIOp::create(b, loc, start, idx(r * rowPitch)),
                idx(srcSize));
            Value len = arith::MinUIOp::create(
                b, loc, arith::SubIOp::create(b, loc, idx(srcSize), from),
                idx(64));
            Value mask = vector::CreateMaskOp::create(
                b, loc, VectorType::get({64}, b.getI1Type()), ValueRange{len});
            Value v = vector::MaskedLoadOp::create(
                b, loc, v64, src, ValueRange{from}, mask, zero);
            vector::StoreOp::create(b, loc, v, stage, ValueRange{idx(r * 64)});
          }
          at = amx::TileLoadOp::create(b, loc, aType, stage, ValueRange{idx(0)},
                                       idx(kTileBytes));
        } else {
          at = amx::TileLoadOp::create(b, loc, aType, src, ValueRange{start},
                                       idx(rowPitch));
        }
        for (int64_t j = 0; j < blocks; ++j) {
          // tdpbusd: unsigned codes times signed weights.
          accOut[i * blocks + j] = amx::TileMulIOp::create(
              b, loc, cType, at, bt[j], accIn[i * blocks + j],
              /*isZextLhs=*/true, /*isZextRhs=*/false);
        }
      }
      scf::YieldOp::create(b, loc, accOut);
    }
    scf::YieldOp::create(b, loc, loopK.getResults());
  }
  // The accumulators to the stack (rows of 16 int32), then the epilogue of
  // each output row of each block.
  for (int64_t i = 0; i < tiles; ++i)
    for (int64_t j = 0; j < blocks; ++j)
      amx::TileStoreOp::create(b, loc, accs,
                               ValueRange{idx((i * blocks + j) * 256)},
                               loopKy.getResult(i * blocks + j), idx(16));
  auto f16 = VectorType::get({16}, b.getF32Type());
  auto v16 = VectorType::get({16}, i32);
  auto i8x16 = VectorType::get({16}, i8);
  Value resZp, resMult;
  if (op.getResidual()) {
    int64_t zr = int64_t(op.getResidualZeroPoint().value());
    resZp = f32Splat(float(op.getUnsignedResidual() ? zr + 128 : zr));
    resMult = f32Splat(op.getResidualMultiplier()->convertToFloat());
  }
  Value out = op.getInit();
  for (int64_t j = 0; j < blocks; ++j) {
    Value c0 = arith::MulIOp::create(
        b, loc, arith::AddIOp::create(b, loc, blk, idx(j)), idx(16));
    Value bv = vector::LoadOp::create(b, loc, v16, bias, ValueRange{c0});
    Value mv = vector::LoadOp::create(b, loc, f16, mult, ValueRange{c0});
    Value fb = loadFloatBias(op.getFloatBias(), c0);
    int64_t tail = partialLast && j == blocks - 1 ? co % 16 : 0;
    for (int64_t i = 0; i < tiles; ++i) {
      Value gi = arith::AddIOp::create(b, loc, g, idx(i));
      auto rows = scf::ForOp::create(b, loc, idx(0), idx(kTileRows), idx(1));
      OpBuilder::InsertionGuard gr(b);
      b.setInsertionPointToStart(rows.getBody());
      Value r = rows.getInductionVar();
      Pixel px = pixelOf(gi, r, check);
      if (px.valid) {
        auto ifOp = scf::IfOp::create(b, loc, px.valid, false);
        b.setInsertionPointToStart(ifOp.thenBlock());
      }
      Value acc = arith::AddIOp::create(
          b, loc,
          vector::LoadOp::create(
              b, loc, v16, accs,
              ValueRange{arith::AddIOp::create(
                  b, loc, arith::MulIOp::create(b, loc, r, idx(16)),
                  idx((i * blocks + j) * 256))}),
          bv);
      SmallVector<Value, 4> at{px.img, px.oy, px.ox, c0};
      Value u;
      if (op.getResidual()) {
        Value res;
        if (tail) {
          res = arith::ConstantOp::create(
              b, loc, DenseElementsAttr::get(i8x16, b.getI8IntegerAttr(0)));
          for (int64_t l = 0; l < tail; ++l) {
            SmallVector<Value, 4> lane(at);
            lane.back() = arith::AddIOp::create(b, loc, c0, idx(l));
            Value e = memref::LoadOp::create(b, loc, op.getResidual(), lane);
            res =
                vector::InsertOp::create(b, loc, e, res, ArrayRef<int64_t>{l});
          }
        } else {
          res = vector::LoadOp::create(b, loc, i8x16, op.getResidual(), at);
        }
        u = arith::MulFOp::create(
            b, loc,
            arith::SubFOp::create(
                b, loc,
                op.getUnsignedResidual()
                    ? Value(arith::UIToFPOp::create(b, loc, f16, res))
                    : Value(arith::SIToFPOp::create(b, loc, f16, res)),
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

void AMXEmitter::emitTiles(int64_t from, int64_t to, bool single, bool staged,
                           bool check) {
  if (from >= to)
    return;
  // Blocks of output channels: pairs in a loop (without a partial last
  // block), then the rest (at most 2, the partial one last) with a static
  // index.
  int64_t loopBlocks = co % 16 ? nb - 1 : nb;
  int64_t pairs = loopBlocks / kGroupBlocks * kGroupBlocks;
  // The threads take contiguous parts of the loop: split by channel groups
  // of 32, two threads would write the same 64-byte lines of each pixel's
  // output, so parallel loops put the pixel tiles outermost.
  auto tilesBy = [&](int64_t at, int64_t blocks, bool partialLast) {
    Value blk = idx(at);
    if (single) {
      for (int64_t g = from; g < to; ++g)
        emitGroup(idx(g), 1, blk, blocks, partialLast, staged, check);
      return;
    }
    loopNest({to - from}, {kGroupTiles}, [&](ValueRange iv) {
      emitGroup(arith::AddIOp::create(b, loc, iv[0], idx(from)), kGroupTiles,
                blk, blocks, partialLast, staged, check);
    });
  };
  if (pairs && single) {
    for (int64_t g = from; g < to; ++g)
      loopNest({pairs}, {kGroupBlocks}, [&](ValueRange iv) {
        emitGroup(idx(g), 1, iv[0], kGroupBlocks, false, staged, check);
      });
  } else if (pairs && parallel) {
    loopNest(
        {to - from, pairs}, {kGroupTiles, kGroupBlocks}, [&](ValueRange iv) {
          emitGroup(arith::AddIOp::create(b, loc, iv[0], idx(from)),
                    kGroupTiles, iv[1], kGroupBlocks, false, staged, check);
        });
  } else if (pairs) {
    loopNest(
        {pairs, to - from}, {kGroupBlocks, kGroupTiles}, [&](ValueRange iv) {
          emitGroup(arith::AddIOp::create(b, loc, iv[1], idx(from)),
                    kGroupTiles, iv[0], kGroupBlocks, false, staged, check);
        });
  }
  if (nb > pairs)
    tilesBy(pairs, nb - pairs, co % 16 != 0);
}

void AMXEmitter::emit() {
  // The A tiles read unsigned codes with one stride between pixels: the
  // input in place when it holds unsigned codes without padding in whole
  // groups of 4 channels, else a padded unsigned copy with room at its end
  // for the rows and K bytes that the last tiles read past the pixels.
  auto inType = cast<MemRefType>(op.getInput().getType());
  int64_t total = n * tilesPerImage;
  bool inPlace = op.getUnsignedInput() &&
                 llvm::all_of(pad, [](int64_t p) { return p == 0; }) &&
                 inType.getDimSize(3) == cp && inType.getLayout().isIdentity();
  int64_t bytes = n * imagePitch;
  Value copy;
  if (inPlace) {
    src = flatten(op.getInput());
    srcSize = bytes;
  } else {
    int64_t slack = std::max<int64_t>(0, tileEnd(total - 1) - bytes);
    int8_t fill = int8_t(int64_t(op.getInputZeroPoint()) + 128);
    copy = padCopy(op.getInput(), cp, fill, !op.getUnsignedInput(), slack);
    src = copy;
    srcSize = cast<MemRefType>(copy.getType()).getDimSize(0);
    // The slack read by the last tiles: defined bytes (they meet zero
    // weights or rows that are dropped).
    if (srcSize > bytes)
      fillBytes(copy, idx(bytes), srcSize - bytes,
                arith::ConstantOp::create(
                    b, loc,
                    DenseElementsAttr::get(VectorType::get({64}, b.getI8Type()),
                                           b.getI8IntegerAttr(fill))));
  }
  weights = flatten(op.getWeights());
  bias = op.getBias();
  mult = op.getMultiplier();
  if (!parallel) {
    accBuf = scratch(
        MemRefType::get({kGroupTiles * kGroupBlocks * 256}, b.getI32Type()));
    stageBuf = scratch(MemRefType::get({1024}, b.getI8Type()));
  }
  fillOutputBorder(op.getInit(), op.getOutputPad(), storedZeroPoint(op));
  // Tiles whose loads stay inside the input: [0, direct). Of those, the
  // leading ones whose rows are all output pixels need no check.
  int64_t direct = total;
  while (direct > 0 && tileEnd(direct - 1) > srcSize)
    --direct;
  int64_t full = 0;
  while (full < direct && tileFull(full))
    ++full;
  int64_t a1 = full / kGroupTiles * kGroupTiles;
  int64_t a2 = a1 + (direct - a1) / kGroupTiles * kGroupTiles;
  emitTiles(0, a1, false, false, false);
  emitTiles(a1, a2, false, false, true);
  emitTiles(a2, direct, true, false, true);
  emitTiles(direct, total, true, true, true);
  if (copy)
    memref::DeallocOp::create(b, loc, copy);
  op.erase();
}

} // namespace

void mlir::qat::packed::emitPackedConv2DAMX(PackedConv2DOp op, KernelIsa isa,
                                            bool parallel) {
  AMXEmitter(op, isa, parallel).emit();
}
