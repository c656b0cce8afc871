//===- Training.h - what the training passes share --------------*- C++ -*-===//
#ifndef QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H
#define QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H

#include "llvm/ADT/StringRef.h"

namespace mlir::func {
class FuncOp;
} // namespace mlir::func

namespace mlir::qat {
/// On an ml_program.global: the global is a trainable parameter; the value
/// says which ("weight", "bias", ...).
constexpr llvm::StringLiteral kParameterAttrName = "qat.parameter";
/// On a weight quantizer's qat.observer: the globals [@min, @max] holding the
/// range it saw last (stored by the train step, read when observers are
/// frozen). On those globals: "min" or "max".
constexpr llvm::StringLiteral kWeightRangeAttrName = "qat.weight_range";
/// What qat-fold-conv-bn{record-bn} folded into a convolution.
constexpr llvm::StringLiteral kBatchNormAttrName = "qat.batch_norm";
/// A convolution trained with batch norm (qat-make-trainable{bn-mode=train}):
/// the symbols of its globals and eps.
constexpr llvm::StringLiteral kConvBNAttrName = "qat.conv_bn";
/// On a running-statistics global: "mean" or "var".
constexpr llvm::StringLiteral kRunningStatAttrName = "qat.bn_running";
/// On a ConvBn's qat.batch_norm_train: [@running_mean, @running_var], the
/// globals whose values replace the batch's statistics when batch norm
/// uses running statistics (eval, freeze_bn_stats).
constexpr llvm::StringLiteral kBatchStatAttrName = "qat.bn_batch_stat";
/// On the op giving a ConvBn's output: the symbol of its weight.
constexpr llvm::StringLiteral kConvBNOutputAttrName = "qat.conv_bn_output";
/// On the op scaling a ConvBn's weight by gamma / sqrt(running_var + eps).
constexpr llvm::StringLiteral kConvBNWeightAttrName = "qat.conv_bn_weight";

/// Erases the pure ops and global loads without uses in `func`, until none
/// is left (the adjoints nobody reads, such as the gradient of the model's
/// input; the observer flag where no observer is). Training.cpp.
void eraseDeadOps(func::FuncOp func);
} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_TRANSFORMS_TRAINING_H
