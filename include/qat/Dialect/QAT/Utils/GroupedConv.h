//===- GroupedConv.h - grouped convolutions as the exporter writes them -*- C++
//-*-//
//
// TOSA has no `groups`: the exporter writes PyTorch's grouped nn.Conv2d as
// one tosa.conv2d per group on its tosa.slice of the input channels and a
// tosa.concat of the groups' results on the channel axis. One matcher for
// that form serves the passes that treat it as one convolution:
// qat-insert-fake-quant (one quantizer on the input before the slices, one
// on the output after the concat, as PyTorch's eager QAT has for a grouped
// nn.Conv2d), qat-convert-to-integer (each group a kernel on the output's
// grid) and qat-pack-f32-kernels (one qat.packed_conv2d_f32 {groups}).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_DIALECT_QAT_UTILS_GROUPEDCONV_H
#define QAT_DIALECT_QAT_UTILS_GROUPEDCONV_H

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "llvm/ADT/SmallVector.h"

#include <optional>

namespace mlir::qat {

struct GroupedConv {
  tosa::ConcatOp concat;
  /// The groups' convolutions, in channel order.
  llvm::SmallVector<tosa::Conv2DOp> convs;
  /// The tensor whose channel slices, in order, are the groups' inputs
  /// (slice g = channels [g * Cg, (g + 1) * Cg), every other dimension
  /// whole, each slice used only by its convolution); null when the
  /// groups' inputs are not slices of one tensor.
  Value source;

  int64_t groups() const { return convs.size(); }
};

/// `concat` as a grouped convolution: a tosa.concat on axis 3 (NHWC
/// channels) of G >= 2 tosa.conv2d results, each used only by the concat,
/// with statically shaped, equal input, weight and result types and equal
/// stride, pad and dilation.
std::optional<GroupedConv> matchGroupedConv(tosa::ConcatOp concat);

} // namespace mlir::qat

#endif // QAT_DIALECT_QAT_UTILS_GROUPEDCONV_H
