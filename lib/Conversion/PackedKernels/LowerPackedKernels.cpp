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

/// What one depthwise multiply-accumulate costs against a convolution's,
/// for `min-parallel-macs`: the depthwise kernel runs at about 100 GOPS,
/// the convolution at about 800 (one tap per lane instead of four, no
/// reuse of the input across output channels).
constexpr int64_t kDepthwiseMacWeight = 8;

/// The byte a packed kernel stores for its output zero point.
template <typename OpTy> static int8_t storedZeroPoint(OpTy op) {
  int8_t zp = int8_t(int64_t(op.getOutputZeroPoint()));
  return op.getUnsignedOutput() ? int8_t(zp ^ 0x80) : zp;
}

/// Builder helpers shared by the kernel emitters.
class EmitterBase {
public:
  EmitterBase(Operation *op, Isa isa, bool parallel)
      : b(op), loc(op->getLoc()), isa(isa), parallel(parallel) {}

protected:
  /// `body(ivs)` in a loop nest over [0, ubs[i]) by steps[i]: one
  /// scf.parallel over all dimensions when `parallel`, else nested scf.for
  /// (the first dimension outermost).
  void loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                function_ref<void(ValueRange)> body);
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
  Value padCopy(Value input, int64_t cp, int8_t fill, bool flip);
  /// The kernel's input as the 1-D N x Hp x Wp x cp buffer of unsigned
  /// codes it reads: the input itself when it already holds unsigned codes
  /// without padding in `cp` channels and is contiguous, else a padded copy
  /// (made unsigned), which releaseInput frees.
  template <typename OpTy> Value unsignedInput(OpTy op, int64_t cp) {
    auto t = cast<MemRefType>(op.getInput().getType());
    if (op.getUnsignedInput() &&
        llvm::all_of(pad, [](int64_t p) { return p == 0; }) &&
        t.getDimSize(3) == cp && t.getLayout().isIdentity())
      return flatten(op.getInput());
    copiedInput = padCopy(op.getInput(), cp,
                          int8_t(int64_t(op.getInputZeroPoint()) + 128),
                          /*flip=*/!op.getUnsignedInput());
    return copiedInput;
  }
  void releaseInput() {
    if (copiedInput)
      memref::DeallocOp::create(b, loc, copiedInput);
  }
  Value copiedInput;
  Value requantize(Value acc, Value mult, Value residualTerm, int64_t zp,
                   int64_t lo, int64_t hi, bool flip);
  void storeCodes(Value q8, Value out, ArrayRef<Value> at, int64_t tail);
  /// `len` bytes of `fill` (a vector<64xi8> splat) into the 1-D `buf` from
  /// `start`: whole 64-byte stores and a masked one for the rest (`len` is
  /// a multiple of 4, so never the one-lane masked i8 store that LLVM 22
  /// miscompiles).
  void fillBytes(Value buf, Value start, int64_t len, Value fill);
  /// With `output_pad`: fills the border of the output `out` with `code`
  /// and makes outIndices shift by its top and left sides.
  void fillOutputBorder(Value out, std::optional<ArrayRef<int64_t>> outPad,
                        int8_t code);
  /// NHWC indices of an output element in the (padded) output buffer.
  SmallVector<Value, 4> outIndices(ArrayRef<Value> at) {
    SmallVector<Value, 4> r(at);
    if (outTop)
      r[1] = arith::AddIOp::create(b, loc, r[1], idx(outTop));
    if (outLeft)
      r[2] = arith::AddIOp::create(b, loc, r[2], idx(outLeft));
    return r;
  }
  int64_t outTop = 0, outLeft = 0;

  /// The input and output geometry of a packed kernel: N x H x W x C in,
  /// Ho x Wo out (inside the border of output_pad), the window attributes,
  /// and the padded input size Hp x Wp.
  template <typename OpTy> void readWindow(OpTy op) {
    auto in = cast<MemRefType>(op.getInput().getType());
    auto out = cast<MemRefType>(op.getInit().getType());
    n = in.getDimSize(0);
    h = in.getDimSize(1);
    wIn = in.getDimSize(2);
    c = in.getDimSize(3);
    ArrayRef<int64_t> outPad = op.getOutputPad().value_or(ArrayRef<int64_t>());
    ho = out.getDimSize(1) - (outPad.empty() ? 0 : outPad[0] + outPad[1]);
    wo = out.getDimSize(2) - (outPad.empty() ? 0 : outPad[2] + outPad[3]);
    stride.assign(op.getStride().begin(), op.getStride().end());
    dilation.assign(op.getDilation().begin(), op.getDilation().end());
    pad.assign(op.getPad().begin(), op.getPad().end());
    hp = h + pad[0] + pad[1];
    wp = wIn + pad[2] + pad[3];
  }

  OpBuilder b;
  Location loc;
  Isa isa;
  bool parallel;
  int64_t n = 0, h = 0, wIn = 0, c = 0, ho = 0, wo = 0, hp = 0, wp = 0;
  SmallVector<int64_t> stride, dilation, pad;
};

void EmitterBase::loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                           function_ref<void(ValueRange)> body) {
  OpBuilder::InsertionGuard g(b);
  SmallVector<Value> lbs, ubv, stv;
  for (auto [ub, step] : llvm::zip(ubs, steps)) {
    lbs.push_back(idx(0));
    ubv.push_back(idx(ub));
    stv.push_back(idx(step));
  }
  if (parallel) {
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

/// Emits the code of one qat.packed_conv2d on memrefs.
class KernelEmitter : EmitterBase {
public:
  KernelEmitter(PackedConv2DOp op, Isa isa, bool parallel, int64_t rows,
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

/// A 1-D view of a contiguous memref.
Value EmitterBase::flatten(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 1)
    return memref;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return memref::CollapseShapeOp::create(b, loc, memref,
                                         ArrayRef<ReassociationIndices>{all});
}

/// A 1-D copy of the NHWC `input` (N x H x W x C) as N x Hp x Wp x cp codes
/// (cp >= C, a multiple of 4), with the kernel's `pad` = [top, bottom,
/// left, right] border rows and columns; the border and the channels
/// beyond C hold `fill`. With `flip`, every copied code is xor 0x80 (x + 128
/// as unsigned; the caller flips `fill`). Every byte is written exactly
/// once, so the rows can be copied in parallel.
Value EmitterBase::padCopy(Value input, int64_t cp, int8_t fill, bool flip) {
  int64_t total = llvm::alignTo(n * hp * wp * cp, 64);
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
      Value v = vector::MaskedLoadOp::create(b, loc, v64, flatIn,
                                             ValueRange{at}, mask(3 * pixels),
                                             splat(0));
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
      copyRgbRow(img, y, arith::AddIOp::create(b, loc, rowStart,
                                               idx(pad[2] * cp)));
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
                              int64_t zp, int64_t lo, int64_t hi, bool flip) {
  auto f16 = VectorType::get({16}, b.getF32Type());
  auto v16 = VectorType::get({16}, b.getI32Type());
  Value t = arith::MulFOp::create(
      b, loc, arith::SIToFPOp::create(b, loc, f16, acc), mult);
  if (residualTerm)
    t = arith::AddFOp::create(b, loc, t, residualTerm);
  t = arith::MinimumFOp::create(
      b, loc, arith::MaximumFOp::create(b, loc, t, f32Splat(float(lo - zp))),
      f32Splat(float(hi - zp)));
  constexpr float magic = 12582912.0f; // 1.5 * 2^23, bits 0x4B400000
  Value bits = arith::BitcastOp::create(
      b, loc, v16, arith::AddFOp::create(b, loc, t, f32Splat(magic)));
  Value q = arith::SubIOp::create(
      b, loc, bits, i32Splat(0x4B400000 - (flip ? zp + 128 : zp)));
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
          b, loc,
          vector::ExtractOp::create(b, loc, q8, ArrayRef<int64_t>{off}), out,
          lane);
    else
      vector::StoreOp::create(
          b, loc,
          vector::ExtractStridedSliceOp::create(b, loc, q8, off, size, 1), out,
          lane);
    off += size;
  }
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
              b, loc, arith::AddIOp::create(b, loc, block, idx(j)),
              idx(16))}));
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
                            int64_t(op.getQuantMax()), op.getUnsignedOutput());
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
               inType.getDimSize(3) == c4 * 4 && inType.getLayout().isIdentity();
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
  DepthwiseEmitter(PackedDepthwiseConv2DOp op, Isa isa, bool parallel,
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
  void emitBlock(ArrayRef<Value> rowOffsets, ArrayRef<Value> rowTops,
                 Value ox0, Value colOff, std::optional<int64_t> staticOx0,
                 int64_t cols,
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
  if (isa == Isa::Portable)
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
  Value bv =
      vector::LoadOp::create(b, loc, v16, op.getBias(), ValueRange{c0});
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
                                 Value colOff,
                                 std::optional<int64_t> staticOx0,
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
      if (signedCodes && isa == Isa::Vnni)
        wv[kx] = arith::AndIOp::create(b, loc, wv[kx], i32Splat(0xffff));
    }
    // The taps of row r, reading the source unless `padRow`.
    auto rowTaps = [&](int64_t r, bool padRow, MutableArrayRef<Value> accs) {
      Value base = padRow
                       ? Value()
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
          arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, iy,
                                idx(0)),
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
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < cols; ++i) {
      Value q8 = requantize(loopKy.getResult(r * cols + i), mv, Value(),
                            int64_t(op.getOutputZeroPoint()),
                            int64_t(op.getQuantMin()),
                            int64_t(op.getQuantMax()), op.getUnsignedOutput());
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
        b, loc, arith::MulIOp::create(b, loc, oy, idx(stride[0])),
        idx(padTop));
    rowTops.push_back(top);
    Value srcRow = arith::AddIOp::create(
        b, loc, arith::MulIOp::create(b, loc, img, idx(srcH)), top);
    rowOffsets.push_back(
        arith::MulIOp::create(b, loc, srcRow, idx(srcW * cp)));
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
    int64_t last = (ox0 + cols - 1) * stride[1] - padLeft +
                   (kw - 1) * dilation[1];
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
    if (depthwiseRows < 0 || depthwiseRows > 28) {
      getOperation().emitError("qat-lower-packed-kernels: depthwise-rows "
                               "must be in [0, 28], got ")
          << int64_t(depthwiseRows);
      return signalPassFailure();
    }
    // Both packed kernels need memrefs with identity-layout weights, bias
    // and multiplier, and unit-stride channels.
    auto checkOperands = [](Operation *op, Value input, Value weights,
                            Value bias, Value mult, Value out) {
      if (op->getNumResults()) {
        op->emitOpError("must be bufferized before qat-lower-packed-kernels");
        return false;
      }
      auto layoutOk = [](Value v) {
        return cast<MemRefType>(v.getType()).getLayout().isIdentity();
      };
      auto unitStride = [](Value v) {
        return cast<MemRefType>(v.getType()).isLastDimUnitStride();
      };
      if (!layoutOk(weights) || !layoutOk(bias) || !layoutOk(mult) ||
          !unitStride(input) || !unitStride(out)) {
        op->emitOpError("needs identity-layout weights, bias and multiplier "
                        "and unit-stride channels");
        return false;
      }
      if (op->hasAttr("output_pad") && !layoutOk(out)) {
        op->emitOpError("with output_pad needs an identity-layout init");
        return false;
      }
      return true;
    };
    SmallVector<PackedDepthwiseConv2DOp> dws;
    getOperation().walk([&](PackedDepthwiseConv2DOp op) { dws.push_back(op); });
    for (PackedDepthwiseConv2DOp op : dws) {
      if (!checkOperands(op, op.getInput(), op.getWeights(), op.getBias(),
                         op.getMultiplier(), op.getInit()))
        return signalPassFailure();
      auto out = cast<MemRefType>(op.getInit().getType());
      auto w = cast<MemRefType>(op.getWeights().getType());
      int64_t macs = out.getNumElements() * w.getDimSize(0) *
                     w.getDimSize(1) * kDepthwiseMacWeight;
      DepthwiseEmitter(op, which, parallel && macs >= minParallelMacs,
                       depthwiseRows ? depthwiseRows : 16)
          .emit();
    }
    SmallVector<PackedConv2DOp> ops;
    getOperation().walk([&](PackedConv2DOp op) { ops.push_back(op); });
    for (PackedConv2DOp op : ops) {
      if (!checkOperands(op, op.getInput(), op.getWeights(), op.getBias(),
                         op.getMultiplier(), op.getInit()))
        return signalPassFailure();
      auto w = cast<MemRefType>(op.getWeights().getType());
      // Default tile: up to 4 blocks of 16 channels, and as many pixels as
      // keep about 24 accumulators in flight (fewer channels, more pixels).
      // A GEMV (one pixel) takes one block per tile: its weights are then
      // read as one contiguous stream (several blocks per tile stream from
      // as many places at once, which measured slower), and the tile splits
      // its reduction over several sets of accumulators instead.
      int64_t nb = w.getDimSize(0);
      auto out = cast<MemRefType>(op.getInit().getType());
      bool gemv = out.getDimSize(0) * out.getDimSize(1) * out.getDimSize(2) == 1;
      int64_t tileBlocks = bl ? bl : std::min<int64_t>(gemv ? 1 : 4, nb);
      int64_t tileRows = r ? r : std::max<int64_t>(1, 24 / tileBlocks);
      int64_t macs = out.getNumElements() * w.getDimSize(1) *
                     w.getDimSize(2) * w.getDimSize(3) * 4;
      KernelEmitter(op, which, parallel && macs >= minParallelMacs, tileRows,
                    tileBlocks)
          .emit();
    }
  }
};

} // namespace
