//===- DepthwiseEmitter.cpp - qat.packed_depthwise_conv2d to tiles --------===//
//
// qat.packed_depthwise_conv2d on memrefs to tiles of output pixels, one
// vector<16xi32> accumulator per pixel and block of 16 channels, the input
// read in place or from a padded unsigned copy; the requantization epilogue
// stores i8.
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

/// Emits the code of one qat.packed_depthwise_conv2d on memrefs: tiles of
/// `tileRows` output rows x `tileCols` pixels along them; for each tile and
/// each block of 16 channels, one vector<16xi32> accumulator per pixel sums
/// widened codes times widened weights over the window, each 32-bit lane
/// holding one code and one weight. Pixels of a tile that share a row share
/// their loads where their windows overlap.
///
/// When the channels fill whole blocks and the input is contiguous, the
/// kernel reads it in place whatever its padding and signedness (`direct`):
/// - unsigned codes are zero-extended and multiplied by `vpdpbusd` (the
///   three upper byte products are 0); signed codes are sign-extended and
///   multiplied by `vpdpwssd` against weights (w, 0) as 16-bit pairs (the
///   upper pair multiplies the sign by 0), their bias raised by 128 * sum(w)
///   (the op's bias assumes codes + 128);
/// - a tap in the padding uses the padding code (the zero point, + 128 when
///   unsigned) instead of a load: the tiles that reach the left or right
///   padding have static columns, and each row of a tile checks its input
///   row per kernel row (scf.if) when there is top or bottom padding.
/// Otherwise it reads a padded unsigned copy (channels padded to 16).
class DepthwiseEmitter : EmitterBase {
public:
  DepthwiseEmitter(PackedDepthwiseConv2DOp op, KernelIsa isa, bool parallel,
                   int64_t pixels)
      : EmitterBase(op, isa, parallel), op(op) {
    readWindow(op);
    auto w = cast<MemRefType>(op.getWeights().getType());
    kh = w.getDimSize(0);
    kw = w.getDimSize(1);
    cp = w.getDimSize(2);
    // Up to `pixels` accumulators: equal pieces of a row, or several short
    // rows at once.
    int64_t pieces = llvm::divideCeil(wo, pixels);
    tileCols = llvm::divideCeil(wo, pieces);
    tileRows = std::max<int64_t>(1, pixels / tileCols);
    auto in = cast<MemRefType>(op.getInput().getType());
    direct = c == cp && in.getLayout().isIdentity();
    signedCodes = direct && !op.getUnsignedInput();
    if (direct) {
      srcH = h;
      srcW = wIn;
      padTop = pad[0];
      padLeft = pad[2];
      checkRows = pad[0] || pad[1];
      int64_t zp = int64_t(op.getInputZeroPoint());
      padCode = signedCodes ? zp : zp + 128;
    } else {
      srcH = hp;
      srcW = wp;
    }
  }

  void emit();

private:
  void emitTile(Value row0, int64_t rows, Value ox0,
                std::optional<int64_t> staticOx0, int64_t cols);
  void emitBlock(ArrayRef<Value> rowOffsets, ArrayRef<Value> rowTops, Value ox0,
                 Value colOff, std::optional<int64_t> staticOx0, int64_t cols,
                 ArrayRef<std::pair<Value, Value>> outRows, Value c0,
                 int64_t tail);
  void emitCols(Value row0, int64_t rows);
  Value dot(Value acc, Value a, Value w);
  /// The bias for signed codes read in place: bias + 128 * sum(w), per
  /// channel, in a stack buffer.
  Value signedBias();

  PackedDepthwiseConv2DOp op;
  int64_t tileRows, tileCols;
  int64_t kh, kw, cp;
  bool direct, signedCodes;
  /// The source the taps read: srcH x srcW pixels of cp channels per image,
  /// whose window tops are padTop rows and padLeft columns before the
  /// output pixel's (0 for the padded copy).
  int64_t srcH = 0, srcW = 0, padTop = 0, padLeft = 0, padCode = 0;
  bool checkRows = false;
  Value src, weights, bias;
};

/// acc + a * w per 32-bit lane, `a` widened from codes and `w` from weights
/// as the source's signedness needs.
Value DepthwiseEmitter::dot(Value acc, Value a, Value w) {
  auto v16 = VectorType::get({16}, b.getI32Type());
  if (isa == KernelIsa::Portable)
    return arith::AddIOp::create(b, loc, acc,
                                 arith::MulIOp::create(b, loc, a, w));
  auto pairs = VectorType::get({signedCodes ? 32 : 64},
                               signedCodes ? b.getI16Type() : b.getI8Type());
  return LLVM::CallIntrinsicOp::create(
             b, loc, v16,
             b.getStringAttr(signedCodes ? "llvm.x86.avx512.vpdpwssd.512"
                                         : "llvm.x86.avx512.vpdpbusd.512"),
             ValueRange{acc, vector::BitCastOp::create(b, loc, pairs, a),
                        vector::BitCastOp::create(b, loc, pairs, w)})
      .getResult(0);
}

Value DepthwiseEmitter::signedBias() {
  auto v16 = VectorType::get({16}, b.getI32Type());
  auto i8x16 = VectorType::get({16}, b.getI8Type());
  Value buf = memref::AllocaOp::create(
      b, loc, MemRefType::get({cp}, b.getI32Type()), b.getI64IntegerAttr(64));
  auto loop = scf::ForOp::create(b, loc, idx(0), idx(cp), idx(16));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(loop.getBody());
  Value c0 = loop.getInductionVar();
  Value sum = i32Splat(0);
  for (int64_t t = 0; t < kh * kw; ++t)
    sum = arith::AddIOp::create(
        b, loc, sum,
        arith::ExtSIOp::create(
            b, loc, v16,
            vector::LoadOp::create(
                b, loc, i8x16, weights,
                ValueRange{arith::AddIOp::create(b, loc, c0, idx(t * cp))})));
  Value bv = vector::LoadOp::create(b, loc, v16, op.getBias(), ValueRange{c0});
  vector::StoreOp::create(
      b, loc,
      arith::AddIOp::create(b, loc, bv,
                            arith::ShLIOp::create(b, loc, sum, i32Splat(7))),
      buf, ValueRange{c0});
  return buf;
}

/// One block of 16 channels from `c0` for `cols` pixels of each tile row;
/// `rowOffsets` are the source offsets of each row's window top at column
/// 0 (channel 0), `rowTops` its first input row (with `checkRows`), `ox0`
/// the tile's first output column (`staticOx0` when static), `colOff` the
/// offset of its first window column, `outRows` its (image, output row).
void DepthwiseEmitter::emitBlock(ArrayRef<Value> rowOffsets,
                                 ArrayRef<Value> rowTops, Value ox0,
                                 Value colOff, std::optional<int64_t> staticOx0,
                                 int64_t cols,
                                 ArrayRef<std::pair<Value, Value>> outRows,
                                 Value c0, int64_t tail) {
  auto v16 = VectorType::get({16}, b.getI32Type());
  auto i8x16 = VectorType::get({16}, b.getI8Type());
  int64_t rows = rowOffsets.size();
  // The accumulators start at the bias.
  SmallVector<Value> init(
      rows * cols, vector::LoadOp::create(b, loc, v16, bias, ValueRange{c0}));
  Value padV = i32Splat(padCode);
  auto loopKy = scf::ForOp::create(b, loc, idx(0), idx(kh), idx(1), init);
  {
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loopKy.getBody());
    Value ky = loopKy.getInductionVar();
    // Offset of kernel row ky, channel c0 and the tile's first column from
    // a window top.
    Value kyOff = arith::AddIOp::create(
        b, loc,
        arith::AddIOp::create(
            b, loc,
            arith::MulIOp::create(b, loc, ky, idx(dilation[0] * srcW * cp)),
            c0),
        colOff);
    Value wRow = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, ky, idx(kw * cp)), c0);
    SmallVector<Value> wv(kw);
    for (int64_t kx = 0; kx < kw; ++kx) {
      Value wAt = arith::AddIOp::create(b, loc, wRow, idx(kx * cp));
      wv[kx] = arith::ExtSIOp::create(
          b, loc, v16,
          vector::LoadOp::create(b, loc, i8x16, weights, ValueRange{wAt}));
      // vpdpwssd multiplies 16-bit pairs: (w, 0) against (code, sign).
      if (signedCodes && isa == KernelIsa::Vnni)
        wv[kx] = arith::AndIOp::create(b, loc, wv[kx], i32Splat(0xffff));
    }
    // The taps of row r, reading the source unless `padRow`.
    auto rowTaps = [&](int64_t r, bool padRow, MutableArrayRef<Value> accs) {
      Value base = padRow ? Value()
                          : arith::AddIOp::create(b, loc, rowOffsets[r], kyOff);
      for (int64_t kx = 0; kx < kw; ++kx)
        for (int64_t i = 0; i < cols; ++i) {
          int64_t col = i * stride[1] + kx * dilation[1];
          bool padCol = false;
          if (staticOx0) {
            int64_t x = *staticOx0 * stride[1] - padLeft + col;
            padCol = x < 0 || x >= srcW;
          }
          Value a;
          if (padRow || padCol) {
            a = padV;
          } else {
            Value at = arith::AddIOp::create(b, loc, base, idx(col * cp));
            Value v =
                vector::LoadOp::create(b, loc, i8x16, src, ValueRange{at});
            a = signedCodes ? Value(arith::ExtSIOp::create(b, loc, v16, v))
                            : Value(arith::ExtUIOp::create(b, loc, v16, v));
          }
          accs[i] = dot(accs[i], a, wv[kx]);
        }
    };
    SmallVector<Value> accs(loopKy.getRegionIterArgs());
    for (int64_t r = 0; r < rows; ++r) {
      MutableArrayRef<Value> rowAccs(accs.data() + r * cols, cols);
      if (!checkRows) {
        rowTaps(r, false, rowAccs);
        continue;
      }
      // Input row rowTops[r] + ky * d0 in [0, srcH), else the padding.
      Value iy = arith::AddIOp::create(
          b, loc, rowTops[r],
          arith::MulIOp::create(b, loc, ky, idx(dilation[0])));
      Value inside = arith::AndIOp::create(
          b, loc,
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, iy, idx(0)),
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::slt, iy,
                                idx(srcH)));
      SmallVector<Type> types(cols, v16);
      auto ifOp = scf::IfOp::create(b, loc, types, inside,
                                    /*withElseRegion=*/true);
      for (bool padRow : {false, true}) {
        OpBuilder::InsertionGuard gi(b);
        b.setInsertionPointToStart(padRow ? ifOp.elseBlock()
                                          : ifOp.thenBlock());
        SmallVector<Value> branch(rowAccs.begin(), rowAccs.end());
        rowTaps(r, padRow, branch);
        scf::YieldOp::create(b, loc, branch);
      }
      for (int64_t i = 0; i < cols; ++i)
        rowAccs[i] = ifOp.getResult(i);
    }
    scf::YieldOp::create(b, loc, accs);
  }
  Value mv =
      vector::LoadOp::create(b, loc, VectorType::get({16}, b.getF32Type()),
                             op.getMultiplier(), ValueRange{c0});
  Value fb = loadFloatBias(op.getFloatBias(), c0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i) {
      Value q8 = requantize(loopKy.getResult(r * cols + i), mv, Value(),
                            int64_t(op.getOutputZeroPoint()),
                            int64_t(op.getQuantMin()),
                            int64_t(op.getQuantMax()), op.getUnsignedOutput(),
                            fb, optionalInt(op.getFloatZeroPointOffset()));
      Value ox = arith::AddIOp::create(b, loc, ox0, idx(i));
      storeCodes(q8, op.getInit(),
                 outIndices({outRows[r].first, outRows[r].second, ox, c0}),
                 tail);
    }
}

/// All channel blocks of a tile of `rows` output rows from the flattened
/// row index `row0` (image * Ho + output row) and `cols` pixels from `ox0`
/// (`staticOx0` when static): whole blocks in a loop, a partial last block
/// (C % 16 != 0) after it with a static offset.
void DepthwiseEmitter::emitTile(Value row0, int64_t rows, Value ox0,
                                std::optional<int64_t> staticOx0,
                                int64_t cols) {
  SmallVector<Value> rowOffsets, rowTops;
  SmallVector<std::pair<Value, Value>> outRows;
  for (int64_t r = 0; r < rows; ++r) {
    Value flat = arith::AddIOp::create(b, loc, row0, idx(r));
    Value oy = arith::RemUIOp::create(b, loc, flat, idx(ho));
    Value img = arith::DivUIOp::create(b, loc, flat, idx(ho));
    outRows.push_back({img, oy});
    // The window's first input row, oy * s0 - padTop (negative in the top
    // padding), and the offset of (img, that row, 0, 0) in the source.
    Value top = arith::SubIOp::create(
        b, loc, arith::MulIOp::create(b, loc, oy, idx(stride[0])), idx(padTop));
    rowTops.push_back(top);
    Value srcRow = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, img, idx(srcH)), top);
    rowOffsets.push_back(arith::MulIOp::create(b, loc, srcRow, idx(srcW * cp)));
  }
  // Offset of the tile's first window column, (ox0 * s1 - padLeft) * cp.
  Value colOff = arith::SubIOp::create(
      b, loc, arith::MulIOp::create(b, loc, ox0, idx(stride[1] * cp)),
      idx(padLeft * cp));
  int64_t whole = c / 16;
  if (whole) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    emitBlock(rowOffsets, rowTops, ox0, colOff, staticOx0, cols, outRows,
              loop.getInductionVar(), 0);
  }
  if (c % 16)
    emitBlock(rowOffsets, rowTops, ox0, colOff, staticOx0, cols, outRows,
              idx(whole * 16), c % 16);
}

/// The pixels of `rows` output rows from `row0`: tiles of `tileCols` along
/// the rows, then one of the rest. Tiles whose windows reach the left or
/// right padding get static columns, the others run in a loop.
void DepthwiseEmitter::emitCols(Value row0, int64_t rows) {
  int64_t tiles = wo / tileCols;
  auto reachesPad = [&](int64_t ox0, int64_t cols) {
    int64_t first = ox0 * stride[1] - padLeft;
    int64_t last =
        (ox0 + cols - 1) * stride[1] - padLeft + (kw - 1) * dilation[1];
    return first < 0 || last >= srcW;
  };
  int64_t lo = 0, hi = tiles;
  while (lo < hi && reachesPad(lo * tileCols, tileCols))
    ++lo;
  while (hi > lo && reachesPad((hi - 1) * tileCols, tileCols))
    --hi;
  auto staticTile = [&](int64_t ox0, int64_t cols) {
    emitTile(row0, rows, idx(ox0), ox0, cols);
  };
  for (int64_t t = 0; t < lo; ++t)
    staticTile(t * tileCols, tileCols);
  if (hi - lo == 1) {
    staticTile(lo * tileCols, tileCols);
  } else if (hi > lo) {
    auto loop = scf::ForOp::create(b, loc, idx(lo * tileCols),
                                   idx(hi * tileCols), idx(tileCols));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    emitTile(row0, rows, loop.getInductionVar(), std::nullopt, tileCols);
  }
  for (int64_t t = hi; t < tiles; ++t)
    staticTile(t * tileCols, tileCols);
  if (wo > tiles * tileCols)
    staticTile(tiles * tileCols, wo - tiles * tileCols);
}

void DepthwiseEmitter::emit() {
  weights = flatten(op.getWeights());
  if (direct) {
    src = flatten(op.getInput());
    bias = signedCodes ? signedBias() : op.getBias();
  } else {
    src = unsignedInput(op, cp);
    bias = op.getBias();
  }
  fillOutputBorder(op.getInit(), op.getOutputPad(), storedZeroPoint(op));
  // Groups of `tileRows` output rows (over all images; in parallel with
  // `parallel`), then the rest.
  int64_t allRows = n * ho;
  int64_t full = allRows / tileRows * tileRows;
  if (full)
    loopNest({full}, {tileRows},
             [&](ValueRange iv) { emitCols(iv[0], tileRows); });
  if (allRows > full)
    emitCols(idx(full), allRows - full);
  releaseInput();
  op.erase();
}

} // namespace

void packed::emitPackedDepthwiseConv2D(PackedDepthwiseConv2DOp op,
                                       KernelIsa isa, bool parallel,
                                       int64_t pixels) {
  DepthwiseEmitter(op, isa, parallel, pixels).emit();
}
