//===- NPUOps.cpp - npu op verifiers and the instruction encoding --------===//
//
// Each instruction op maps field by field to an npu::Instruction of the
// machine library (include/qat/NPU/ISA.h); its verifier checks the field
// widths of the binary encoding and then the static rules of docs/NPU.md
// with the library's npu::verify against the program's configuration, so the
// IR and the binary follow one rule book.
//
//===----------------------------------------------------------------------===//

#include "qat/Dialect/NPU/IR/NPUOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/TypeSwitch.h"

#include <limits>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::npu::ir;

//===----------------------------------------------------------------------===//
// #npu.config
//===----------------------------------------------------------------------===//

npu::Config ConfigAttr::getConfig() const {
  npu::Config c;
  c.blockIn = getBlockIn();
  c.blockOut = getBlockOut();
  c.inpDepth = getInpDepth();
  c.wgtDepth = getWgtDepth();
  c.accDepth = getAccDepth();
  c.uopDepth = getUopDepth();
  c.issueCycles = getIssueCycles();
  c.dramLatency = getDramLatency();
  c.dramBytesPerCycle = getDramBytesPerCycle();
  c.gemmCyclesPerOp = getGemmCyclesPerOp();
  c.gemmPipeline = getGemmPipeline();
  c.aluCyclesPerOp = getAluCyclesPerOp();
  c.aluRescaleCyclesPerOp = getAluRescaleCyclesPerOp();
  return c;
}

ConfigAttr ConfigAttr::get(MLIRContext *context, const npu::Config &c) {
  return get(context, c.blockIn, c.blockOut, c.inpDepth, c.wgtDepth, c.accDepth,
             c.uopDepth, c.issueCycles, c.dramLatency, c.dramBytesPerCycle,
             c.gemmCyclesPerOp, c.gemmPipeline, c.aluCyclesPerOp,
             c.aluRescaleCyclesPerOp);
}

LogicalResult ConfigAttr::verify(
    function_ref<InFlightDiagnostic()> emitError, uint32_t blockIn,
    uint32_t blockOut, uint32_t inpDepth, uint32_t wgtDepth, uint32_t accDepth,
    uint32_t uopDepth, uint32_t issueCycles, uint32_t dramLatency,
    uint32_t dramBytesPerCycle, uint32_t gemmCyclesPerOp, uint32_t gemmPipeline,
    uint32_t aluCyclesPerOp, uint32_t aluRescaleCyclesPerOp) {
  npu::Config c;
  c.blockIn = blockIn;
  c.blockOut = blockOut;
  c.inpDepth = inpDepth;
  c.wgtDepth = wgtDepth;
  c.accDepth = accDepth;
  c.uopDepth = uopDepth;
  c.issueCycles = issueCycles;
  c.dramLatency = dramLatency;
  c.dramBytesPerCycle = dramBytesPerCycle;
  c.gemmCyclesPerOp = gemmCyclesPerOp;
  c.gemmPipeline = gemmPipeline;
  c.aluCyclesPerOp = aluCyclesPerOp;
  c.aluRescaleCyclesPerOp = aluRescaleCyclesPerOp;
  std::string why = c.validate();
  if (!why.empty())
    return emitError() << "invalid NPU configuration: " << why;
  return success();
}

//===----------------------------------------------------------------------===//
// Micro-op lists: [(d, s, w), ...]
//===----------------------------------------------------------------------===//

static ParseResult parseMicroOps(OpAsmParser &parser, DenseI64ArrayAttr &uops) {
  SmallVector<int64_t> values;
  auto parseOne = [&]() -> ParseResult {
    int64_t d, s, w;
    if (parser.parseLParen() || parser.parseInteger(d) || parser.parseComma() ||
        parser.parseInteger(s) || parser.parseComma() ||
        parser.parseInteger(w) || parser.parseRParen())
      return failure();
    values.append({d, s, w});
    return success();
  };
  if (parser.parseCommaSeparatedList(OpAsmParser::Delimiter::Square, parseOne))
    return failure();
  uops = parser.getBuilder().getDenseI64ArrayAttr(values);
  return success();
}

static void printMicroOps(OpAsmPrinter &p, Operation *,
                          DenseI64ArrayAttr uops) {
  ArrayRef<int64_t> v = uops.asArrayRef();
  p << '[';
  for (size_t i = 0; i + 2 < v.size(); i += 3) {
    if (i)
      p << ", ";
    p << '(' << v[i] << ", " << v[i + 1] << ", " << v[i + 2] << ')';
  }
  p << ']';
}

/// `[deps pop_prev|push_next] [layer N]`: each part only when set.
static ParseResult parseDepsAndLayer(OpAsmParser &parser, DepsAttr &deps,
                                     IntegerAttr &layer) {
  Deps flags = Deps::none;
  if (succeeded(parser.parseOptionalKeyword("deps"))) {
    do {
      StringRef name;
      SMLoc loc = parser.getCurrentLocation();
      if (parser.parseKeyword(&name))
        return failure();
      std::optional<Deps> flag = symbolizeDeps(name);
      if (!flag || *flag == Deps::none)
        return parser.emitError(loc, "unknown dependency flag '")
               << name << "' (pop_prev, pop_next, push_prev, push_next)";
      flags = flags | *flag;
    } while (succeeded(parser.parseOptionalVerticalBar()));
  }
  deps = DepsAttr::get(parser.getContext(), flags);
  if (succeeded(parser.parseOptionalKeyword("layer"))) {
    int64_t id;
    if (parser.parseInteger(id))
      return failure();
    layer = parser.getBuilder().getI64IntegerAttr(id);
  }
  return success();
}
static ParseResult parseDepsAndLayer(OpAsmParser &parser, DepsAttr &deps) {
  IntegerAttr unused;
  return parseDepsAndLayer(parser, deps, unused);
}

static void printDepsAndLayer(OpAsmPrinter &p, Operation *, DepsAttr deps,
                              IntegerAttr layer = {}) {
  bool any = deps.getValue() != Deps::none;
  if (any)
    p << "deps " << stringifyDeps(deps.getValue());
  if (layer)
    p << (any ? " " : "") << "layer " << layer.getInt();
}

//===----------------------------------------------------------------------===//
// Instruction ops
//===----------------------------------------------------------------------===//

namespace {
/// Checks that each field fits its width in the binary encoding.
class FieldChecker {
public:
  explicit FieldChecker(Operation *op) : op(op) {}
  bool failed = false;

  template <typename T> T get(StringRef field, int64_t value) {
    int64_t lo = int64_t(std::numeric_limits<T>::min());
    int64_t hi = int64_t(std::numeric_limits<T>::max());
    if (!failed && (value < lo || value > hi)) {
      op->emitOpError() << "field '" << field << "' = " << value
                        << " does not fit its encoding [" << lo << ", " << hi
                        << "]";
      failed = true;
    }
    return T(value);
  }
  void expectSize(StringRef field, ArrayRef<int64_t> values, size_t size) {
    if (!failed && values.size() != size) {
      op->emitOpError() << "'" << field << "' must have " << size
                        << " elements, got " << values.size();
      failed = true;
    }
  }

private:
  Operation *op;
};

npu::DType getDType(Type t) {
  return t.isInteger(32) ? npu::DType::I32 : npu::DType::I8;
}

ProgramOp getProgram(Operation *op) {
  return dyn_cast_or_null<ProgramOp>(op->getParentOp());
}

template <typename OpTy>
void setCommon(OpTy op, FieldChecker &f, npu::Instruction &insn) {
  insn.deps = uint8_t(op.getDeps());
  insn.layer = npu::kNoLayer;
  if (auto layer = op.getLayer())
    insn.layer = f.template get<uint16_t>("layer", *layer);
  if (insn.layer == npu::kNoLayer && op.getLayer())
    op->emitOpError("layer id 65535 is reserved for 'no layer'"),
        f.failed = true;
}

/// The loop fields shared by GEMM and ALU.
template <typename OpTy>
void setLoops(OpTy op, FieldChecker &f, npu::Instruction &insn,
              uint32_t uopBegin, ArrayRef<int64_t> uops, int64_t base0,
              ArrayRef<int64_t> factors0, int64_t base1,
              ArrayRef<int64_t> factors1, int64_t base2,
              ArrayRef<int64_t> factors2, StringRef name0, StringRef name1,
              StringRef name2) {
  ArrayRef<int64_t> loops = op.getLoops();
  f.expectSize("loops", loops, 2);
  f.expectSize(name0, factors0, 2);
  f.expectSize(name1, factors1, 2);
  f.expectSize(name2, factors2, 2);
  if (f.failed)
    return;
  if (uops.size() % 3 != 0) {
    op->emitOpError("micro-ops must be (d, s, w) triples");
    f.failed = true;
    return;
  }
  for (int64_t u : uops)
    f.template get<uint32_t>("uops", u);
  int64_t count = uops.size() / 3;
  insn.uopBegin = f.template get<uint16_t>("uops (begin)", uopBegin);
  insn.uopEnd = f.template get<uint16_t>("uops (count)", uopBegin + count);
  insn.extent0 = f.template get<uint16_t>("loops[0]", loops[0]);
  insn.extent1 = f.template get<uint16_t>("loops[1]", loops[1]);
  insn.dstBase = f.template get<uint32_t>("dst base", base0);
  insn.srcBase = f.template get<uint32_t>("src base", base1);
  insn.wgtBase = f.template get<uint32_t>("wgt/param base", base2);
  insn.dstFactor0 = f.template get<int32_t>(name0, factors0[0]);
  insn.dstFactor1 = f.template get<int32_t>(name0, factors0[1]);
  insn.srcFactor0 = f.template get<int32_t>(name1, factors1[0]);
  insn.srcFactor1 = f.template get<int32_t>(name1, factors1[1]);
  insn.wgtFactor0 = f.template get<int32_t>(name2, factors2[0]);
  insn.wgtFactor1 = f.template get<int32_t>(name2, factors2[1]);
}

npu::Instruction build(Operation *op, FieldChecker &f, uint32_t uopBegin) {
  npu::Instruction insn;
  TypeSwitch<Operation *>(op)
      .Case([&](LoadOp o) {
        insn.opcode = npu::Opcode::Load;
        setCommon(o, f, insn);
        insn.buffer = npu::Buffer(uint8_t(o.getBuffer()));
        insn.dtype = getDType(o.getDtype());
        ArrayRef<int64_t> pad = o.getPad();
        f.expectSize("pad", pad, 4);
        if (f.failed)
          return;
        insn.yPad0 = f.get<uint8_t>("pad[0]", pad[0]);
        insn.yPad1 = f.get<uint8_t>("pad[1]", pad[1]);
        insn.xPad0 = f.get<uint8_t>("pad[2]", pad[2]);
        insn.xPad1 = f.get<uint8_t>("pad[3]", pad[3]);
        insn.lanes = f.get<uint16_t>("lanes", o.getLanes());
        insn.sramBase = f.get<uint32_t>("sram_base", o.getSramBase());
        insn.dramBase = f.get<uint32_t>("dram_base", o.getDramBase());
        insn.ySize = f.get<uint16_t>("rows", o.getRows());
        insn.xSize = f.get<uint16_t>("cols", o.getCols());
        insn.yStride = f.get<uint32_t>("row stride", o.getRowStride());
        insn.xStride = f.get<uint32_t>("col stride", o.getColStride());
        insn.padValue = f.get<int32_t>("value", o.getPadValue());
      })
      .Case([&](StoreOp o) {
        insn.opcode = npu::Opcode::Store;
        setCommon(o, f, insn);
        insn.buffer = npu::Buffer::Acc;
        insn.dtype = getDType(o.getDtype());
        insn.lanes = f.get<uint16_t>("lanes", o.getLanes());
        insn.sramBase = f.get<uint32_t>("sram_base", o.getSramBase());
        insn.dramBase = f.get<uint32_t>("dram_base", o.getDramBase());
        insn.ySize = f.get<uint16_t>("rows", o.getRows());
        insn.xSize = f.get<uint16_t>("cols", o.getCols());
        insn.yStride = f.get<uint32_t>("row stride", o.getRowStride());
        insn.xStride = f.get<uint32_t>("col stride", o.getColStride());
      })
      .Case([&](GemmOp o) {
        insn.opcode = npu::Opcode::Gemm;
        setCommon(o, f, insn);
        insn.flags = o.getReset() ? npu::GemmReset : 0;
        setLoops(o, f, insn, uopBegin, o.getUops(), o.getAccBase(),
                 o.getAccFactors(), o.getInpBase(), o.getInpFactors(),
                 o.getWgtBase(), o.getWgtFactors(), "acc factors",
                 "inp factors", "wgt factors");
      })
      .Case([&](AluOp o) {
        insn.opcode = npu::Opcode::Alu;
        setCommon(o, f, insn);
        insn.aluOp = npu::AluOp(uint8_t(o.getFunc()));
        insn.flags = o.getUseImm() ? npu::AluUseImm : 0;
        setLoops(o, f, insn, uopBegin, o.getUops(), o.getDstBase(),
                 o.getDstFactors(), o.getSrcBase(), o.getSrcFactors(),
                 o.getParamBase(), o.getParamFactors(), "dst factors",
                 "src factors", "param factors");
        ArrayRef<int64_t> imm = o.getImm();
        f.expectSize("imm", imm, 3);
        if (f.failed)
          return;
        insn.imm0 = f.get<int32_t>("imm[0]", imm[0]);
        insn.imm1 = f.get<int32_t>("imm[1]", imm[1]);
        insn.imm2 = f.get<int32_t>("imm[2]", imm[2]);
      })
      .Case([&](FinishOp o) {
        insn.opcode = npu::Opcode::Finish;
        insn.deps = uint8_t(o.getDeps());
      });
  return insn;
}

LogicalResult verifyInstruction(Operation *op) {
  if (auto load = dyn_cast<LoadOp>(op)) {
    Type t = load.getDtype();
    if (!t.isInteger(8) && !t.isInteger(32))
      return op->emitOpError("dtype must be i8 or i32, got ") << t;
  }
  if (auto store = dyn_cast<StoreOp>(op)) {
    Type t = store.getDtype();
    if (!t.isInteger(8) && !t.isInteger(32))
      return op->emitOpError("dtype must be i8 or i32, got ") << t;
  }
  FieldChecker f(op);
  npu::Instruction insn = build(op, f, 0);
  if (f.failed)
    return failure();
  ProgramOp program = getProgram(op);
  if (!program)
    return success(); // HasParent reports it
  std::string why = npu::verify(insn, program.getConfig().getConfig());
  if (!why.empty())
    return op->emitOpError("breaks a rule of the NPU (docs/NPU.md): ") << why;
  return success();
}
} // namespace

bool mlir::qat::npu::ir::isInstruction(Operation *op) {
  return isa<LoadOp, StoreOp, GemmOp, AluOp, FinishOp>(op);
}

npu::Instruction mlir::qat::npu::ir::getInstruction(Operation *op,
                                                    uint32_t uopBegin) {
  FieldChecker f(op);
  return build(op, f, uopBegin);
}

SmallVector<npu::MicroOp> mlir::qat::npu::ir::getMicroOps(Operation *op) {
  ArrayRef<int64_t> v;
  if (auto g = dyn_cast<GemmOp>(op))
    v = g.getUops();
  else if (auto a = dyn_cast<AluOp>(op))
    v = a.getUops();
  SmallVector<npu::MicroOp> uops;
  for (size_t i = 0; i + 2 < v.size(); i += 3)
    uops.push_back({uint32_t(v[i]), uint32_t(v[i + 1]), uint32_t(v[i + 2])});
  return uops;
}

Operation *
mlir::qat::npu::ir::createInstructionOp(OpBuilder &b, Location loc,
                                        const npu::Instruction &i,
                                        ArrayRef<npu::MicroOp> uops) {
  auto deps = DepsAttr::get(b.getContext(), Deps(i.deps));
  IntegerAttr layer;
  if (i.layer != npu::kNoLayer)
    layer = b.getI64IntegerAttr(i.layer);
  auto i64 = [&](int64_t v) { return b.getI64IntegerAttr(v); };
  auto arr = [&](ArrayRef<int64_t> v) { return b.getDenseI64ArrayAttr(v); };
  TypeAttr dtype = TypeAttr::get(i.dtype == npu::DType::I32 ? b.getI32Type()
                                                            : b.getI8Type());
  SmallVector<int64_t> flat;
  for (const npu::MicroOp &u : uops)
    flat.append({int64_t(u.dst), int64_t(u.src), int64_t(u.wgt)});
  switch (i.opcode) {
  case npu::Opcode::Load:
    return LoadOp::create(
        b, loc, BufferAttr::get(b.getContext(), Buffer(uint8_t(i.buffer))),
        dtype, i64(i.sramBase), i64(i.dramBase), i64(i.ySize), i64(i.yStride),
        i64(i.xSize), i64(i.xStride), i64(i.lanes),
        arr({i.yPad0, i.yPad1, i.xPad0, i.xPad1}), i64(i.padValue), deps,
        layer);
  case npu::Opcode::Store:
    return StoreOp::create(b, loc, dtype, i64(i.sramBase), i64(i.dramBase),
                           i64(i.ySize), i64(i.yStride), i64(i.xSize),
                           i64(i.xStride), i64(i.lanes), deps, layer);
  case npu::Opcode::Gemm:
    return GemmOp::create(
        b, loc, (i.flags & npu::GemmReset) ? b.getUnitAttr() : UnitAttr(),
        arr({i.extent0, i.extent1}), arr(flat), i64(i.dstBase),
        arr({i.dstFactor0, i.dstFactor1}), i64(i.srcBase),
        arr({i.srcFactor0, i.srcFactor1}), i64(i.wgtBase),
        arr({i.wgtFactor0, i.wgtFactor1}), deps, layer);
  case npu::Opcode::Alu:
    return AluOp::create(
        b, loc, AluFuncAttr::get(b.getContext(), AluFunc(uint8_t(i.aluOp))),
        (i.flags & npu::AluUseImm) ? b.getUnitAttr() : UnitAttr(),
        arr({i.extent0, i.extent1}), arr(flat), i64(i.dstBase),
        arr({i.dstFactor0, i.dstFactor1}), i64(i.srcBase),
        arr({i.srcFactor0, i.srcFactor1}), i64(i.wgtBase),
        arr({i.wgtFactor0, i.wgtFactor1}), arr({i.imm0, i.imm1, i.imm2}), deps,
        layer);
  case npu::Opcode::Finish:
    return FinishOp::create(b, loc, deps);
  }
  return nullptr;
}

#define INSTRUCTION_OP(OpTy)                                                   \
  LogicalResult OpTy::verify() { return verifyInstruction(*this); }            \
  npu::Instruction OpTy::getInstruction(uint32_t uopBegin) {                   \
    return npu::ir::getInstruction(*this, uopBegin);                           \
  }
INSTRUCTION_OP(LoadOp)
INSTRUCTION_OP(StoreOp)
INSTRUCTION_OP(GemmOp)
INSTRUCTION_OP(AluOp)
INSTRUCTION_OP(FinishOp)
#undef INSTRUCTION_OP

//===----------------------------------------------------------------------===//
// Declarations
//===----------------------------------------------------------------------===//

static int64_t elementBytes(Type t) { return t.isInteger(32) ? 4 : 1; }

int64_t TensorOp::getByteSize() {
  RankedTensorType t = getTensorType();
  return t.getNumElements() * elementBytes(t.getElementType());
}

LogicalResult TensorOp::verify() {
  RankedTensorType t = getTensorType();
  Type e = t.getElementType();
  if (!e.isInteger(8) && !e.isInteger(32))
    return emitOpError("element type must be i8 or i32, got ") << e;
  if (t.getRank() > int64_t(npu::kMaxTensorRank))
    return emitOpError("rank ")
           << t.getRank() << " exceeds " << npu::kMaxTensorRank;
  if (!t.hasStaticShape())
    return emitOpError("shape must be static");
  if (llvm::any_of(t.getShape(),
                   [](int64_t d) { return d > int64_t(UINT32_MAX); }))
    return emitOpError("a dimension does not fit 32 bits");
  if (getAddress() < 0)
    return emitOpError("address must be non-negative");
  return success();
}

int64_t DataOp::getByteSize() {
  auto t = cast<ShapedType>(getValue().getType());
  return t.getNumElements() * elementBytes(t.getElementType());
}

void DataOp::appendBytes(SmallVectorImpl<uint8_t> &bytes) {
  bool wide = getValue().getType().getElementType().isInteger(32);
  for (const APInt &v : getValue().getValues<APInt>()) {
    uint64_t x = v.getZExtValue();
    for (int i = 0; i < (wide ? 4 : 1); ++i)
      bytes.push_back(uint8_t(x >> (8 * i)));
  }
}

LogicalResult DataOp::verify() {
  auto t = cast<ShapedType>(getValue().getType());
  Type e = t.getElementType();
  if (t.getRank() != 1 || (!e.isInteger(8) && !e.isInteger(32)))
    return emitOpError("value must be a rank-1 tensor of i8 or i32, got ") << t;
  if (getAddress() < 0)
    return emitOpError("address must be non-negative");
  return success();
}

//===----------------------------------------------------------------------===//
// npu.program
//===----------------------------------------------------------------------===//

void ProgramOp::build(OpBuilder &b, OperationState &state, StringRef name,
                      ConfigAttr config, int64_t dramSize) {
  state.addAttribute(getSymNameAttrName(state.name), b.getStringAttr(name));
  state.addAttribute(getConfigAttrName(state.name), config);
  state.addAttribute(getDramSizeAttrName(state.name),
                     b.getI64IntegerAttr(dramSize));
  Region *body = state.addRegion();
  body->push_back(new Block());
}

LogicalResult ProgramOp::verifyRegions() {
  if (getDramSize() < 0 || uint64_t(getDramSize()) > npu::kMaxDramBytes)
    return emitOpError("dram_size ")
           << getDramSize() << " outside [0, " << npu::kMaxDramBytes << "]";
  // Section order: tensors, data, layers, instructions.
  enum Stage { Tensors, Data, Layers, Instructions };
  Stage stage = Tensors;
  int64_t layers = 0;
  Operation *finish = nullptr;
  struct Range {
    int64_t begin, end;
    Operation *op;
    bool isData;
  };
  SmallVector<Range> ranges;
  // Tokens per queue: load->compute, compute->load, compute->store,
  // store->compute.
  int64_t pushed[4] = {0, 0, 0, 0}, popped[4] = {0, 0, 0, 0};
  for (Operation &op : getBodyBlock()) {
    Stage s;
    if (isa<TensorOp>(op))
      s = Tensors;
    else if (isa<DataOp>(op))
      s = Data;
    else if (isa<LayerOp>(op))
      s = Layers;
    else if (isInstruction(&op))
      s = Instructions;
    else
      return op.emitOpError(
          "is not allowed in an 'npu.program' (only "
          "npu.tensor, npu.data, npu.layer and instructions)");
    if (s < stage)
      return op.emitOpError(
          "out of order: a program lists its tensors, then its data, then its "
          "layers, then its instructions");
    stage = s;
    if (finish)
      return op.emitOpError("follows 'npu.finish', which must be the last "
                            "instruction");
    if (auto t = dyn_cast<TensorOp>(op))
      ranges.push_back({int64_t(t.getAddress()),
                        int64_t(t.getAddress()) + t.getByteSize(), &op, false});
    if (auto d = dyn_cast<DataOp>(op))
      ranges.push_back({int64_t(d.getAddress()),
                        int64_t(d.getAddress()) + d.getByteSize(), &op, true});
    if (auto l = dyn_cast<LayerOp>(op)) {
      if (int64_t(l.getId()) != layers)
        return op.emitOpError("layer id ")
               << l.getId() << " out of sequence (expected " << layers << ")";
      ++layers;
    }
    if (s != Instructions)
      continue;
    if (isa<FinishOp>(op))
      finish = &op;
    std::optional<int64_t> layer;
    if (auto g = dyn_cast<GemmOp>(op))
      layer = g.getLayer();
    else if (auto a = dyn_cast<AluOp>(op))
      layer = a.getLayer();
    else if (auto l = dyn_cast<LoadOp>(op))
      layer = l.getLayer();
    else if (auto st = dyn_cast<StoreOp>(op))
      layer = st.getLayer();
    if (layer && (*layer < 0 || *layer >= layers))
      return op.emitOpError("layer ")
             << *layer << " is not in the layer table (" << layers
             << " layers)";
    npu::Instruction insn = getInstruction(&op);
    npu::Module m = npu::getModule(insn);
    int prevQueueIn = -1, nextQueueIn = -1, prevQueueOut = -1,
        nextQueueOut = -1;
    if (m == npu::Module::Load) {
      nextQueueIn = 1;  // compute->load
      nextQueueOut = 0; // load->compute
    } else if (m == npu::Module::Compute) {
      prevQueueIn = 0;
      prevQueueOut = 1;
      nextQueueIn = 3; // store->compute
      nextQueueOut = 2;
    } else {
      prevQueueIn = 2;
      prevQueueOut = 3;
    }
    if ((insn.deps & npu::PopPrev) && prevQueueIn >= 0)
      ++popped[prevQueueIn];
    if ((insn.deps & npu::PopNext) && nextQueueIn >= 0)
      ++popped[nextQueueIn];
    if ((insn.deps & npu::PushPrev) && prevQueueOut >= 0)
      ++pushed[prevQueueOut];
    if ((insn.deps & npu::PushNext) && nextQueueOut >= 0)
      ++pushed[nextQueueOut];
  }
  if (!finish)
    return emitOpError("has no 'npu.finish' (the last instruction of every "
                       "program)");
  static const char *queueNames[] = {"load->compute", "compute->load",
                                     "compute->store", "store->compute"};
  for (int q = 0; q < 4; ++q)
    if (pushed[q] != popped[q])
      return emitOpError("queue ")
             << queueNames[q] << " gets " << pushed[q] << " tokens but "
             << popped[q] << " are taken; every token must be taken";
  for (const Range &r : ranges)
    if (r.begin < 0 || r.end > int64_t(getDramSize()))
      return r.op->emitOpError("DRAM bytes [")
             << r.begin << ", " << r.end << ") outside dram_size "
             << getDramSize();
  for (size_t i = 0; i < ranges.size(); ++i)
    for (size_t j = 0; j < i; ++j) {
      const Range &a = ranges[j], &b = ranges[i];
      if ((a.isData || b.isData) && a.begin < b.end && b.begin < a.end)
        return b.op->emitOpError("DRAM bytes [")
               << b.begin << ", " << b.end << ") overlap those of the "
               << (a.isData ? "npu.data" : "npu.tensor") << " at [" << a.begin
               << ", " << a.end << ")";
    }
  return success();
}

#define GET_OP_CLASSES
#include "qat/Dialect/NPU/IR/NPUOps.cpp.inc"
