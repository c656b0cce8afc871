//===- ParseGuardTest.cpp - the guarded bytecode reader -------------------===//
//
// MLIR 22 crashes building a dense array of index elements, in its text
// parser and in its bytecode reader alike. parseModuleGuarded refuses such
// bytecode with an error (the text side is test/tools/parse-guard), and
// reads other bytecode: a module written with a dense array of i64 and a
// tensor of index round-trips.
//
//===----------------------------------------------------------------------===//

#include "qat/Tools/ParseGuard.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace mlir;

namespace {

/// Bytecode of an empty module with attribute `a` = `value`.
std::string bytecodeWith(MLIRContext &context, Attribute value) {
  OpBuilder b(&context);
  OwningOpRef<ModuleOp> module = ModuleOp::create(b.getUnknownLoc());
  (*module)->setAttr("test.a", value);
  std::string out;
  llvm::raw_string_ostream os(out);
  EXPECT_TRUE(succeeded(writeBytecodeToFile(*module, os)));
  return out;
}

/// parseModuleGuarded of `bytes`; the errors it emitted in `errors`.
OwningOpRef<ModuleOp> parse(MLIRContext &context, const std::string &bytes,
                            std::string &errors) {
  llvm::SourceMgr sourceMgr;
  sourceMgr.AddNewSourceBuffer(
      llvm::MemoryBuffer::getMemBufferCopy(bytes, "test.mlirbc"),
      llvm::SMLoc());
  ScopedDiagnosticHandler handler(&context, [&](Diagnostic &d) {
    errors += d.str() + "\n";
    return success();
  });
  return qat::parseModuleGuarded(sourceMgr, ParserConfig(&context));
}

TEST(ParseGuardTest, BytecodeIndexDenseArrayIsRefused) {
  MLIRContext context;
  // Built without verification (DenseArrayAttr's verifier is what crashes
  // on index); 8 bytes: one element.
  int64_t one = 1;
  Attribute bad = DenseArrayAttr::get(
      &context, IndexType::get(&context), 1,
      ArrayRef<char>(reinterpret_cast<const char *>(&one), sizeof(one)));
  std::string bytes = bytecodeWith(context, bad);
  std::string errors;
  MLIRContext reader;
  EXPECT_FALSE(parse(reader, bytes, errors));
  EXPECT_NE(errors.find("dense array of 'index' elements: MLIR 22's bytecode "
                        "reader crashes on it; use i64 elements"),
            std::string::npos)
      << errors;
}

TEST(ParseGuardTest, BytecodeOtherAttributesAreRead) {
  MLIRContext context;
  Builder b(&context);
  Attribute fine = b.getArrayAttr(
      {b.getDenseI64ArrayAttr({1, 2}),
       DenseElementsAttr::get(
           RankedTensorType::get({2}, b.getIndexType()),
           ArrayRef<Attribute>{b.getIndexAttr(3), b.getIndexAttr(4)}),
       b.getDenseBoolArrayAttr({true})});
  std::string bytes = bytecodeWith(context, fine);
  std::string errors;
  OwningOpRef<ModuleOp> module = parse(context, bytes, errors);
  ASSERT_TRUE(module) << errors;
  EXPECT_EQ((*module)->getAttr("test.a"), fine);
}

/// The uses of the first argument of the block of an unregistered op in
/// `module`, by operand number of their owners' order.
std::vector<unsigned> useOrder(Value v) {
  std::vector<unsigned> order;
  for (OpOperand &use : v.getUses())
    order.push_back(use.getOwner()->getAttrOfType<IntegerAttr>("n").getInt());
  return order;
}

TEST(ParseGuardTest, BytecodeUseListOrdersAreWalked) {
  // Bytecode records a use-list that is not in the order the reader builds
  // (use-list orders, on op results and block arguments alike): the walk of
  // findBytecodeHazard reads them, the reader restores the order.
  MLIRContext context;
  context.allowUnregisteredDialects();
  const char *text = R"(
    "test.region"() ({
    ^bb0(%arg: i32):
      %r = "test.def"() : () -> i32
      "test.use"(%r, %arg) {n = 0 : i64} : (i32, i32) -> ()
      "test.use"(%r, %arg) {n = 1 : i64} : (i32, i32) -> ()
      "test.use"(%r, %arg) {n = 2 : i64} : (i32, i32) -> ()
      "test.use"(%r, %arg) {n = 3 : i64} : (i32, i32) -> ()
    }) : () -> ()
  )";
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, &context);
  ASSERT_TRUE(module);
  Block &body = (*module).getBody()->front().getRegion(0).front();
  Value arg = body.getArgument(0), result = body.front().getResult(0);
  arg.shuffleUseList({2, 0, 3, 1});
  result.shuffleUseList({1, 3, 0, 2});
  std::vector<unsigned> argOrder = useOrder(arg),
                        resultOrder = useOrder(result);
  std::string bytes;
  llvm::raw_string_ostream os(bytes);
  ASSERT_TRUE(succeeded(writeBytecodeToFile(*module, os)));
  EXPECT_FALSE(qat::findBytecodeHazard(bytes));

  std::string errors;
  MLIRContext reader;
  reader.allowUnregisteredDialects();
  OwningOpRef<ModuleOp> read = parse(reader, bytes, errors);
  ASSERT_TRUE(read) << errors;
  Block &readBody = (*read).getBody()->front().getRegion(0).front();
  EXPECT_EQ(useOrder(readBody.getArgument(0)), argOrder);
  EXPECT_EQ(useOrder(readBody.front().getResult(0)), resultOrder);
}

TEST(ParseGuardTest, BytecodeTruncatedAnywhereIsAnErrorNotACrash) {
  // Every prefix of a valid file: the walk or the reader says why, and the
  // walk refuses a count only when the rest of its section is too short.
  MLIRContext context;
  Builder b(&context);
  std::string bytes = bytecodeWith(
      context, b.getArrayAttr({b.getI64IntegerAttr(7), b.getStringAttr("s")}));
  for (size_t n = 4; n < bytes.size(); ++n) { // from the magic number on
    std::string errors;
    MLIRContext reader;
    EXPECT_FALSE(parse(reader, bytes.substr(0, n), errors)) << n;
  }
}

} // namespace
