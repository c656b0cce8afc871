//===- LowerF32Kernels.cpp - qat-lower-f32-kernels ------------------------===//
//
// The f32 kernel ops on memrefs (qat.packed_conv2d_f32, the depthwise and
// adjoint kernels, qat.pack_conv_weights_f32) to the loops of their
// emitters (F32Emitters.h): register tiles of vector<16xf32> accumulators,
// a zero-padded copy of the input when the kernel pads, the epilogue region
// applied to each accumulator vector before its store.
//
//===----------------------------------------------------------------------===//

#include "F32Emitters.h"

#include "qat/Conversion/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERF32KERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::f32;

namespace {

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
    KernelIsa which = isa;
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
          op->emitOpError("needs unit-stride innermost dimensions, got ") << t;
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
      int64_t macs = out.getNumElements() * w.getDimSize(0) * w.getDimSize(1) *
                     kDepthwiseMacWeight;
      emitDepthwise(op, which, parallel && macs >= minParallelMacs, 8);
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
        // Packing weights computed at run time (training) is data
        // movement: split over threads from 65,536 weights on, as
        // qat-linalg-to-loops splits elementwise ops.
        int64_t weights =
            cast<MemRefType>(pack.getWeights().getType()).getNumElements();
        emitPackWeights(pack, parallel && weights >= (int64_t{1} << 16));
        continue;
      }
      if (auto conv = dyn_cast<PackedConv2DF32Op>(op)) {
        if (!check(op))
          return signalPassFailure();
        auto w = cast<MemRefType>(conv.getWeights().getType());
        auto out = cast<MemRefType>(conv.getInit().getType());
        int64_t macs = out.getNumElements() * w.getDimSize(1) * w.getDimSize(2);
        emitConv(conv, which, parallel && macs >= minParallelMacs, r, bl);
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
        int64_t macs =
            dy.getNumElements() * w.getNumElements() / w.getDimSize(0);
        emitBackwardData(bwd, which, parallel && macs >= minParallelMacs, r,
                         bl);
        continue;
      }
      if (auto bwd = dyn_cast<DepthwiseConv2DBackwardDataF32Op>(op)) {
        auto dx = cast<MemRefType>(bwd.getInit().getType());
        auto w = cast<MemRefType>(bwd.getWeight().getType());
        int64_t macs = dx.getNumElements() * w.getDimSize(0) * w.getDimSize(1) *
                       kDepthwiseMacWeight;
        emitDepthwiseBackwardData(bwd, which,
                                  parallel && macs >= minParallelMacs, 8);
        continue;
      }
      if (auto bwd = dyn_cast<DepthwiseConv2DBackwardWeightF32Op>(op)) {
        auto dy = cast<MemRefType>(bwd.getGradOutput().getType());
        auto w = cast<MemRefType>(bwd.getInit().getType());
        int64_t macs = dy.getNumElements() * w.getDimSize(0) * w.getDimSize(1) *
                       kDepthwiseMacWeight;
        emitDepthwiseBackwardWeight(bwd, which,
                                    parallel && macs >= minParallelMacs);
        continue;
      }
      auto bwd = cast<Conv2DBackwardWeightF32Op>(op);
      auto dy = cast<MemRefType>(bwd.getGradOutput().getType());
      auto w = cast<MemRefType>(bwd.getInit().getType());
      int64_t macs = dy.getNumElements() * w.getNumElements() / w.getDimSize(0);
      emitBackwardWeight(bwd, which, parallel && macs >= minParallelMacs);
    }
  }
};

} // namespace