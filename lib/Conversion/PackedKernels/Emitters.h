//===- Emitters.h - the code emitters of qat-lower-packed-kernels -*- C++
//-*-===//
//
// qat-lower-packed-kernels (LowerPackedKernels.cpp) replaces each packed int8
// kernel op on memrefs by the loops one emitter writes. One emitter a file:
//
//   EmitterBase.cpp       what every emitter shares (beside WindowEmitter.h:
//                         loop nests, the window): the padded unsigned input
//                         copy, the output border, the requantization
//                         epilogue, stores
//   ConvEmitter.cpp       qat.packed_conv2d: register tiles of vpdpbusd
//                         (KernelIsa::Vnni) or its portable form
//   DepthwiseEmitter.cpp  qat.packed_depthwise_conv2d
//
// To add an emitter (another instruction set such as AMX, or another packed
// op): write <Name>Emitter.cpp with a class derived from EmitterBase, declare
// its entry point at the end of this header, add the instruction set to
// KernelIsa (qat/Support/Options.h) if it is one, and call the entry point
// from LowerPackedKernelsPass for the ops and instruction sets it handles.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_PACKEDKERNELS_EMITTERS_H
#define QAT_LIB_CONVERSION_PACKEDKERNELS_EMITTERS_H

#include "WindowEmitter.h"
#include "qat/Dialect/QAT/IR/QATOps.h"
#include "qat/Support/Options.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"

namespace mlir::qat::packed {

/// What one depthwise multiply-accumulate costs against a convolution's,
/// for `min-parallel-macs`: the depthwise kernel runs at about 100 GOPS,
/// the convolution at about 800 (one tap per lane instead of four, no
/// reuse of the input across output channels).
constexpr int64_t kDepthwiseMacWeight = 8;

/// An optional integer attribute's value as int64_t.
inline std::optional<int64_t> optionalInt(std::optional<uint64_t> v) {
  if (!v)
    return std::nullopt;
  return int64_t(*v);
}

/// The byte a packed kernel stores for its output zero point.
template <typename OpTy> int8_t storedZeroPoint(OpTy op) {
  int8_t zp = int8_t(int64_t(op.getOutputZeroPoint()));
  return op.getUnsignedOutput() ? int8_t(zp ^ 0x80) : zp;
}

/// Builder helpers shared by the int8 kernel emitters.
class EmitterBase : protected WindowEmitter {
public:
  EmitterBase(Operation *op, KernelIsa isa, bool parallel)
      : WindowEmitter(op, isa, parallel) {}

protected:
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
  /// The padded copy of padCopy's description (EmitterBase.cpp), with
  /// `slack` more bytes at the end that tiles may read past it.
  Value padCopy(Value input, int64_t cp, int8_t fill, bool flip,
                int64_t slack = 0);
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
  /// The epilogue of the packed ops (their descriptions): `acc`, `mult`,
  /// `floatBias` and `residualTerm` are vectors of 16 lanes.
  Value requantize(Value acc, Value mult, Value residualTerm, int64_t zp,
                   int64_t lo, int64_t hi, bool flip, Value floatBias = Value(),
                   std::optional<int64_t> floatZeroPointOffset = std::nullopt);
  /// The 16 float-bias values of the block from channel `c0`, or null.
  Value loadFloatBias(Value floatBias, Value c0) {
    if (!floatBias)
      return Value();
    return vector::LoadOp::create(b, loc, VectorType::get({16}, b.getF32Type()),
                                  floatBias, ValueRange{c0});
  }
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
    WindowEmitter::readWindow(op.getInput(), op.getInit(), op.getStride(),
                              op.getDilation(), op.getPad(),
                              op.getOutputPad().value_or(ArrayRef<int64_t>()));
  }
};

//===----------------------------------------------------------------------===//
// The emitters
//===----------------------------------------------------------------------===//

/// Replaces `op` (bufferized, operands checked by the pass) by register
/// tiles of `rows` output pixels x `blocks` blocks of 16 output channels
/// (ConvEmitter.cpp). With `parallel`, the tile loops are scf.parallel.
void emitPackedConv2D(PackedConv2DOp op, KernelIsa isa, bool parallel,
                      int64_t rows, int64_t blocks);

/// Replaces `op`, whose weights are in the tile layout, by an implicit GEMM
/// on AMX tiles in the amx dialect (AMXEmitter.cpp; `isa` serves the rest of
/// the kernel's vector code). With `parallel`, the tile loops are
/// scf.parallel and their stack buffers need qat-hoist-parallel-allocas
/// after convert-scf-to-openmp.
void emitPackedConv2DAMX(PackedConv2DOp op, KernelIsa isa, bool parallel);

/// Replaces `op` by tiles of up to `pixels` accumulators
/// (DepthwiseEmitter.cpp).
void emitPackedDepthwiseConv2D(PackedDepthwiseConv2DOp op, KernelIsa isa,
                               bool parallel, int64_t pixels);

} // namespace mlir::qat::packed

#endif // QAT_LIB_CONVERSION_PACKEDKERNELS_EMITTERS_H
