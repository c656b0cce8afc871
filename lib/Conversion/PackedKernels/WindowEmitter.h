//===- WindowEmitter.h - the base of the kernel emitters --*- C++ -*-===//
//
// The base of the emitters of qat-lower-packed-kernels (int8, AMX;
// Emitters.h) and qat-lower-f32-kernels (F32Emitters.h): the builder, the
// loop nests (serial or scf.parallel), 1-D views of memrefs and the window
// geometry of a kernel (WindowEmitter.cpp).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_PACKEDKERNELS_WINDOWEMITTER_H
#define QAT_LIB_CONVERSION_PACKEDKERNELS_WINDOWEMITTER_H

#include "qat/Support/Options.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Builders.h"

namespace mlir::qat {

class WindowEmitter {
public:
  WindowEmitter(Operation *op, KernelIsa isa, bool parallel)
      : b(op), loc(op->getLoc()), isa(isa), parallel(parallel) {}

protected:
  Value idx(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  /// `body(ivs)` in a loop nest over [0, ubs[i]) by steps[i]: one
  /// scf.parallel over all dimensions when `par`, else nested scf.for (the
  /// first dimension outermost).
  void loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                function_ref<void(ValueRange)> body, bool par);
  /// The same, parallel when the kernel is (`parallel`).
  void loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                function_ref<void(ValueRange)> body) {
    loopNest(ubs, steps, body, parallel);
  }
  /// A 1-D view of a contiguous memref.
  Value flatten(Value memref);

  /// The geometry of a window from the NHWC `input` (N x H x W x C) to
  /// `output` (N x Ho x Wo x Co, Ho and Wo inside the border `outPad` when
  /// given), the window attributes, and the padded input size Hp x Wp.
  void readWindow(Value input, Value output, ArrayRef<int64_t> st,
                  ArrayRef<int64_t> dl, ArrayRef<int64_t> pd,
                  ArrayRef<int64_t> outPad = {});

  OpBuilder b;
  Location loc;
  KernelIsa isa;
  bool parallel;
  int64_t n = 0, h = 0, wIn = 0, c = 0, ho = 0, wo = 0, co = 0, hp = 0, wp = 0;
  SmallVector<int64_t> stride, dilation, pad;
};

} // namespace mlir::qat

#endif // QAT_LIB_CONVERSION_PACKEDKERNELS_WINDOWEMITTER_H
