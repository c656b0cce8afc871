//===- FakeQuantToInteger.h - the integer model of a function ---*- C++ -*-===//
#ifndef QAT_CONVERSION_FAKEQUANTTOINTEGER_FAKEQUANTTOINTEGER_H
#define QAT_CONVERSION_FAKEQUANTTOINTEGER_FAKEQUANTTOINTEGER_H

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Support/LLVM.h"

namespace mlir::qat {
struct TargetDescription;

/// The deployed forward of a trainable function (issue 18, docs/Deployed.md):
/// rewrites `func`, whose quantizers have constant parameters (after
/// qat-freeze-qparams) and whose weights and biases may be parameter loads
/// (after qat-make-trainable), into the float simulation of the integer
/// model that qat-convert-to-integer{simulate=true} writes for the same
/// parameters. A weight that is not a constant is quantized by
/// `qat.quantize` (f32 codes) and a bias that is not a constant by
/// `qat.quantize_bias`, so the function stays differentiable in them (the
/// ops' straight-through backward). Fails, naming the op, if `func` still
/// observes (a `qat.observer` or `qat.choose_qparams`), if it learns
/// quantization parameters (`qat.lsq`: the integer model's multipliers and
/// zero points are constants of frozen ones) or if a kernel with
/// a parameter cannot be converted (it would train on numerics the
/// deployed model does not have). `numKernels` gets the kernels converted.
LogicalResult convertToDeployedForward(func::FuncOp func,
                                       const TargetDescription &target,
                                       unsigned *numKernels = nullptr);
} // namespace mlir::qat

#endif // QAT_CONVERSION_FAKEQUANTTOINTEGER_FAKEQUANTTOINTEGER_H
