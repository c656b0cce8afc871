//===- QATToLinalg.h - qat to linalg patterns -------------------*- C++ -*-===//
#ifndef QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H
#define QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H

namespace mlir {
class RewritePatternSet;
namespace qat {
/// Patterns that rewrite every qat op into linalg.generic on tensors; usable
/// by other compilers without the pass.
void populateQATToLinalgConversionPatterns(RewritePatternSet &patterns);
/// The part of them for the ops of the training step (convolution and
/// pooling adjoints, loss, optimizers, batch norm on batch statistics);
/// included in the above.
void populateQATTrainingOpsToLinalgConversionPatterns(
    RewritePatternSet &patterns);
/// The convolution and pooling adjoints; included in the above two.
void populateQATWindowAdjointsToLinalgConversionPatterns(
    RewritePatternSet &patterns);
/// The part of them for the deployment-exact ops (qat.quantize_bias and the
/// straight-through backward of the integer-domain ops); included in the
/// above.
void populateQATDeployedOpsToLinalgConversionPatterns(
    RewritePatternSet &patterns);
} // namespace qat
} // namespace mlir

#endif // QAT_CONVERSION_QATTOLINALG_QATTOLINALG_H
