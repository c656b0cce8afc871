//===- NPUTranslation.cpp - npu dialect <-> NPU binary --------------------===//
//
// exportNPUProgram turns an npu.program into the machine library's
// npu::Program: tensors, data segment, layer table, instructions with their
// micro-ops pooled into the UOP section. importNPUProgram is its inverse, so
// binary -> IR -> binary is the identity on what this compiler writes.
//
//===----------------------------------------------------------------------===//

#include "qat/Target/NPU/NPUTranslation.h"
#include "qat/Tools/ParseGuard.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Tools/mlir-translate/Translation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/SourceMgr.h"

#include <map>

using namespace mlir;
using namespace mlir::qat;

FailureOr<npu::ir::ProgramOp> mlir::qat::findNPUProgram(Operation *op) {
  npu::ir::ProgramOp found;
  unsigned count = 0;
  op->walk([&](npu::ir::ProgramOp p) {
    found = p;
    ++count;
  });
  if (count != 1)
    return op->emitError("expected one 'npu.program', found ") << count;
  return found;
}

FailureOr<npu::Program> mlir::qat::exportNPUProgram(npu::ir::ProgramOp op) {
  npu::Program p;
  p.config = op.getConfig().getConfig();
  p.dramSize = uint32_t(op.getDramSize());
  // Micro-op lists placed once each, in order of first use.
  std::map<std::vector<uint32_t>, uint32_t> placed;
  for (Operation &o : op.getBodyBlock()) {
    if (auto t = dyn_cast<npu::ir::TensorOp>(o)) {
      npu::TensorDesc d;
      d.name = t.getName().str();
      d.isOutput = t.getRole() == npu::ir::TensorRole::output;
      RankedTensorType type = t.getTensorType();
      d.dtype = type.getElementType().isInteger(32) ? npu::DType::I32
                                                    : npu::DType::I8;
      for (int64_t dim : type.getShape())
        d.shape.push_back(uint32_t(dim));
      d.dramAddr = uint32_t(t.getAddress());
      d.scale = t.getScale().convertToFloat();
      d.zeroPoint = int32_t(t.getZeroPoint());
      p.tensors.push_back(d);
      continue;
    }
    if (auto d = dyn_cast<npu::ir::DataOp>(o)) {
      SmallVector<uint8_t> bytes;
      d.appendBytes(bytes);
      uint64_t end = d.getAddress() + bytes.size();
      if (p.data.size() < end)
        p.data.resize(end, 0);
      std::copy(bytes.begin(), bytes.end(), p.data.begin() + d.getAddress());
      continue;
    }
    if (auto l = dyn_cast<npu::ir::LayerOp>(o)) {
      p.layers.push_back({l.getName().str(), uint64_t(l.getMacs())});
      continue;
    }
    SmallVector<npu::MicroOp> uops = npu::ir::getMicroOps(&o);
    uint32_t begin = 0;
    if (!uops.empty()) {
      std::vector<uint32_t> key;
      for (const npu::MicroOp &u : uops)
        key.insert(key.end(), {u.dst, u.src, u.wgt});
      auto [it, inserted] =
          placed.try_emplace(key, uint32_t(p.microOps.size()));
      if (inserted)
        p.microOps.insert(p.microOps.end(), uops.begin(), uops.end());
      begin = it->second;
      if (p.microOps.size() > p.config.uopDepth)
        return o.emitError("the program's micro-ops (")
               << p.microOps.size() << " after this op) exceed uop_depth "
               << p.config.uopDepth;
    }
    p.instructions.push_back(npu::ir::getInstruction(&o, begin));
  }
  std::string why = p.verify();
  if (!why.empty())
    return op.emitError("the program breaks a rule of the NPU: ") << why;
  return p;
}

LogicalResult mlir::qat::translateToNPUBinary(Operation *op,
                                              llvm::raw_ostream &os) {
  FailureOr<npu::ir::ProgramOp> program = findNPUProgram(op);
  if (failed(program))
    return failure();
  FailureOr<npu::Program> p = exportNPUProgram(*program);
  if (failed(p))
    return failure();
  std::vector<uint8_t> bytes = npu::writeProgram(*p);
  os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
  return success();
}

OwningOpRef<ModuleOp> mlir::qat::importNPUProgram(const npu::Program &p,
                                                  MLIRContext *ctx,
                                                  StringRef name) {
  ctx->loadDialect<npu::ir::NPUDialect>();
  Location loc = UnknownLoc::get(ctx);
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  OpBuilder b = OpBuilder::atBlockEnd(module->getBody());
  auto program = npu::ir::ProgramOp::create(
      b, loc, name, npu::ir::ConfigAttr::get(ctx, p.config), p.dramSize);
  OpBuilder body = OpBuilder::atBlockEnd(&program.getBodyBlock());
  for (const npu::TensorDesc &t : p.tensors) {
    SmallVector<int64_t> shape(t.shape.begin(), t.shape.end());
    Type e = t.dtype == npu::DType::I32 ? body.getI32Type() : body.getI8Type();
    npu::ir::TensorOp::create(body, loc,
                              npu::ir::TensorRoleAttr::get(
                                  ctx, t.isOutput ? npu::ir::TensorRole::output
                                                  : npu::ir::TensorRole::input),
                              body.getStringAttr(t.name),
                              TypeAttr::get(RankedTensorType::get(shape, e)),
                              body.getI64IntegerAttr(t.dramAddr),
                              body.getF32FloatAttr(t.scale),
                              body.getI32IntegerAttr(t.zeroPoint));
  }
  if (!p.data.empty()) {
    SmallVector<int8_t> bytes(p.data.begin(), p.data.end());
    auto type =
        RankedTensorType::get({int64_t(bytes.size())}, body.getI8Type());
    npu::ir::DataOp::create(body, loc, "data", 0,
                            DenseIntElementsAttr::get(type, ArrayRef(bytes)));
  }
  for (auto [id, l] : llvm::enumerate(p.layers))
    npu::ir::LayerOp::create(body, loc, id, l.name, l.macs);
  // UOP as it is at reset: the micro-op section, then zeros up to uop_depth
  // (the reader checked uop_end <= uop_depth), so an instruction whose range
  // reaches past the section reads the zero micro-ops the simulator runs.
  std::vector<npu::MicroOp> uopBuffer(p.microOps);
  uopBuffer.resize(std::max<size_t>(p.microOps.size(), p.config.uopDepth));
  for (const npu::Instruction &i : p.instructions) {
    ArrayRef<npu::MicroOp> uops;
    if (i.opcode == npu::Opcode::Gemm || i.opcode == npu::Opcode::Alu)
      uops = ArrayRef(uopBuffer).slice(i.uopBegin, i.uopEnd - i.uopBegin);
    npu::ir::createInstructionOp(body, loc, i, uops);
  }
  return module;
}

void mlir::qat::registerNPUTranslations() {
  // TranslateFromMLIRRegistration with the parse through parseModuleGuarded
  // (qat/Tools/ParseGuard.h: input that crashes MLIR 22's parser).
  TranslateRegistration exportReg(
      "npu-binary", "write the NPU binary (docs/NPU.md) of an npu.program",
      [](const std::shared_ptr<llvm::SourceMgr> &sourceMgr,
         llvm::raw_ostream &os, MLIRContext *context) -> LogicalResult {
        DialectRegistry registry;
        registry.insert<npu::ir::NPUDialect>();
        context->appendDialectRegistry(registry);
        OwningOpRef<ModuleOp> module =
            parseModuleGuarded(sourceMgr, ParserConfig(context));
        if (!module || failed(verify(*module)))
          return failure();
        return translateToNPUBinary(*module, os);
      });
  TranslateToMLIRRegistration importReg(
      "import-npu-binary", "read an NPU binary into the npu dialect",
      [](llvm::SourceMgr &sourceMgr,
         MLIRContext *ctx) -> OwningOpRef<Operation *> {
        const llvm::MemoryBuffer *buf =
            sourceMgr.getMemoryBuffer(sourceMgr.getMainFileID());
        npu::Program p;
        std::string why = npu::readProgram(
            reinterpret_cast<const uint8_t *>(buf->getBufferStart()),
            buf->getBufferSize(), p);
        if (!why.empty()) {
          emitError(UnknownLoc::get(ctx)) << why;
          return nullptr;
        }
        return importNPUProgram(p, ctx);
      },
      [](DialectRegistry &registry) {
        registry.insert<npu::ir::NPUDialect>();
      });
}
