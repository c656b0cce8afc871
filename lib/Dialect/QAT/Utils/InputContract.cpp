//===- InputContract.cpp - shapes the qat passes rely on ------------------===//
//
// verifyInputContract: the shape rules of include/qat/Dialect/QAT/Utils/
// InputContract.h, with one diagnostic per violation naming the op, the
// operand (number and type) and the rule.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/QAT/Utils/InputContract.h"

#include "mlir/Dialect/Tosa/IR/TosaOps.h"
#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mlir::qat;

std::optional<int64_t> qat::getCheckedNumElements(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped || !shaped.hasStaticShape())
    return std::nullopt;
  int64_t n = 1;
  for (int64_t d : shaped.getShape())
    if (d < 0 || llvm::MulOverflow(n, d, n))
      return std::nullopt;
  return n;
}

/// A type as the IR spells it, without the quotes diagnostics add.
static std::string typeString(Type type) {
  std::string s;
  llvm::raw_string_ostream os(s);
  os << type;
  return s;
}

/// Bytes per element as TOSA's level check counts them.
static int64_t elementBytes(Type element) {
  if (element.isIntOrFloat())
    return std::max<int64_t>(1, element.getIntOrFloatBitWidth() / 8);
  return 8; // index and anything else: at most a machine word
}

std::optional<int64_t> qat::getCheckedByteSize(Type type) {
  std::optional<int64_t> n = getCheckedNumElements(type);
  int64_t bytes;
  if (!n ||
      llvm::MulOverflow(
          *n, elementBytes(cast<ShapedType>(type).getElementType()), bytes))
    return std::nullopt;
  return bytes;
}

/// Why a tensor of `type` is too large for the contract, or "" when it fits.
/// Dynamic dimensions count as 1: the static part must fit already.
static std::string sizeViolation(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  if (!t)
    return "";
  int64_t n = 1, bytes = 0;
  for (int64_t d : t.getShape())
    if (!ShapedType::isDynamic(d) && llvm::MulOverflow(n, d, n))
      return "has more than 2^63 elements; a tensor may hold at most 2^31 - 1 "
             "bytes (TOSA level 8K, MAX_LOG2_SIZE = 31)";
  if (!llvm::MulOverflow(n, elementBytes(t.getElementType()), bytes) &&
      bytes <= kMaxTensorBytes)
    return "";
  return "has " + std::to_string(n) + " elements of " +
         std::to_string(elementBytes(t.getElementType())) +
         " byte(s); a tensor may hold at most 2^31 - 1 bytes (TOSA level 8K, "
         "MAX_LOG2_SIZE = 31)";
}

bool qat::isExpansionBounded(ElementsAttr attr, int64_t resultElements) {
  if (auto dense = dyn_cast<DenseElementsAttr>(attr); dense && dense.isSplat())
    return resultElements <= kMaxSplatExpansion;
  return true;
}

namespace {
/// Reports the first violation on one op.
class OpChecker {
public:
  explicit OpChecker(Operation *op) : op(op) {}

  /// The static dimension `d` of operand `i` (nullopt: dynamic/unranked).
  std::optional<int64_t> dim(Value v, int64_t d) const {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    if (!t || d >= t.getRank() || t.isDynamicDim(d))
      return std::nullopt;
    return t.getDimSize(d);
  }
  std::optional<int64_t> operandDim(unsigned i, int64_t d) const {
    return i < op->getNumOperands() ? dim(op->getOperand(i), d) : std::nullopt;
  }
  std::optional<int64_t> resultDim(int64_t d) const {
    return op->getNumResults() ? dim(op->getResult(0), d) : std::nullopt;
  }

  /// "the weight (operand #1: tensor<...>)".
  std::string operandName(unsigned i, StringRef role) const {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << "the " << role << " (operand #" << i << ": "
       << op->getOperand(i).getType() << ")";
    return s;
  }
  std::string resultName() const {
    std::string s;
    llvm::raw_string_ostream os(s);
    os << "the result (" << op->getResult(0).getType() << ")";
    return s;
  }

  /// Both static and different: the violation "<a> has <x> <what>, <b> <y>".
  bool agree(std::optional<int64_t> x, const std::string &a,
             std::optional<int64_t> y, const std::string &b, StringRef what) {
    if (!x || !y || *x == *y)
      return true;
    op->emitOpError("breaks the TOSA input contract: ")
        << a << " has " << *x << " " << what << " but " << b << " has " << *y;
    return false;
  }

  bool check();

private:
  bool checkConv();
  bool checkDepthwise();
  bool checkMatMul();
  bool checkPool();
  Operation *op;
};
} // namespace

bool OpChecker::checkConv() {
  // input [N, H, W, C], weight [O, KH, KW, C], result [N, OH, OW, O]
  return agree(operandDim(1, 3), operandName(1, "weight"), operandDim(0, 3),
               operandName(0, "input"), "input channels") &&
         agree(operandDim(1, 0), operandName(1, "weight"), resultDim(3),
               resultName(), "output channels") &&
         agree(operandDim(0, 0), operandName(0, "input"), resultDim(0),
               resultName(), "batches");
}

bool OpChecker::checkDepthwise() {
  // input [N, H, W, C], weight [KH, KW, C, M], result [N, OH, OW, C * M]
  if (!agree(operandDim(1, 2), operandName(1, "weight"), operandDim(0, 3),
             operandName(0, "input"), "input channels") ||
      !agree(operandDim(0, 0), operandName(0, "input"), resultDim(0),
             resultName(), "batches"))
    return false;
  std::optional<int64_t> c = operandDim(1, 2), m = operandDim(1, 3);
  std::optional<int64_t> out;
  int64_t product;
  if (c && m && !llvm::MulOverflow(*c, *m, product))
    out = product;
  return agree(out, operandName(1, "weight") + " (channels x multiplier)",
               resultDim(3), resultName(), "output channels");
}

bool OpChecker::checkMatMul() {
  // a [N, H, C] x b [N, C, W] -> [N, H, W]
  return agree(operandDim(0, 2), operandName(0, "left operand"),
               operandDim(1, 1), operandName(1, "right operand"),
               "reduction elements (C of [N, H, C] x [N, C, W])") &&
         agree(operandDim(0, 0), operandName(0, "left operand"),
               operandDim(1, 0), operandName(1, "right operand"), "batches") &&
         agree(operandDim(0, 0), operandName(0, "left operand"), resultDim(0),
               resultName(), "batches") &&
         agree(operandDim(0, 1), operandName(0, "left operand"), resultDim(1),
               resultName(), "rows") &&
         agree(operandDim(1, 2), operandName(1, "right operand"), resultDim(2),
               resultName(), "columns");
}

bool OpChecker::checkPool() {
  return agree(operandDim(0, 0), operandName(0, "input"), resultDim(0),
               resultName(), "batches") &&
         agree(operandDim(0, 3), operandName(0, "input"), resultDim(3),
               resultName(), "channels");
}

bool OpChecker::check() {
  // Sizes first: every later rule may multiply dimensions.
  for (OpResult v : op->getResults())
    if (std::string why = sizeViolation(v.getType()); !why.empty()) {
      op->emitOpError("breaks the TOSA input contract: result #")
          << v.getResultNumber() << " (" << typeString(v.getType()) << ") "
          << why;
      return false;
    }
  if (isa<tosa::Conv2DOp>(op))
    return checkConv();
  if (isa<tosa::DepthwiseConv2DOp>(op))
    return checkDepthwise();
  if (isa<tosa::MatMulOp>(op))
    return checkMatMul();
  if (isa<tosa::AvgPool2dOp, tosa::MaxPool2dOp>(op))
    return checkPool();
  return true;
}

/// Block arguments (function inputs) obey the size rule too.
static bool checkArguments(Region &region) {
  for (Block &block : region)
    for (BlockArgument arg : block.getArguments())
      if (std::string why = sizeViolation(arg.getType()); !why.empty()) {
        emitError(arg.getLoc())
            << "argument #" << arg.getArgNumber() << " ("
            << typeString(arg.getType())
            << ") breaks the TOSA input contract: it " << why;
        return false;
      }
  return true;
}

LogicalResult qat::verifyInputContract(Operation *root) {
  bool ok = true;
  root->walk<WalkOrder::PreOrder>([&](Operation *op) {
    for (Region &region : op->getRegions())
      if (!checkArguments(region)) {
        ok = false;
        return WalkResult::interrupt();
      }
    if (!OpChecker(op).check()) {
      ok = false;
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  return success(ok);
}
