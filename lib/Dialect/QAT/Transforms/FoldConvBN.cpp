//===- FoldConvBN.cpp - fold batch norm into the preceding conv -----------===//
//
// qat-fold-conv-bn: inference batch norm, as torch-mlir decomposes it (sub
// mean, mul rsqrt(var + eps), mul gamma, add beta, in any order, with
// constants broadcast per channel), is a per-channel affine map y = A*v + B
// of the conv output v. Folding it gives W' = W * A (per output channel) and
// b' = A*b + B. A transpose between the conv and the affine steps (NHWC conv,
// NCHW batch norm) is looked through and kept.
//
// A, B and the new constants are computed in double and rounded to f32 once.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Transforms/Passes.h"
#include "qat/Dialect/QAT/Transforms/Utils.h"
#include "qat/Dialect/QAT/Utils/Constants.h"
#include "qat/Dialect/QAT/Utils/GroupedConv.h"
#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/Dialect/Tosa/Utils/ConversionUtils.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "mlir/IR/Remarks.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

namespace mlir::qat {
#define GEN_PASS_DEF_FOLDCONVBNPASS
#include "qat/Dialect/QAT/Transforms/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

/// A small dense f64 tensor: what constant evaluation works on.
struct Tensor {
  SmallVector<int64_t> shape;
  SmallVector<double> data;
  int64_t size() const { return data.size(); }
};

/// Index into `t` for the multi-index `idx` of a broadcast result.
static int64_t broadcastIndex(const Tensor &t, ArrayRef<int64_t> idx) {
  int64_t flat = 0;
  for (size_t d = 0; d < t.shape.size(); ++d)
    flat = flat * t.shape[d] + (t.shape[d] == 1 ? 0 : idx[d]);
  return flat;
}

/// Elementwise binary op with TOSA broadcasting (equal ranks, 1-dims).
static std::optional<Tensor> broadcast(const Tensor &a, const Tensor &b,
                                       double (*fn)(double, double)) {
  if (a.shape.size() != b.shape.size())
    return std::nullopt;
  Tensor r;
  for (auto [x, y] : llvm::zip(a.shape, b.shape)) {
    if (x != y && x != 1 && y != 1)
      return std::nullopt;
    r.shape.push_back(x == 1 ? y : x); // a 1 broadcasts, also against 0
  }
  int64_t n = 1;
  for (int64_t d : r.shape)
    n *= d;
  SmallVector<int64_t> idx(r.shape.size(), 0);
  for (int64_t i = 0; i < n; ++i) {
    r.data.push_back(
        fn(a.data[broadcastIndex(a, idx)], b.data[broadcastIndex(b, idx)]));
    for (int64_t d = r.shape.size() - 1; d >= 0; --d) {
      if (++idx[d] < r.shape[d])
        break;
      idx[d] = 0;
    }
  }
  return r;
}

/// Evaluates values computed from f32 constants by the elementwise ops
/// torch-mlir uses for batch norm parameters (add, sub, mul without shift,
/// rsqrt, reciprocal, reshape). Small tensors only (2^20 elements each), each
/// value evaluated once (a value used twice, as in `add %c, %c`, is not
/// evaluated twice: the work is linear in the ops, not exponential in the
/// depth), and at most 2^22 elements computed in all: the work is bounded
/// whatever the input.
class ConstantEvaluator {
public:
  std::optional<Tensor> evaluate(Value v) {
    const Tensor *t = eval(v, 0);
    return t ? std::optional<Tensor>(*t) : std::nullopt;
  }

private:
  static constexpr int64_t kMaxElements = int64_t(1) << 20;
  static constexpr int kMaxDepth = 16;

  /// The value of `v`, or null. The pointer is valid until the next eval().
  const Tensor *eval(Value v, int depth) {
    auto it = cache.find(v);
    if (it == cache.end()) {
      std::optional<Tensor> t = compute(v, depth);
      it = cache.try_emplace(v, std::move(t)).first;
    }
    return it->second ? &*it->second : nullptr;
  }

  /// Charges `n` elements of work; false once the budget is spent.
  bool charge(int64_t n) {
    budget -= n;
    return budget >= 0;
  }

  std::optional<Tensor> compute(Value v, int depth) {
    auto type = dyn_cast<RankedTensorType>(v.getType());
    if (!type || !type.getElementType().isF32() || !type.hasStaticShape() ||
        depth > kMaxDepth)
      return std::nullopt;
    std::optional<int64_t> count = getCheckedNumElements(type);
    if (!count || *count > kMaxElements || !charge(*count))
      return std::nullopt;
    DenseFPElementsAttr attr;
    if (matchPattern(v, m_Constant(&attr))) {
      Tensor t;
      t.shape.assign(type.getShape().begin(), type.getShape().end());
      if (attr.isSplat())
        t.data.assign(*count, attr.getSplatValue<APFloat>().convertToDouble());
      else
        for (APFloat f : attr.getValues<APFloat>())
          t.data.push_back(f.convertToDouble());
      return t;
    }
    Operation *op = v.getDefiningOp();
    if (!op)
      return std::nullopt;
    auto binary = [&](double (*fn)(double, double)) -> std::optional<Tensor> {
      const Tensor *a = eval(op->getOperand(0), depth + 1);
      if (!a)
        return std::nullopt;
      Tensor lhs = *a; // eval() of the other operand may move the map
      const Tensor *b = eval(op->getOperand(1), depth + 1);
      if (!b)
        return std::nullopt;
      std::optional<Tensor> r = broadcast(lhs, *b, fn);
      if (!r || ArrayRef(r->shape) != type.getShape())
        return std::nullopt;
      return r;
    };
    auto unary = [&](double (*fn)(double)) -> std::optional<Tensor> {
      const Tensor *a = eval(op->getOperand(0), depth + 1);
      if (!a)
        return std::nullopt;
      Tensor r = *a;
      for (double &x : r.data)
        x = fn(x);
      return r;
    };
    if (isa<tosa::AddOp>(op))
      return binary([](double a, double b) { return a + b; });
    if (isa<tosa::SubOp>(op))
      return binary([](double a, double b) { return a - b; });
    if (isa<tosa::MulOp>(op))
      return binary([](double a, double b) { return a * b; });
    if (isa<tosa::RsqrtOp>(op))
      return unary([](double a) { return 1.0 / std::sqrt(a); });
    if (isa<tosa::ReciprocalOp>(op))
      return unary([](double a) { return 1.0 / a; });
    if (auto slice = dyn_cast<tosa::SliceOp>(op)) {
      // Along one axis of a tensor of rank <= 4 (a group's channels).
      const Tensor *t = eval(slice.getInput1(), depth + 1);
      std::optional<SmallVector<int64_t>> start =
          getConstantShape(slice.getStart());
      if (!t || !start || t->shape.size() != size_t(type.getRank()))
        return std::nullopt;
      ArrayRef<int64_t> begin = *start;
      if (begin.size() != t->shape.size())
        return std::nullopt;
      for (size_t d = 0; d < begin.size(); ++d)
        if (begin[d] < 0 || begin[d] + type.getDimSize(d) > t->shape[d])
          return std::nullopt;
      Tensor r;
      r.shape.assign(type.getShape().begin(), type.getShape().end());
      SmallVector<int64_t> idx(r.shape.size(), 0);
      for (int64_t i = 0; i < *count; ++i) {
        int64_t flat = 0, rest = i;
        for (int64_t d = r.shape.size() - 1; d >= 0; --d) {
          idx[d] = rest % r.shape[d];
          rest /= r.shape[d];
        }
        for (size_t d = 0; d < idx.size(); ++d)
          flat = flat * t->shape[d] + begin[d] + idx[d];
        r.data.push_back(t->data[flat]);
      }
      return r;
    }
    if (auto reshape = dyn_cast<tosa::ReshapeOp>(op)) {
      const Tensor *t = eval(reshape.getInput1(), depth + 1);
      if (!t || t->size() != *count)
        return std::nullopt;
      Tensor r = *t;
      r.shape.assign(type.getShape().begin(), type.getShape().end());
      return r;
    }
    return std::nullopt;
  }

  llvm::DenseMap<Value, std::optional<Tensor>> cache;
  int64_t budget = int64_t(1) << 22;
};

static std::optional<Tensor> evaluateConstant(Value v) {
  return ConstantEvaluator().evaluate(v);
}

/// The per-channel values of `t` along `axis` of a result of shape `shape`,
/// if `t` varies only along that axis.
static std::optional<SmallVector<double>>
perChannel(const Tensor &t, ArrayRef<int64_t> shape, int64_t axis) {
  if (t.shape.size() != shape.size())
    return std::nullopt;
  for (size_t d = 0; d < shape.size(); ++d)
    if (t.shape[d] != 1 && (int64_t(d) != axis || t.shape[d] != shape[d]))
      return std::nullopt;
  int64_t channels = shape[axis];
  SmallVector<double> out(channels);
  for (int64_t c = 0; c < channels; ++c)
    out[c] = t.data[t.shape[axis] == 1 ? 0 : c];
  return out;
}

static remark::RemarkOpts remarkOpts(StringRef name) {
  return remark::RemarkOpts::name(name).category("qat-fold-conv-bn");
}

/// qat.batch_norm for a conv2d or depthwise_conv2d followed by exactly
/// inference batch norm as torch-mlir writes it (through one transpose):
/// sub a per-channel mean, mul by rsqrt(add(var, eps)), mul gamma, add
/// beta, all constants; null otherwise. Matched before folding, since the
/// greedy driver folds constant subexpressions such as add(var, eps).
static DictionaryAttr matchInferenceBatchNorm(Operation *conv) {
  auto type = dyn_cast<RankedTensorType>(conv->getResult(0).getType());
  if (!type || !type.hasStaticShape() || !type.getElementType().isF32())
    return {};
  int64_t axis = type.getRank() - 1, channels = type.getDimSize(axis);
  auto next = [](Value x) -> Operation * {
    return x.hasOneUse() ? *x.getUsers().begin() : nullptr;
  };
  auto other = [](Operation *op, Value x) {
    return op->getOperand(op->getOperand(0) == x ? 1 : 0);
  };
  Value v = conv->getResult(0);
  if (auto t = dyn_cast_or_null<tosa::TransposeOp>(next(v))) {
    ArrayRef<int32_t> perms = t.getPerms();
    axis = llvm::find(perms, int32_t(axis)) - perms.begin();
    v = t.getResult();
  }
  ArrayRef<int64_t> shape = cast<RankedTensorType>(v.getType()).getShape();
  auto vec = [&](Value x) -> std::optional<SmallVector<double>> {
    std::optional<Tensor> t = evaluateConstant(x);
    if (!t)
      return std::nullopt;
    return perChannel(*t, shape, axis);
  };
  auto sub = dyn_cast_or_null<tosa::SubOp>(next(v));
  if (!sub || sub.getInput1() != v)
    return {};
  auto m1 = dyn_cast_or_null<tosa::MulOp>(next(sub.getResult()));
  if (!m1)
    return {};
  auto rsqrt = dyn_cast_or_null<tosa::RsqrtOp>(
      other(m1, sub.getResult()).getDefiningOp());
  auto m2 = dyn_cast_or_null<tosa::MulOp>(next(m1.getResult()));
  auto add = m2 ? dyn_cast_or_null<tosa::AddOp>(next(m2.getResult()))
                : tosa::AddOp();
  if (!rsqrt || !add)
    return {};
  auto ve = dyn_cast_or_null<tosa::AddOp>(rsqrt.getInput1().getDefiningOp());
  if (!ve)
    return {};
  std::optional<Tensor> a = evaluateConstant(ve.getInput1()),
                        e = evaluateConstant(ve.getInput2());
  if (!a || !e)
    return {};
  if (a->size() == 1 && e->size() != 1)
    std::swap(a, e); // eps: the operand of one element
  if (e->size() != 1)
    return {};
  auto mean = vec(sub.getInput2());
  auto var = perChannel(*a, shape, axis);
  auto gamma = vec(other(m2, m1.getResult()));
  auto beta = vec(other(add, m2.getResult()));
  std::optional<Tensor> bias = evaluateConstant(conv->getOperand(2));
  DenseFPElementsAttr weights;
  if (!mean || !var || !gamma || !beta || !bias ||
      (bias->size() != 1 && bias->size() != channels) ||
      !matchPattern(conv->getOperand(1), m_Constant(&weights)))
    return {};
  Builder b(conv->getContext());
  auto cType = RankedTensorType::get({channels}, b.getF32Type());
  auto dense = [&](ArrayRef<double> values) {
    SmallVector<APFloat> f;
    for (int64_t c = 0; c < channels; ++c)
      f.push_back(APFloat(float(values[values.size() == 1 ? 0 : c])));
    return DenseElementsAttr::get(cType, f);
  };
  return b.getDictionaryAttr({
      b.getNamedAttr("weight", weights),
      b.getNamedAttr("bias", dense(bias->data)),
      b.getNamedAttr("running_mean", dense(*mean)),
      b.getNamedAttr("running_var", dense(*var)),
      b.getNamedAttr("gamma", dense(*gamma)),
      b.getNamedAttr("beta", dense(*beta)),
      b.getNamedAttr("eps", b.getF64FloatAttr(e->data[0])),
  });
}

/// Folds the per-channel affine steps after a conv2d, depthwise_conv2d or
/// matmul into its constant weights (and bias).
template <typename ConvOp>
struct FoldAffineIntoConv : OpRewritePattern<ConvOp> {
  FoldAffineIntoConv(MLIRContext *ctx,
                     const llvm::DenseMap<Operation *, DictionaryAttr> *recorded)
      : OpRewritePattern<ConvOp>(ctx), recorded(recorded) {}
  /// qat.batch_norm of the convolutions matched before folding (record-bn).
  const llvm::DenseMap<Operation *, DictionaryAttr> *recorded;

  LogicalResult matchAndRewrite(ConvOp conv,
                                PatternRewriter &rewriter) const override {
    Value result = conv->getResult(0);
    auto resultType = cast<RankedTensorType>(result.getType());
    if (!resultType.getElementType().isF32() || !resultType.hasStaticShape())
      return failure();
    int64_t rank = resultType.getRank();
    // The conv's channel axis: last (NHWC, and N of matmul's [1, M, N]).
    int64_t axis = rank - 1;
    int64_t channels = resultType.getDimSize(axis);

    if (!result.hasOneUse()) {
      for (Operation *user : result.getUsers())
        if (isa<tosa::AddOp, tosa::SubOp, tosa::MulOp>(user)) {
          Value other = user->getOperand(user->getOperand(0) == result);
          std::optional<Tensor> k = evaluateConstant(other);
          if (k && perChannel(*k, resultType.getShape(), axis)) {
            remark::missed(conv.getLoc(), remarkOpts("OtherUsers"))
                << remarkText("batch norm not folded into '", conv->getName(),
                              "': the conv result has other users");
            break;
          }
        }
      return failure();
    }

    // Look through one transpose (NHWC conv, NCHW batch norm).
    Value v = result;
    tosa::TransposeOp transpose;
    if (v.hasOneUse())
      if ((transpose = dyn_cast<tosa::TransposeOp>(*v.getUsers().begin()))) {
        ArrayRef<int32_t> perms = transpose.getPerms();
        axis = llvm::find(perms, int32_t(axis)) - perms.begin();
        v = transpose.getResult();
      }

    // Walk the chain of affine steps, composing y = A*conv + B.
    SmallVector<double> A(channels, 1.0), B(channels, 0.0);
    SmallVector<Operation *> steps;
    while (v.hasOneUse()) {
      Operation *user = *v.getUsers().begin();
      if (!isa<tosa::AddOp, tosa::SubOp, tosa::MulOp>(user))
        break;
      if (auto mul = dyn_cast<tosa::MulOp>(user)) {
        DenseIntElementsAttr shift;
        if (!matchPattern(mul.getShift(), m_Constant(&shift)) ||
            !llvm::all_of(shift.getValues<APInt>(),
                          [](APInt s) { return s.isZero(); }))
          break;
      }
      unsigned self = user->getOperand(0) == v ? 0 : 1;
      Value other = user->getOperand(1 - self);
      if (other == v)
        break;
      auto shape = cast<RankedTensorType>(v.getType()).getShape();
      std::optional<Tensor> k = evaluateConstant(other);
      auto otherType = dyn_cast<RankedTensorType>(other.getType());
      if (!k) {
        // A per-channel shaped operand that is not constant is a batch norm
        // we cannot fold; a full-size one is a residual connection.
        if (otherType && otherType.getRank() == rank &&
            otherType.getNumElements() == channels && channels > 1)
          remark::missed(user->getLoc(), remarkOpts("NotConstant"))
              << remarkText(
                     "batch norm step '", user->getName(),
                     "' not folded: its per-channel operand is not a constant");
        break;
      }
      auto kc = perChannel(*k, shape, axis);
      if (!kc) {
        if (k->size() !=
            int64_t(cast<RankedTensorType>(v.getType()).getNumElements()))
          remark::missed(user->getLoc(), remarkOpts("ShapeMismatch"))
              << remarkText("'", user->getName(),
                            "' not folded: its constant operand does not "
                            "broadcast per "
                            "channel along axis ",
                            axis);
        break;
      }
      for (int64_t c = 0; c < channels; ++c) {
        double kv = (*kc)[c];
        if (isa<tosa::AddOp>(user)) {
          B[c] += kv;
        } else if (isa<tosa::MulOp>(user)) {
          A[c] *= kv;
          B[c] *= kv;
        } else if (self == 0) { // v - k
          B[c] -= kv;
        } else { // k - v
          A[c] = -A[c];
          B[c] = kv - B[c];
        }
      }
      steps.push_back(user);
      v = user->getResult(0);
      if (cast<RankedTensorType>(v.getType()).getShape() != shape)
        return failure(); // a step that broadcasts v itself: not per-channel
    }
    if (steps.empty())
      return failure();
    // matmul has no bias: its offset is re-emitted as one tosa.add, which
    // must not be "folded" again.
    if (std::is_same_v<ConvOp, tosa::MatMulOp> && steps.size() == 1 &&
        isa<tosa::AddOp>(steps.front()))
      return failure();

    DenseFPElementsAttr weights;
    if (!matchPattern(conv->getOperand(1), m_Constant(&weights))) {
      remark::missed(conv.getLoc(), remarkOpts("WeightNotConstant"))
          << remarkText("batch norm not folded into '", conv->getName(),
                        "': its weight is not a constant");
      return failure();
    }

    // New weights: scale along the output channel dimension.
    auto wType = cast<RankedTensorType>(weights.getType());
    ArrayRef<int64_t> ws = wType.getShape();
    auto channelOf = [&](int64_t flat) -> int64_t {
      if constexpr (std::is_same_v<ConvOp, tosa::Conv2DOp>) // OHWI
        return flat / (ws[1] * ws[2] * ws[3]);
      else if constexpr (std::is_same_v<ConvOp, tosa::DepthwiseConv2DOp>)
        return flat % (ws[2] * ws[3]); // HWCM: channel c*M + m
      else                             // matmul [1, K, N]
        return flat % ws[2];
    };
    // A splat weight scaled by one factor stays a splat; other weights are
    // written out element by element, a splat only up to kMaxSplatExpansion
    // elements (the work stays bounded by the input's size).
    DenseElementsAttr newWAttr;
    if (weights.isSplat() && llvm::all_equal(A)) {
      double w = weights.getSplatValue<APFloat>().convertToDouble();
      newWAttr = DenseElementsAttr::get(wType, APFloat(float(w * A[0])));
    } else {
      if (!isExpansionBounded(weights, wType.getNumElements())) {
        remark::missed(conv.getLoc(), remarkOpts("SplatTooLarge"))
            << remarkText("batch norm not folded into '", conv->getName(),
                          "': its weight is a splat of ",
                          wType.getNumElements(),
                          " elements that would have to be written out (more "
                          "than ",
                          kMaxSplatExpansion, ")");
        return failure();
      }
      SmallVector<APFloat> newW;
      int64_t i = 0;
      for (APFloat w : weights.getValues<APFloat>())
        newW.push_back(APFloat(float(w.convertToDouble() * A[channelOf(i++)])));
      if (i && channelOf(i - 1) >= channels)
        return failure();
      newWAttr = DenseElementsAttr::get(wType, newW);
    }

    rewriter.setInsertionPoint(conv);
    Location loc = conv.getLoc();
    // The folded op computes the last step's value: its location names that
    // step first (the batch norm module of an exported model, which
    // quantizers and per-layer reports are named after), then the conv.
    Location foldedLoc =
        FusedLoc::get(rewriter.getContext(), {steps.back()->getLoc(), loc});
    auto newWeight = tosa::ConstOp::create(rewriter, loc, wType, newWAttr);
    Value replacement;
    if constexpr (std::is_same_v<ConvOp, tosa::MatMulOp>) {
      auto mm = cast<tosa::MatMulOp>(rewriter.clone(*conv));
      mm->setOperand(1, newWeight);
      mm->setLoc(foldedLoc);
      replacement = mm.getResult();
      Value out = replacement;
      if (transpose) {
        auto t = cast<tosa::TransposeOp>(rewriter.clone(*transpose));
        t->setOperand(0, out);
        out = t.getResult();
      }
      bool hasBias = llvm::any_of(B, [](double b) { return b != 0.0; });
      if (hasBias) {
        auto outType = cast<RankedTensorType>(out.getType());
        SmallVector<int64_t> bshape(outType.getRank(), 1);
        bshape[axis] = channels;
        auto bType = RankedTensorType::get(bshape, rewriter.getF32Type());
        SmallVector<APFloat> bv;
        for (double b : B)
          bv.push_back(APFloat(float(b)));
        auto bias = tosa::ConstOp::create(rewriter, loc, bType,
                                          DenseElementsAttr::get(bType, bv));
        out = tosa::AddOp::create(rewriter, foldedLoc, outType, out, bias);
      }
      rewriter.replaceAllUsesWith(steps.back()->getResult(0), out);
    } else {
      std::optional<Tensor> bias = evaluateConstant(conv->getOperand(2));
      if (!bias || (bias->size() != 1 && bias->size() != channels)) {
        remark::missed(loc, remarkOpts("BiasNotConstant")) << remarkText(
            "batch norm not folded into '", conv->getName(),
            "': its bias is not a constant of ", channels, " or 1 elements");
        return failure();
      }
      auto bType = RankedTensorType::get({channels}, rewriter.getF32Type());
      SmallVector<APFloat> bv;
      for (int64_t c = 0; c < channels; ++c)
        bv.push_back(APFloat(
            float(A[c] * bias->data[bias->size() == 1 ? 0 : c] + B[c])));
      auto newBias = tosa::ConstOp::create(rewriter, loc, bType,
                                           DenseElementsAttr::get(bType, bv));
      auto newConv = cast<ConvOp>(rewriter.clone(*conv));
      newConv->setOperand(1, newWeight);
      newConv->setOperand(2, newBias);
      if (recorded)
        if (DictionaryAttr bn = recorded->lookup(conv.getOperation()))
          newConv->setAttr("qat.batch_norm", bn);
      newConv->setLoc(foldedLoc);
      Value out = newConv->getResult(0);
      if (transpose) {
        auto t = cast<tosa::TransposeOp>(rewriter.clone(*transpose));
        t->setOperand(0, out);
        out = t.getResult();
      }
      rewriter.replaceAllUsesWith(steps.back()->getResult(0), out);
    }
    remark::passed(loc, remarkOpts("Folded")) << remarkText(
        "folded ", int64_t(steps.size()), " per-channel affine step(s) into '",
        conv->getName(), "'");
    for (Operation *step : llvm::reverse(steps))
      rewriter.eraseOp(step);
    if (transpose)
      rewriter.eraseOp(transpose);
    rewriter.eraseOp(conv);
    return success();
  }
};

/// A per-channel affine step (add, sub or mul with a per-channel constant)
/// after a grouped convolution (GroupedConv.h), whose concat no single
/// convolution owns, moves onto its groups: op(concat(c_g), K) =
/// concat(op(c_g, K[g])) with K[g] the group's channels of K (a tosa.slice
/// of its expression, so that folding still evaluates it in double). Each
/// group's convolution then folds its steps as any other.
struct DistributeAffineOverGroups : OpRewritePattern<tosa::ConcatOp> {
  using OpRewritePattern::OpRewritePattern;

  LogicalResult matchAndRewrite(tosa::ConcatOp concat,
                                PatternRewriter &rewriter) const override {
    std::optional<GroupedConv> grouped = matchGroupedConv(concat);
    Value cat = concat.getResult();
    if (!grouped || !cat.hasOneUse())
      return failure();
    Operation *step = *cat.getUsers().begin();
    if (!isa<tosa::AddOp, tosa::SubOp, tosa::MulOp>(step) ||
        step->getResult(0).getType() != cat.getType() ||
        step->getOperand(0) == step->getOperand(1))
      return failure();
    Value k = step->getOperand(step->getOperand(0) == cat ? 1 : 0);
    auto outType = cast<RankedTensorType>(cat.getType());
    auto kType = dyn_cast<RankedTensorType>(k.getType());
    std::optional<Tensor> kv = evaluateConstant(k);
    if (!kType || !kv || !perChannel(*kv, outType.getShape(), 3))
      return failure();

    Location loc = step->getLoc();
    rewriter.setInsertionPoint(step);
    auto shapeConst = [&](ArrayRef<int64_t> values) {
      return tosa::getTosaConstShape(rewriter, loc, values);
    };
    SmallVector<Value> parts;
    for (auto [g, conv] : llvm::enumerate(grouped->convs)) {
      auto partType = cast<RankedTensorType>(conv.getType());
      int64_t cg = partType.getDimSize(3);
      Value kg = k;
      if (kType.getDimSize(3) != 1) {
        SmallVector<int64_t> start(4, 0), size(kType.getShape());
        start[3] = int64_t(g) * cg;
        size[3] = cg;
        kg = tosa::SliceOp::create(rewriter, loc, kType.clone(size), k,
                                   shapeConst(start), shapeConst(size));
      }
      IRMapping map;
      map.map(cat, conv.getResult());
      map.map(k, kg);
      Operation *part = rewriter.clone(*step, map);
      part->getResult(0).setType(partType);
      parts.push_back(part->getResult(0));
    }
    Value out = tosa::ConcatOp::create(rewriter, concat.getLoc(), outType,
                                       parts, concat.getAxisAttr());
    rewriter.replaceOp(step, out);
    rewriter.eraseOp(concat);
    return success();
  }
};

struct FoldConvBNPass : qat::impl::FoldConvBNPassBase<FoldConvBNPass> {
  using Base::Base;
  void runOnOperation() override {
    if (failed(verifyInputContract(getOperation())))
      return signalPassFailure();
    RewritePatternSet patterns(&getContext());
    llvm::DenseMap<Operation *, DictionaryAttr> recorded;
    if (recordBatchNorm)
      getOperation().walk([&](Operation *op) {
        if (isa<tosa::Conv2DOp, tosa::DepthwiseConv2DOp>(op))
          if (DictionaryAttr bn = matchInferenceBatchNorm(op))
            recorded[op] = bn;
      });
    populateFoldConvBNPatterns(patterns, recordBatchNorm ? &recorded : nullptr);
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};
} // namespace

void qat::populateFoldConvBNPatterns(
    RewritePatternSet &patterns,
    const llvm::DenseMap<Operation *, DictionaryAttr> *recorded) {
  patterns.add<DistributeAffineOverGroups>(patterns.getContext());
  patterns.add<FoldAffineIntoConv<tosa::Conv2DOp>,
               FoldAffineIntoConv<tosa::DepthwiseConv2DOp>,
               FoldAffineIntoConv<tosa::MatMulOp>>(patterns.getContext(),
                                                   recorded);
}
