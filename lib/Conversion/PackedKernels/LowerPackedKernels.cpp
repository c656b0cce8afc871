//===- LowerPackedKernels.cpp - qat-lower-packed-kernels ------------------===//
//
// The pass: checks the options and each packed kernel op's operands, chooses
// the tile of each kernel and whether it runs in parallel, and hands the op
// to its emitter (Emitters.h: one file per emitter).
//
//===----------------------------------------------------------------------===//

#include "Emitters.h"

#include "qat/Conversion/Passes.h"

#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERPACKEDKERNELSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::packed;

namespace {

struct LowerPackedKernelsPass
    : qat::impl::LowerPackedKernelsPassBase<LowerPackedKernelsPass> {
  using Base::Base;
  void runOnOperation() override {
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
      int64_t macs = out.getNumElements() * w.getDimSize(0) * w.getDimSize(1) *
                     kDepthwiseMacWeight;
      emitPackedDepthwiseConv2D(op, isa, parallel && macs >= minParallelMacs,
                                depthwiseRows ? depthwiseRows : 16);
    }
    SmallVector<PackedConv2DOp> ops;
    getOperation().walk([&](PackedConv2DOp op) { ops.push_back(op); });
    for (PackedConv2DOp op : ops) {
      if (!checkOperands(op, op.getInput(), op.getWeights(), op.getBias(),
                         op.getMultiplier(), op.getInit()))
        return signalPassFailure();
      auto w = cast<MemRefType>(op.getWeights().getType());
      auto out = cast<MemRefType>(op.getInit().getType());
      int64_t macs =
          out.getNumElements() * op.getWindowHeight() * op.getWindowWidth() *
          llvm::alignTo(cast<MemRefType>(op.getInput().getType()).getDimSize(3),
                        4);
      // Weights in the tile layout (qat-pack-amx-weights): AMX tiles.
      if (op.hasTileWeights()) {
        emitPackedConv2DAMX(op, isa, parallel && macs >= minParallelMacs);
        continue;
      }
      // Default tile: up to 4 blocks of 16 channels, and as many pixels as
      // keep about 24 accumulators in flight (fewer channels, more pixels).
      // A GEMV (one pixel) takes one block per tile: its weights are then
      // read as one contiguous stream (several blocks per tile stream from
      // as many places at once, which measured slower), and the tile splits
      // its reduction over several sets of accumulators instead.
      int64_t nb = w.getDimSize(0);
      bool gemv =
          out.getDimSize(0) * out.getDimSize(1) * out.getDimSize(2) == 1;
      int64_t tileBlocks = bl ? bl : std::min<int64_t>(gemv ? 1 : 4, nb);
      int64_t tileRows = r ? r : std::max<int64_t>(1, 24 / tileBlocks);
      emitPackedConv2D(op, isa, parallel && macs >= minParallelMacs, tileRows,
                       tileBlocks);
    }
  }
};

} // namespace
