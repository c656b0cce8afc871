//===- QATDialect.cpp - qat dialect registration --------------------------===//

#include "qat/Dialect/QAT/IR/QATDialect.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Bytecode/BytecodeImplementation.h"
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
    bufferization::replaceOpWithBufferizedValues(rewriter, op, buffers.back());
    return success();
  }
};

/// The version of the qat dialect in MLIR bytecode, written into every file
/// that holds qat ops. Bump it whenever the bytecode of an existing op
/// changes (a property added, removed, renamed or of another type: the
/// properties are written in order, without names), so that an older file
/// gets this error instead of MLIR's "attempting to parse a byte at the end
/// of the bytecode". Files written before the version existed carry none
/// and are read as before. 1: 2026-12-08.
constexpr uint64_t kBytecodeVersion = 1;

struct QATBytecodeVersion : DialectVersion {
  explicit QATBytecodeVersion(uint64_t value) : value(value) {}
  uint64_t value;
};

/// Only the version: qat attributes travel as text (the default).
struct QATBytecodeInterface : BytecodeDialectInterface {
  explicit QATBytecodeInterface(Dialect *dialect)
      : BytecodeDialectInterface(dialect) {}

  void writeVersion(DialectBytecodeWriter &writer) const override {
    writer.writeVarInt(kBytecodeVersion);
  }

  std::unique_ptr<DialectVersion>
  readVersion(DialectBytecodeReader &reader) const override {
    uint64_t version;
    if (failed(reader.readVarInt(version)))
      return nullptr;
    if (version != kBytecodeVersion) {
      reader.emitError() << "the file's qat ops were written by qat dialect "
                            "bytecode version "
                         << version << "; this qat-mlir reads version "
                         << kBytecodeVersion
                         << " only (export the model again with it)";
      return nullptr;
    }
    return std::make_unique<QATBytecodeVersion>(version);
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
  addInterfaces<QATBytecodeInterface>();
}

/// Folded qat ops become arith.constant.
Operation *QATDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                           Type type, Location loc) {
  return arith::ConstantOp::materialize(builder, value, type, loc);
}
