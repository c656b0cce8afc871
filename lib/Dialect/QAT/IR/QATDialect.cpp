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
/// One-Shot Bufferize of the destination-passing packed kernels
/// (qat.packed_conv2d, qat.packed_depthwise_conv2d): the memref form writes
/// into the buffer of `init`, which becomes the result.
template <typename OpTy>
struct PackedKernelBufferization
    : bufferization::DstBufferizableOpInterfaceExternalModel<
          PackedKernelBufferization<OpTy>, OpTy> {
  LogicalResult bufferize(Operation *op, RewriterBase &rewriter,
                          const bufferization::BufferizationOptions &options,
                          bufferization::BufferizationState &state) const {
    SmallVector<Value> buffers;
    for (Value v : op->getOperands()) {
      FailureOr<Value> buffer =
          bufferization::getBuffer(rewriter, v, options, state);
      if (failed(buffer))
        return failure();
      buffers.push_back(*buffer);
    }
    rewriter.setInsertionPoint(op);
    // Same operands (segment sizes included) and attributes, no result.
    OperationState memrefForm(op->getLoc(), op->getName());
    memrefForm.addOperands(buffers);
    memrefForm.addAttributes(op->getAttrs());
    rewriter.create(memrefForm);
    bufferization::replaceOpWithBufferizedValues(rewriter, op,
                                                 buffers.back());
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
  // The packed kernels are destination-passing: One-Shot Bufferize writes its
  // result into the buffer of `init`.
  PackedConv2DOp::attachInterface<PackedKernelBufferization<PackedConv2DOp>>(
      *getContext());
  PackedDepthwiseConv2DOp::attachInterface<
      PackedKernelBufferization<PackedDepthwiseConv2DOp>>(*getContext());
  attachFloatKernelInterfaces(getContext());
}

/// Folded qat ops become arith.constant.
Operation *QATDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
