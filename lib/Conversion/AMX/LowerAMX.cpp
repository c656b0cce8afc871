//===- LowerAMX.cpp - qat-lower-amx ---------------------------------------===//
//
// The last step of the AMX kernels: the amx dialect's tile ops either to
// LLVM's AMX intrinsics (upstream's legalization for LLVM export) or, with
// `emulate`, to vector code of the same semantics that runs on any CPU, with
// every tile row checked against its buffer. Both convert the scf ops that
// carry tiles. Semantics: Passes.td.
//
//===----------------------------------------------------------------------===//

#include "qat/Conversion/Passes.h"

#include "mlir/Conversion/LLVMCommon/ConversionTarget.h"
#include "mlir/Conversion/LLVMCommon/TypeConverter.h"
#include "mlir/Dialect/AMX/AMXDialect.h"
#include "mlir/Dialect/AMX/Transforms.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/SCF/Transforms/Patterns.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Transforms/DialectConversion.h"
#include "llvm/Support/FormatVariadic.h"

namespace mlir::qat {
#define GEN_PASS_DEF_LOWERAMXPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;

namespace {

/// The vector an emulated tile is: R rows of B bytes as vector<R x B/e x T>.
VectorType emulatedType(amx::TileType t) {
  return VectorType::get(t.getShape(), t.getElementType());
}

/// The function that emulated tile loads and stores call when a row lies
/// outside its memref.
constexpr StringLiteral kFaultName = "__qat_amx_emulated_fault";

/// Emits `kFaultName`: writes a message to stderr (fd 2) and aborts.
void emitFaultHelper(OpBuilder &b, Location loc, ModuleOp module) {
  MLIRContext *ctx = b.getContext();
  auto ptr = LLVM::LLVMPointerType::get(ctx);
  auto i32 = b.getI32Type(), i64 = b.getI64Type();
  auto voidType = LLVM::LLVMVoidType::get(ctx);
  StringRef msg = "qat-lower-amx{emulate}: an AMX tile row loaded or stored "
                  "lies outside its memref\n";
  if (!module.lookupSymbol("write"))
    LLVM::LLVMFuncOp::create(b, loc, "write",
                             LLVM::LLVMFunctionType::get(i64, {i32, ptr, i64}));
  if (!module.lookupSymbol("abort"))
    LLVM::LLVMFuncOp::create(b, loc, "abort",
                             LLVM::LLVMFunctionType::get(voidType, {}));
  auto text = LLVM::GlobalOp::create(
      b, loc, LLVM::LLVMArrayType::get(b.getI8Type(), msg.size()),
      /*isConstant=*/true, LLVM::Linkage::Internal, "__qat_amx_fault_message",
      b.getStringAttr(msg));
  auto fn = LLVM::LLVMFuncOp::create(b, loc, kFaultName,
                                     LLVM::LLVMFunctionType::get(voidType, {}),
                                     LLVM::Linkage::Internal);
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(fn.addEntryBlock(b));
  Value at = LLVM::AddressOfOp::create(b, loc, text);
  LLVM::CallOp::create(
      b, loc, TypeRange{i64}, "write",
      ValueRange{LLVM::ConstantOp::create(b, loc, i32, 2), at,
                 LLVM::ConstantOp::create(b, loc, i64, int64_t(msg.size()))});
  LLVM::CallOp::create(b, loc, TypeRange{}, "abort", ValueRange{});
  LLVM::UnreachableOp::create(b, loc);
}

/// The name of the function that emulates tile_muli on these tiles.
std::string mulHelperName(amx::TileMulIOp op) {
  auto a = op.getLhsTileType(), c = op.getTileType();
  auto b = op.getRhsTileType();
  return llvm::formatv("__qat_amx_emulated_tdpb{0}{1}d_{2}x{3}x{4}",
                       op.getIsZextLhs() ? "u" : "s",
                       op.getIsZextRhs() ? "u" : "s", a.getDimSize(0),
                       b.getDimSize(0), c.getDimSize(1))
      .str();
}

/// Emits the private function that computes tile_muli (`zextA`, `zextB`) of
/// an M x K-byte A tile, a K/4 x 4N-byte B tile and an M x N int32
/// accumulator:
///   C[m][n] += sum over k < K/4, b < 4 of ext(A[m][4k+b]) * ext(B[k][4n+b])
/// in wrapping int32: the tiles go to stack buffers, a loop over rows m and
/// groups k broadcasts A's 4 bytes (m, k) to every lane n, multiplies them
/// by B's row k widened to int32 and adds each lane's 4 products.
func::FuncOp emitMulHelper(OpBuilder &b, Location loc, StringRef name,
                           amx::TileMulIOp op) {
  auto aType = emulatedType(op.getLhsTileType());
  auto bType = emulatedType(op.getRhsTileType());
  auto cType = emulatedType(op.getTileType());
  int64_t m = aType.getDimSize(0), k4 = bType.getDimSize(0),
          n = cType.getDimSize(1);
  auto i8 = b.getI8Type(), i32 = b.getI32Type();
  auto fn = func::FuncOp::create(
      b, loc, name, b.getFunctionType({cType, aType, bType}, {cType}));
  fn.setPrivate();
  // Internal in the object too, so that two models in one program link.
  fn->setAttr("llvm.linkage",
              LLVM::LinkageAttr::get(b.getContext(), LLVM::Linkage::Internal));
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(fn.addEntryBlock());
  Value acc = fn.getArgument(0), lhs = fn.getArgument(1),
        rhs = fn.getArgument(2);
  auto idx = [&](int64_t v) -> Value {
    return arith::ConstantIndexOp::create(b, loc, v);
  };
  Value bufA = memref::AllocaOp::create(b, loc, MemRefType::get({m, k4}, i32));
  Value bufB =
      memref::AllocaOp::create(b, loc, MemRefType::get({k4, 4 * n}, i8));
  Value bufC = memref::AllocaOp::create(b, loc, MemRefType::get({m, n}, i32));
  for (int64_t r = 0; r < m; ++r) {
    Value row = vector::ExtractOp::create(b, loc, lhs, ArrayRef<int64_t>{r});
    vector::StoreOp::create(
        b, loc,
        vector::BitCastOp::create(b, loc, VectorType::get({k4}, i32), row),
        bufA, ValueRange{idx(r), idx(0)});
    vector::StoreOp::create(
        b, loc, vector::ExtractOp::create(b, loc, acc, ArrayRef<int64_t>{r}),
        bufC, ValueRange{idx(r), idx(0)});
  }
  for (int64_t r = 0; r < k4; ++r)
    vector::StoreOp::create(
        b, loc, vector::ExtractOp::create(b, loc, rhs, ArrayRef<int64_t>{r}),
        bufB, ValueRange{idx(r), idx(0)});
  auto rowType = VectorType::get({n}, i32);
  auto bytes = VectorType::get({4 * n}, i8);
  auto wide = VectorType::get({4 * n}, i32);
  auto ext = [&](Value v, bool zext) -> Value {
    if (zext)
      return arith::ExtUIOp::create(b, loc, wide, v);
    return arith::ExtSIOp::create(b, loc, wide, v);
  };
  auto loopM = scf::ForOp::create(b, loc, idx(0), idx(m), idx(1));
  {
    OpBuilder::InsertionGuard gm(b);
    b.setInsertionPointToStart(loopM.getBody());
    Value mi = loopM.getInductionVar();
    Value c0 =
        vector::LoadOp::create(b, loc, rowType, bufC, ValueRange{mi, idx(0)});
    auto loopK =
        scf::ForOp::create(b, loc, idx(0), idx(k4), idx(1), ValueRange{c0});
    {
      OpBuilder::InsertionGuard gk(b);
      b.setInsertionPointToStart(loopK.getBody());
      Value ki = loopK.getInductionVar();
      Value a32 = memref::LoadOp::create(b, loc, bufA, ValueRange{mi, ki});
      Value a8 = vector::BitCastOp::create(
          b, loc, bytes, vector::BroadcastOp::create(b, loc, rowType, a32));
      Value b8 =
          vector::LoadOp::create(b, loc, bytes, bufB, ValueRange{ki, idx(0)});
      Value p = arith::MulIOp::create(b, loc, ext(a8, op.getIsZextLhs()),
                                      ext(b8, op.getIsZextRhs()));
      Value sum = loopK.getRegionIterArgs()[0];
      for (int64_t j = 0; j < 4; ++j) {
        SmallVector<int64_t> lanes;
        for (int64_t l = 0; l < n; ++l)
          lanes.push_back(4 * l + j);
        sum = arith::AddIOp::create(
            b, loc, sum, vector::ShuffleOp::create(b, loc, p, p, lanes));
      }
      scf::YieldOp::create(b, loc, sum);
    }
    vector::StoreOp::create(b, loc, loopK.getResult(0), bufC,
                            ValueRange{mi, idx(0)});
  }
  Value res = arith::ConstantOp::create(b, loc, b.getZeroAttr(cType));
  for (int64_t r = 0; r < m; ++r)
    res = vector::InsertOp::create(
        b, loc,
        vector::LoadOp::create(b, loc, rowType, bufC,
                               ValueRange{idx(r), idx(0)}),
        res, ArrayRef<int64_t>{r});
  func::ReturnOp::create(b, loc, res);
  return fn;
}

/// The memory rows of a tile_load / tile_store: the indices of row r, and
/// (with `check`) an assertion that all rows lie inside the memref.
/// An explicit stride (elements) steps a 1-D memref; without one, rows are
/// the memref's second innermost dimension.
struct TileRows {
  static FailureOr<TileRows> get(Operation *op, Value base, ValueRange indices,
                                 Value stride, int64_t rows, int64_t cols,
                                 OpBuilder &b, bool check, StringRef what) {
    auto type = cast<MemRefType>(base.getType());
    Location loc = op->getLoc();
    if (stride && type.getRank() != 1)
      return op->emitOpError("is emulated with an explicit stride only on a "
                             "1-D memref"),
             failure();
    if (!stride && type.getRank() < 2)
      return op->emitOpError("needs a stride or a memref of rank >= 2"),
             failure();
    TileRows t{SmallVector<Value>(indices), stride, rows, cols};
    if (!check)
      return t;
    auto idx = [&](int64_t v) -> Value {
      return arith::ConstantIndexOp::create(b, loc, v);
    };
    auto dim = [&](int64_t d) -> Value {
      if (!type.isDynamicDim(d))
        return idx(type.getDimSize(d));
      return memref::DimOp::create(b, loc, base, d);
    };
    auto cmp = [&](arith::CmpIPredicate p, Value x, Value y) -> Value {
      return arith::CmpIOp::create(b, loc, p, x, y);
    };
    // Every index >= 0; the first row's start and the last row's end
    // (exclusive) within their dimensions.
    Value ok = arith::ConstantIntOp::create(b, loc, 1, 1);
    int64_t last = type.getRank() - 1;
    for (int64_t d = 0; d <= last; ++d) {
      Value first = indices[d];
      Value end; // last index the rows touch in dimension d, plus one
      if (d == last && stride)
        end = arith::AddIOp::create(
            b, loc, first,
            arith::AddIOp::create(
                b, loc, arith::MulIOp::create(b, loc, stride, idx(rows - 1)),
                idx(cols)));
      else if (d == last)
        end = arith::AddIOp::create(b, loc, first, idx(cols));
      else if (d == last - 1 && !stride)
        end = arith::AddIOp::create(b, loc, first, idx(rows));
      else
        end = arith::AddIOp::create(b, loc, first, idx(1));
      ok = arith::AndIOp::create(
          b, loc, ok,
          arith::AndIOp::create(b, loc,
                                cmp(arith::CmpIPredicate::sge, first, idx(0)),
                                cmp(arith::CmpIPredicate::sle, end, dim(d))));
    }
    // Outside: the fault function (writes why to stderr, aborts).
    auto bad = scf::IfOp::create(
        b, loc,
        arith::XOrIOp::create(b, loc, ok,
                              arith::ConstantIntOp::create(b, loc, 1, 1)),
        false);
    OpBuilder::InsertionGuard g(b);
    b.setInsertionPointToStart(bad.thenBlock());
    LLVM::CallOp::create(b, loc, TypeRange{}, kFaultName, ValueRange{});
    return t;
  }

  /// The indices of row r.
  SmallVector<Value> row(OpBuilder &b, Location loc, int64_t r) const {
    SmallVector<Value> at(indices);
    if (r == 0)
      return at;
    Value rv = arith::ConstantIndexOp::create(b, loc, r);
    if (stride)
      at.back() = arith::AddIOp::create(
          b, loc, at.back(), arith::MulIOp::create(b, loc, stride, rv));
    else
      at[at.size() - 2] = arith::AddIOp::create(b, loc, at[at.size() - 2], rv);
    return at;
  }

  SmallVector<Value> indices;
  Value stride;
  int64_t rows, cols;
};

struct EmulateTileZero : OpConversionPattern<amx::TileZeroOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(amx::TileZeroOp op, OpAdaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = emulatedType(op.getTileType());
    rewriter.replaceOpWithNewOp<arith::ConstantOp>(op, type,
                                                   rewriter.getZeroAttr(type));
    return success();
  }
};

struct EmulateTileLoad : OpConversionPattern<amx::TileLoadOp> {
  EmulateTileLoad(const TypeConverter &tc, MLIRContext *ctx, bool check)
      : OpConversionPattern(tc, ctx), check(check) {}
  LogicalResult
  matchAndRewrite(amx::TileLoadOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = emulatedType(op.getTileType());
    int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
    auto t = TileRows::get(op, adaptor.getBase(), adaptor.getIndices(),
                           adaptor.getStride(), rows, cols, rewriter, check,
                           "amx.tile_load");
    if (failed(t))
      return failure();
    Location loc = op.getLoc();
    auto rowType = VectorType::get({cols}, type.getElementType());
    Value res =
        arith::ConstantOp::create(rewriter, loc, rewriter.getZeroAttr(type));
    for (int64_t r = 0; r < rows; ++r)
      res = vector::InsertOp::create(
          rewriter, loc,
          vector::LoadOp::create(rewriter, loc, rowType, adaptor.getBase(),
                                 t->row(rewriter, loc, r)),
          res, ArrayRef<int64_t>{r});
    rewriter.replaceOp(op, res);
    return success();
  }
  bool check;
};

struct EmulateTileStore : OpConversionPattern<amx::TileStoreOp> {
  EmulateTileStore(const TypeConverter &tc, MLIRContext *ctx, bool check)
      : OpConversionPattern(tc, ctx), check(check) {}
  LogicalResult
  matchAndRewrite(amx::TileStoreOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto type = emulatedType(op.getTileType());
    int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
    auto t = TileRows::get(op, adaptor.getBase(), adaptor.getIndices(),
                           adaptor.getStride(), rows, cols, rewriter, check,
                           "amx.tile_store");
    if (failed(t))
      return failure();
    Location loc = op.getLoc();
    for (int64_t r = 0; r < rows; ++r)
      vector::StoreOp::create(rewriter, loc,
                              vector::ExtractOp::create(rewriter, loc,
                                                        adaptor.getVal(),
                                                        ArrayRef<int64_t>{r}),
                              adaptor.getBase(), t->row(rewriter, loc, r));
    rewriter.eraseOp(op);
    return success();
  }
  bool check;
};

struct EmulateTileMulI : OpConversionPattern<amx::TileMulIOp> {
  using OpConversionPattern::OpConversionPattern;
  LogicalResult
  matchAndRewrite(amx::TileMulIOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    auto module = op->getParentOfType<ModuleOp>();
    auto fn = module.lookupSymbol<func::FuncOp>(mulHelperName(op));
    if (!fn)
      return failure();
    rewriter.replaceOpWithNewOp<func::CallOp>(
        op, fn,
        ValueRange{adaptor.getAcc(), adaptor.getLhs(), adaptor.getRhs()});
    return success();
  }
};

struct LowerAMXPass : qat::impl::LowerAMXPassBase<LowerAMXPass> {
  using Base::Base;
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *ctx = &getContext();
    SmallVector<amx::TileMulIOp> muls;
    bool any = false, mulf = false;
    module.walk([&](Operation *op) {
      if (!isa<amx::AMXDialect>(op->getDialect()))
        return;
      any = true;
      if (auto mul = dyn_cast<amx::TileMulIOp>(op))
        muls.push_back(mul);
      mulf |= isa<amx::TileMulFOp>(op);
    });
    if (!any)
      return;

    // Only tile types change (and the scf ops that carry tiles with them).
    TypeConverter tiles;
    tiles.addConversion([](Type t) { return t; });
    if (emulate)
      tiles.addConversion(
          [](amx::TileType t) -> Type { return emulatedType(t); });
    else
      tiles.addConversion([ctx](amx::TileType) -> Type {
        return LLVM::LLVMX86AMXType::get(ctx);
      });
    LLVMConversionTarget target(*ctx);
    target.markUnknownOpDynamicallyLegal([](Operation *) { return true; });
    target.addIllegalDialect<amx::AMXDialect>();
    RewritePatternSet patterns(ctx);
    scf::populateSCFStructuralTypeConversionsAndLegality(tiles, patterns,
                                                         target);
    LLVMTypeConverter llvmTypes(ctx);
    if (emulate) {
      if (mulf) {
        module.emitError("qat-lower-amx{emulate}: amx.tile_mulf is not "
                         "emulated");
        return signalPassFailure();
      }
      // One helper per shape and signedness of tile_muli, at the end of
      // the module.
      OpBuilder b = OpBuilder::atBlockEnd(module.getBody());
      if (checkBounds && !module.lookupSymbol(kFaultName))
        emitFaultHelper(b, module.getLoc(), module);
      for (amx::TileMulIOp mul : muls) {
        std::string name = mulHelperName(mul);
        if (!module.lookupSymbol(name))
          emitMulHelper(b, mul.getLoc(), name, mul);
      }
      patterns.add<EmulateTileZero, EmulateTileMulI>(tiles, ctx);
      patterns.add<EmulateTileLoad, EmulateTileStore>(tiles, ctx, checkBounds);
    } else {
      llvmTypes.addConversion([ctx](amx::TileType) -> Type {
        return LLVM::LLVMX86AMXType::get(ctx);
      });
      populateAMXLegalizeForLLVMExportPatterns(llvmTypes, patterns);
      configureAMXLegalizeForExportTarget(target);
    }
    if (failed(applyPartialConversion(module, target, std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
