//===- GroupedConv.cpp - grouped convolutions as the exporter writes them -===//
//
// See GroupedConv.h.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Utils/GroupedConv.h"
#include "qat/Dialect/QAT/Utils/Constants.h"

using namespace mlir;
using namespace mlir::qat;

static bool isStatic(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && t.hasStaticShape();
}

/// The values of a tosa.const_shape, if `v` is one.
static bool constShape(Value v, SmallVectorImpl<int64_t> &values) {
  std::optional<SmallVector<int64_t>> c = getConstantShape(v);
  if (!c)
    return false;
  values.assign(c->begin(), c->end());
  return true;
}

/// The tensor whose channel slices, in order, feed `convs`; else null.
static Value sliceSource(ArrayRef<tosa::Conv2DOp> convs) {
  int64_t groups = convs.size();
  Value source;
  for (auto [g, c] : llvm::enumerate(convs)) {
    tosa::Conv2DOp conv = c;
    auto slice = conv.getInput().getDefiningOp<tosa::SliceOp>();
    if (!slice || !slice->hasOneUse() ||
        (source && slice.getInput1() != source))
      return Value();
    auto in = dyn_cast<RankedTensorType>(slice.getInput1().getType());
    auto out = cast<RankedTensorType>(slice.getType());
    int64_t cg = out.getDimSize(3);
    SmallVector<int64_t> start, size;
    if (!in || !in.hasStaticShape() || in.getRank() != 4 ||
        !constShape(slice.getStart(), start) ||
        !constShape(slice.getSize(), size) ||
        start != ArrayRef<int64_t>{0, 0, 0, int64_t(g) * cg} ||
        in.getDimSize(3) != groups * cg ||
        in.getShape().drop_back() != out.getShape().drop_back())
      return Value();
    source = slice.getInput1();
  }
  return source;
}

std::optional<GroupedConv> mlir::qat::matchGroupedConv(tosa::ConcatOp concat) {
  if (concat.getAxis() != 3 || concat.getInput1().size() < 2 ||
      !isStatic(concat.getResult()))
    return std::nullopt;
  GroupedConv grouped{concat, {}, Value()};
  for (Value v : concat.getInput1()) {
    auto conv = v.getDefiningOp<tosa::Conv2DOp>();
    if (!conv || !conv->hasOneUse() || !isStatic(conv.getInput()) ||
        !isStatic(conv.getResult()) || !isStatic(conv.getWeight()))
      return std::nullopt;
    if (!grouped.convs.empty()) {
      tosa::Conv2DOp first = grouped.convs.front();
      if (conv.getInput().getType() != first.getInput().getType() ||
          conv.getWeight().getType() != first.getWeight().getType() ||
          conv.getType() != first.getType() ||
          conv.getStride() != first.getStride() ||
          conv.getPad() != first.getPad() ||
          conv.getDilation() != first.getDilation())
        return std::nullopt;
    }
    grouped.convs.push_back(conv);
  }
  grouped.source = sliceSource(grouped.convs);
  return grouped;
}
