//===- QATDialect.cpp - qat dialect registration --------------------------===//

#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/DstBufferizableOpInterfaceImpl.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::qat;

namespace {
/// One-Shot Bufferize of qat.packed_conv2d: the memref form writes into the
/// buffer of `init`, which becomes the result.
struct PackedConv2DBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          PackedConv2DBufferization, PackedConv2DOp> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const bufferization::BufferizationOptions &options,
                          bufferization::BufferizationState &state) const {
    auto conv = cast<PackedConv2DOp>(op);
    SmallVector<Value> buffers;
    for (Value v : op->getOperands()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, v, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    Value residual = conv.getResidual() ? buffers[4] : Value();
    Value init = buffers.back();
    PackedConv2DOp::create(
        rewriter, op->getLoc(), TypeRange(), buffers[0], buffers[1],
        buffers[2], buffers[3], residual, init, conv.getInputZeroPointAttr(),
        conv.getOutputZeroPointAttr(), conv.getQuantMinAttr(),
        conv.getQuantMaxAttr(), conv.getStrideAttr(), conv.getPadAttr(),
        conv.getDilationAttr(), conv.getResidualMultiplierAttr(),
        conv.getResidualZeroPointAttr());
    bufferization::replaceOpWithBufferizedValues(rewriter, op, init);
    return success();
  }
};
} // namespace

#include "qat/Dialect/QAT/IR/QATDialect.cpp.inc"
#include "qat/Dialect/QAT/IR/QATEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "qat/Dialect/QAT/IR/QATAttrs.cpp.inc"

void QATDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "qat/Dialect/QAT/IR/QATAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "qat/Dialect/QAT/IR/QATOps.cpp.inc"
      >();
  // qat.packed_conv2d is destination-passing: One-Shot Bufferize writes its
  // result into the buffer of `init`.
  PackedConv2DOp::attachInterface<PackedConv2DBufferization>(*getContext());
}

/// Folded qat ops become arith.constant.
Operation *QATDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
