//===- QATTrainingOps.cpp - verifiers and adjoints of the training ops ----===//
//
// Shape rules of the convolution and pooling adjoints and of the loss
// (QATTrainingOps.td), and the loss's GradientOpInterface.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/IR/QATOps.h"

#include <cmath>

using namespace mlir;
using namespace mlir::qat;

namespace {

/// Checks an attribute's length and lower bound; `what` names it.
LogicalResult checkArray(Operation *op, ArrayRef<int64_t> values, size_t length,
                         int64_t minimum, StringRef what) {
  if (values.size() != length)
    return op->emitOpError("requires '") << what << "' to have " << length
                                         << " entries, got " << values.size();
  for (int64_t v : values)
    if (v < minimum)
      return op->emitOpError("requires every '")
             << what << "' entry >= " << minimum << ", got " << v;
  return success();
}

bool known(int64_t d) { return !ShapedType::isDynamic(d); }

/// Checks that `want` (a dimension) equals `have`, where both are known.
LogicalResult checkDim(Operation *op, int64_t want, int64_t have,
                       const Twine &what) {
  if (known(want) && known(have) && want != have)
    return op->emitOpError("requires ")
           << what << " to be " << want << ", got " << have;
  return success();
}

/// The number of windows along one axis: floor((size + lo + hi - extent) /
/// stride) + 1, where extent is the dilated kernel size; 0 if none fits.
int64_t windows(int64_t size, int64_t lo, int64_t hi, int64_t extent,
                int64_t stride) {
  int64_t span = size + lo + hi - extent;
  if (span < 0)
    return 0;
  return span / stride + 1;
}

/// The forward window rule: `input` N x H x W x *, `output` N x Ho x Wo x *,
/// kernel KH x KW (dilated by `dilation`).
LogicalResult verifyWindow(Operation *op, RankedTensorType input,
                           RankedTensorType output, int64_t kh, int64_t kw,
                           ArrayRef<int64_t> pad, ArrayRef<int64_t> stride,
                           ArrayRef<int64_t> dilation) {
  if (failed(checkDim(op, input.getDimSize(0), output.getDimSize(0),
                      "the batch of the output gradient (that of the input)")))
    return failure();
  int64_t h = input.getDimSize(1), w = input.getDimSize(2);
  if (!known(h) || !known(w) || !known(kh) || !known(kw))
    return success();
  int64_t eh = dilation[0] * (kh - 1) + 1, ew = dilation[1] * (kw - 1) + 1;
  int64_t oh = windows(h, pad[0], pad[1], eh, stride[0]);
  int64_t ow = windows(w, pad[2], pad[3], ew, stride[1]);
  if (oh < 1 || ow < 1)
    return op->emitOpError("window of ")
           << eh << "x" << ew << " does not fit the padded input of " << h
           << "x" << w;
  if (failed(checkDim(op, oh, output.getDimSize(1),
                      "the output gradient's height (from the input height, "
                      "kernel, pad, stride and dilation)")) ||
      failed(checkDim(op, ow, output.getDimSize(2),
                      "the output gradient's width (from the input width, "
                      "kernel, pad, stride and dilation)")))
    return failure();
  return success();
}

LogicalResult verifyConvAttrs(Operation *op, ArrayRef<int64_t> pad,
                              ArrayRef<int64_t> stride,
                              ArrayRef<int64_t> dilation) {
  if (failed(checkArray(op, pad, 4, 0, "pad")) ||
      failed(checkArray(op, stride, 2, 1, "stride")) ||
      failed(checkArray(op, dilation, 2, 1, "dilation")))
    return failure();
  return success();
}

/// conv2d: input N x H x W x I, weight O x KH x KW x I, output N x Ho x Wo x O.
LogicalResult verifyConv2D(Operation *op, RankedTensorType input,
                           RankedTensorType weight, RankedTensorType output,
                           ArrayRef<int64_t> pad, ArrayRef<int64_t> stride,
                           ArrayRef<int64_t> dilation) {
  if (failed(verifyConvAttrs(op, pad, stride, dilation)))
    return failure();
  if (failed(
          checkDim(op, weight.getDimSize(3), input.getDimSize(3),
                   "the input channels (dimension 3 of the weight, OHWI)")) ||
      failed(checkDim(op, weight.getDimSize(0), output.getDimSize(3),
                      "the output channels (dimension 0 of the weight, OHWI)")))
    return failure();
  return verifyWindow(op, input, output, weight.getDimSize(1),
                      weight.getDimSize(2), pad, stride, dilation);
}

/// depthwise: input N x H x W x C, weight KH x KW x C x M, output
/// N x Ho x Wo x C*M.
LogicalResult verifyDepthwise(Operation *op, RankedTensorType input,
                              RankedTensorType weight, RankedTensorType output,
                              ArrayRef<int64_t> pad, ArrayRef<int64_t> stride,
                              ArrayRef<int64_t> dilation) {
  if (failed(verifyConvAttrs(op, pad, stride, dilation)))
    return failure();
  if (failed(checkDim(op, weight.getDimSize(2), input.getDimSize(3),
                      "the input channels (dimension 2 of the weight, HWCM)")))
    return failure();
  int64_t c = weight.getDimSize(2), m = weight.getDimSize(3);
  if (known(c) && known(m) &&
      failed(checkDim(op, c * m, output.getDimSize(3),
                      "the output channels (C * M of the HWCM weight)")))
    return failure();
  return verifyWindow(op, input, output, weight.getDimSize(0),
                      weight.getDimSize(1), pad, stride, dilation);
}

LogicalResult verifyPool(Operation *op, RankedTensorType input,
                         RankedTensorType output, ArrayRef<int64_t> kernel,
                         ArrayRef<int64_t> stride, ArrayRef<int64_t> pad) {
  if (failed(checkArray(op, kernel, 2, 1, "kernel")) ||
      failed(checkArray(op, stride, 2, 1, "stride")) ||
      failed(checkArray(op, pad, 4, 0, "pad")))
    return failure();
  if (pad[0] >= kernel[0] || pad[1] >= kernel[0] || pad[2] >= kernel[1] ||
      pad[3] >= kernel[1])
    return op->emitOpError("requires each pad smaller than the kernel along "
                           "its axis");
  if (failed(checkDim(op, input.getDimSize(3), output.getDimSize(3),
                      "the channels of the output gradient (those of the "
                      "input)")))
    return failure();
  int64_t one[2] = {1, 1};
  return verifyWindow(op, input, output, kernel[0], kernel[1], pad, stride,
                      one);
}

RankedTensorType ranked(Value v) { return cast<RankedTensorType>(v.getType()); }

} // namespace

LogicalResult Conv2DBackwardDataOp::verify() {
  return verifyConv2D(*this, ranked(getGradInput()), ranked(getWeight()),
                      ranked(getGradOutput()), getPad(), getStride(),
                      getDilation());
}

LogicalResult Conv2DBackwardWeightOp::verify() {
  return verifyConv2D(*this, ranked(getInput()), ranked(getGradWeight()),
                      ranked(getGradOutput()), getPad(), getStride(),
                      getDilation());
}

LogicalResult DepthwiseConv2DBackwardDataOp::verify() {
  return verifyDepthwise(*this, ranked(getGradInput()), ranked(getWeight()),
                         ranked(getGradOutput()), getPad(), getStride(),
                         getDilation());
}

LogicalResult DepthwiseConv2DBackwardWeightOp::verify() {
  return verifyDepthwise(*this, ranked(getInput()), ranked(getGradWeight()),
                         ranked(getGradOutput()), getPad(), getStride(),
                         getDilation());
}

LogicalResult MaxPool2DBackwardOp::verify() {
  return verifyPool(*this, ranked(getInput()), ranked(getGradOutput()),
                    getKernel(), getStride(), getPad());
}

LogicalResult AvgPool2DBackwardOp::verify() {
  return verifyPool(*this, ranked(getGradInput()), ranked(getGradOutput()),
                    getKernel(), getStride(), getPad());
}

static LogicalResult verifyLossShapes(Operation *op, RankedTensorType logits,
                                      RankedTensorType labels) {
  return checkDim(op, logits.getDimSize(0), labels.getDimSize(0),
                  "one label per row of the logits: the label count");
}

LogicalResult SoftmaxCrossEntropyOp::verify() {
  return verifyLossShapes(*this, ranked(getLogits()), ranked(getLabels()));
}

LogicalResult SoftmaxCrossEntropyGradOp::verify() {
  return verifyLossShapes(*this, ranked(getLogits()), ranked(getLabels()));
}

SmallVector<Value>
SoftmaxCrossEntropyOp::buildGradients(OpBuilder &builder,
                                      ValueRange resultGradients) {
  Value dx = SoftmaxCrossEntropyGradOp::create(
      builder, getLoc(), getLogits().getType(), resultGradients.front(),
      getLogits(), getLabels());
  return {dx, Value()};
}

LogicalResult BatchNormTrainOp::verify() {
  RankedTensorType x = ranked(getInput());
  if (failed(checkDim(*this, x.getDimSize(3), ranked(getGamma()).getDimSize(0),
                      "one gamma per channel of the input: the gamma size")))
    return failure();
  int64_t p = 1;
  for (int64_t i = 0; i < 3; ++i)
    p = known(x.getDimSize(i)) && known(p) ? p * x.getDimSize(i)
                                           : ShapedType::kDynamic;
  if (known(p) && p < 2)
    return emitOpError("requires at least 2 values per channel (N*H*W), got ")
           << p;
  double eps = getEpsilon().convertToDouble();
  if (!(eps >= 0.0) || !std::isfinite(eps))
    return emitOpError("requires a finite epsilon >= 0, got ") << eps;
  return success();
}

LogicalResult SGDUpdateOp::verify() {
  double momentum = getMomentum().convertToDouble();
  double dampening = getDampening().convertToDouble();
  double wd = getWeightDecay().convertToDouble();
  if (!(momentum >= 0.0) || !std::isfinite(momentum))
    return emitOpError("requires a finite momentum >= 0, got ") << momentum;
  if (!std::isfinite(dampening))
    return emitOpError("requires a finite dampening, got ") << dampening;
  if (!(wd >= 0.0) || !std::isfinite(wd))
    return emitOpError("requires a finite weight_decay >= 0, got ") << wd;
  if (getNesterov() && (momentum <= 0.0 || dampening != 0.0))
    return emitOpError("nesterov requires a momentum > 0 and zero dampening "
                       "(as torch.optim.SGD)");
  return success();
}

LogicalResult AdamUpdateOp::verify() {
  for (auto [name, v] :
       {std::pair<StringRef, double>{"beta1", getBeta1().convertToDouble()},
        {"beta2", getBeta2().convertToDouble()}})
    if (!(v >= 0.0 && v < 1.0))
      return emitOpError("requires ") << name << " in [0, 1), got " << v;
  double eps = getEps().convertToDouble(),
         wd = getWeightDecay().convertToDouble();
  if (!(eps >= 0.0) || !std::isfinite(eps))
    return emitOpError("requires a finite eps >= 0, got ") << eps;
  if (!(wd >= 0.0) || !std::isfinite(wd))
    return emitOpError("requires a finite weight_decay >= 0, got ") << wd;
  return success();
}
