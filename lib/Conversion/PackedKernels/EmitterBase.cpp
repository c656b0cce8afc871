//===- EmitterBase.cpp - builder helpers of the packed-kernel emitters ----===//
//
// The code every emitter of qat-lower-packed-kernels shares (beside
// WindowEmitter.cpp): the padded unsigned copy of an input, the output border
// of output_pad, the requantization epilogue and the stores of 16 codes.
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::packed;

void EmitterBase::fillBytes(Value buf, Value start, int64_t len, Value fill) {
  int64_t whole = len / 64;
  if (whole > 4) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 64), idx(64));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(loop.getBody());
    vector::StoreOp::create(b, loc, fill, buf,
                            ValueRange{arith::AddIOp::create(
                                b, loc, start, loop.getInductionVar())});
  } else {
    for (int64_t i = 0; i < whole; ++i)
      vector::StoreOp::create(
          b, loc, fill, buf,
          ValueRange{arith::AddIOp::create(b, loc, start, idx(i * 64))});
  }
  if (len % 64)
    vector::MaskedStoreOp::create(
        b, loc, buf,
        ValueRange{arith::AddIOp::create(b, loc, start, idx(whole * 64))},
        vector::ConstantMaskOp::create(b, loc,
                                       VectorType::get({64}, b.getI1Type()),
                                       ArrayRef<int64_t>{len % 64}),
        fill);
}

void EmitterBase::fillOutputBorder(Value out,
                                   std::optional<ArrayRef<int64_t>> outPad,
                                   int8_t code) {
  if (!outPad)
    return;
  // The output buffer: N x (Ho + top + bottom) x (Wo + left + right) x C.
  ArrayRef<int64_t> border = *outPad;
  outTop = border[0];
  outLeft = border[2];
  auto type = cast<MemRefType>(out.getType());
  int64_t outRows = type.getDimSize(1), outCols = type.getDimSize(2),
          outC = type.getDimSize(3);
  Value flat = flatten(out);
  Value fill = arith::ConstantOp::create(
      b, loc,
      DenseElementsAttr::get(VectorType::get({64}, b.getI8Type()),
                             b.getI8IntegerAttr(code)));
  int64_t rowBytes = outCols * outC;
  // Top and bottom rows of each image, then the sides of the other rows.
  loopNest({n}, {1}, [&](ValueRange iv) {
    Value base = arith::MulIOp::create(b, loc, iv[0], idx(outRows * rowBytes));
    fillBytes(flat, base, border[0] * rowBytes, fill);
    fillBytes(
        flat,
        arith::AddIOp::create(b, loc, base, idx((border[0] + ho) * rowBytes)),
        border[1] * rowBytes, fill);
  });
  if (border[2] || border[3])
    loopNest({n * ho}, {1}, [&](ValueRange iv) {
      Value y = arith::RemUIOp::create(b, loc, iv[0], idx(ho));
      Value img = arith::DivUIOp::create(b, loc, iv[0], idx(ho));
      Value rowStart = arith::MulIOp::create(
          b, loc,
          arith::AddIOp::create(
              b, loc, arith::MulIOp::create(b, loc, img, idx(outRows)),
              arith::AddIOp::create(b, loc, y, idx(border[0]))),
          idx(rowBytes));
      fillBytes(flat, rowStart, border[2] * outC, fill);
      fillBytes(flat,
                arith::AddIOp::create(b, loc, rowStart,
                                      idx((outCols - border[3]) * outC)),
                border[3] * outC, fill);
    });
}

/// A 1-D copy of the NHWC `input` (N x H x W x C) as N x Hp x Wp x cp codes
/// (cp >= C, a multiple of 4), with the kernel's `pad` = [top, bottom,
/// left, right] border rows and columns; the border and the channels
/// beyond C hold `fill`. With `flip`, every copied code is xor 0x80 (x + 128
/// as unsigned; the caller flips `fill`). Every byte is written exactly
/// once, so the rows can be copied in parallel.
Value EmitterBase::padCopy(Value input, int64_t cp, int8_t fill, bool flip,
                           int64_t slack) {
  int64_t total = llvm::alignTo(n * hp * wp * cp + slack, 64);
  auto type = MemRefType::get({total}, b.getI8Type());
  Value buf = memref::AllocOp::create(b, loc, type, b.getI64IntegerAttr(64));
  auto v64 = VectorType::get({64}, b.getI8Type());
  auto splat = [&](int8_t v) -> Value {
    return arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(v64, b.getI8IntegerAttr(v)));
  };
  auto mask = [&](int64_t len) -> Value {
    return vector::ConstantMaskOp::create(
        b, loc, VectorType::get({64}, b.getI1Type()), ArrayRef<int64_t>{len});
  };
  Value fillV = splat(fill);
  auto fillRange = [&](Value start, int64_t len) {
    fillBytes(buf, start, len, fillV);
  };
  int64_t rowBytes = wp * cp;
  if (pad[0] || pad[1])
    loopNest({n}, {1}, [&](ValueRange iv) {
      Value base = arith::MulIOp::create(b, loc, iv[0], idx(hp * rowBytes));
      fillRange(base, pad[0] * rowBytes);
      fillRange(
          arith::AddIOp::create(b, loc, base, idx((pad[0] + h) * rowBytes)),
          pad[1] * rowBytes);
    });
  // Each input row: its left and right borders, then its codes in 64-byte
  // chunks (the last one masked; channels beyond C get `fill`).
  // Three channels (an RGB image) into four, 16 pixels at a time: one
  // masked load of 48 codes, one shuffle that puts each pixel's 3 codes
  // in 4 bytes with the fill as the 4th, one xor, one 64-byte store.
  auto inType = cast<MemRefType>(input.getType());
  bool rgb = c == 3 && cp == 4 && inType.getLayout().isIdentity();
  Value flatIn = rgb ? flatten(input) : Value();
  auto copyRgbRow = [&](Value img, Value y, Value dst) {
    Value src = arith::MulIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc,
                              arith::MulIOp::create(b, loc, img, idx(h)), y),
        idx(wIn * 3));
    SmallVector<int64_t> lanes;
    for (int64_t p = 0; p < 16; ++p)
      lanes.append({3 * p, 3 * p + 1, 3 * p + 2, 64});
    Value fillLane = splat(flip ? int8_t(fill ^ 0x80) : fill);
    Value flipV = splat(-128);
    auto step = [&](Value x, int64_t pixels) {
      Value at = arith::AddIOp::create(
          b, loc, src, arith::MulIOp::create(b, loc, x, idx(3)));
      Value v = vector::MaskedLoadOp::create(
          b, loc, v64, flatIn, ValueRange{at}, mask(3 * pixels), splat(0));
      v = vector::ShuffleOp::create(b, loc, v, fillLane, lanes);
      if (flip)
        v = arith::XOrIOp::create(b, loc, v, flipV);
      Value to = arith::AddIOp::create(
          b, loc, dst, arith::MulIOp::create(b, loc, x, idx(4)));
      // 4 * pixels is a multiple of 4: never a one-lane masked store.
      if (pixels == 16)
        vector::StoreOp::create(b, loc, v, buf, ValueRange{to});
      else
        vector::MaskedStoreOp::create(b, loc, buf, ValueRange{to},
                                      mask(4 * pixels), v);
    };
    int64_t whole = wIn / 16 * 16;
    if (whole) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole), idx(16));
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      step(loop.getInductionVar(), 16);
    }
    if (wIn % 16)
      step(idx(whole), wIn % 16);
  };
  auto copyRow = [&](Value r) {
    Value y = arith::RemUIOp::create(b, loc, r, idx(h));
    Value img = arith::DivUIOp::create(b, loc, r, idx(h));
    // Offset of (img, y + pad top, 0, 0).
    Value rowStart = arith::MulIOp::create(
        b, loc,
        arith::AddIOp::create(b, loc,
                              arith::MulIOp::create(b, loc, img, idx(hp)),
                              arith::AddIOp::create(b, loc, y, idx(pad[0]))),
        idx(rowBytes));
    fillRange(rowStart, pad[2] * cp);
    fillRange(arith::AddIOp::create(b, loc, rowStart, idx((pad[2] + wIn) * cp)),
              pad[3] * cp);
    if (rgb) {
      copyRgbRow(img, y,
                 arith::AddIOp::create(b, loc, rowStart, idx(pad[2] * cp)));
      return;
    }
    auto pixLoop = scf::ForOp::create(b, loc, idx(0), idx(wIn), idx(1));
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(pixLoop.getBody());
    Value x = pixLoop.getInductionVar();
    Value dst = arith::AddIOp::create(
        b, loc, rowStart,
        arith::MulIOp::create(
            b, loc, arith::AddIOp::create(b, loc, x, idx(pad[2])), idx(cp)));
    // Codes are xor-ed after the load, so the pass-through of a masked load
    // is the fill before that xor.
    Value flipV = splat(-128);
    Value pass = splat(flip ? int8_t(fill ^ 0x80) : fill);
    for (int64_t c0 = 0; c0 < cp; c0 += 64) {
      int64_t loadLen = std::clamp<int64_t>(c - c0, 0, 64);
      int64_t storeLen = std::min<int64_t>(64, cp - c0);
      Value at = arith::AddIOp::create(b, loc, dst, idx(c0));
      SmallVector<Value, 4> from{img, y, x, idx(c0)};
      Value v;
      if (loadLen == 64)
        v = vector::LoadOp::create(b, loc, v64, input, from);
      else if (loadLen > 0)
        v = vector::MaskedLoadOp::create(b, loc, v64, input, from,
                                         mask(loadLen), pass);
      else
        v = pass;
      if (flip)
        v = arith::XOrIOp::create(b, loc, v, flipV);
      // storeLen is a multiple of 4 (cp is), so never the one-lane masked
      // store that LLVM 22 miscompiles.
      if (storeLen == 64)
        vector::StoreOp::create(b, loc, v, buf, ValueRange{at});
      else
        vector::MaskedStoreOp::create(b, loc, buf, ValueRange{at},
                                      mask(storeLen), v);
    }
  };
  loopNest({n * h}, {1}, [&](ValueRange iv) { copyRow(iv[0]); });
  return buf;
}

/// The codes of 16 channels, clamp(roundeven(f32(acc) * mult [+ residual])
/// + zp, lo, hi), as vector<16xi8>, xor 0x80 with `flip`; `acc` includes
/// the bias and `residualTerm` may be null.
///
/// The clamp is applied to t = f32(acc) * mult [+ residual] before rounding,
/// at lo - zp and hi - zp: rounding is monotonic and keeps integers, so
/// roundeven(clamp(t, a, b)) = clamp(roundeven(t), a, b) for integers a, b.
/// The clamped t (|t| < 2^9) is rounded by adding 1.5 * 2^23: the f32 sum
/// has a unit ulp, so it is 1.5 * 2^23 + roundeven(t) (ties to even: the
/// constant is even), whose bits minus those of 1.5 * 2^23 are the rounded
/// integer. Subtracting zp less makes it q + zp, and zp + 128 less with
/// `flip`, whose truncated byte is then (q + zp) xor 0x80.
Value EmitterBase::requantize(Value acc, Value mult, Value residualTerm,
                              int64_t zp, int64_t lo, int64_t hi, bool flip,
                              Value floatBias,
                              std::optional<int64_t> floatZeroPointOffset) {
  auto f16 = VectorType::get({16}, b.getF32Type());
  auto v16 = VectorType::get({16}, b.getI32Type());
  Value t = arith::SIToFPOp::create(b, loc, f16, acc);
  if (floatBias)
    t = arith::AddFOp::create(b, loc, t, floatBias);
  t = arith::MulFOp::create(b, loc, t, mult);
  if (residualTerm)
    t = arith::AddFOp::create(b, loc, t, residualTerm);
  // q = roundeven(t) + add: add = zp, or with the offset c, t + f32(zp + c)
  // rounded and add = -c.
  int64_t add = zp;
  if (floatZeroPointOffset) {
    t = arith::AddFOp::create(b, loc, t,
                              f32Splat(float(zp + *floatZeroPointOffset)));
    add = -*floatZeroPointOffset;
  }
  t = arith::MinimumFOp::create(
      b, loc, arith::MaximumFOp::create(b, loc, t, f32Splat(float(lo - add))),
      f32Splat(float(hi - add)));
  constexpr float magic = 12582912.0f; // 1.5 * 2^23, bits 0x4B400000
  Value bits = arith::BitcastOp::create(
      b, loc, v16, arith::AddFOp::create(b, loc, t, f32Splat(magic)));
  Value q = arith::SubIOp::create(
      b, loc, bits, i32Splat(0x4B400000 - (flip ? add + 128 : add)));
  return arith::TruncIOp::create(b, loc, VectorType::get({16}, b.getI8Type()),
                                 q);
}

/// Stores 16 codes at the NHWC indices `at`, or only the first `tail`
/// lanes, as unmasked stores of 8, 4, 2 and 1 lanes: LLVM 22 miscompiles a
/// masked i8 store with one active lane into a 4-byte store (vmovd), which
/// overwrites the next pixel.
void EmitterBase::storeCodes(Value q8, Value out, ArrayRef<Value> at,
                             int64_t tail) {
  if (!tail) {
    vector::StoreOp::create(b, loc, q8, out, at);
    return;
  }
  for (int64_t off = 0, size = 8; size; size /= 2) {
    if (!(tail & size))
      continue;
    SmallVector<Value, 4> lane(at);
    lane.back() = arith::AddIOp::create(b, loc, at.back(), idx(off));
    if (size == 1)
      memref::StoreOp::create(
          b, loc, vector::ExtractOp::create(b, loc, q8, ArrayRef<int64_t>{off}),
          out, lane);
    else
      vector::StoreOp::create(
          b, loc,
          vector::ExtractStridedSliceOp::create(b, loc, q8, off, size, 1), out,
          lane);
    off += size;
  }
}
