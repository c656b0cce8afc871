//===- ISA.cpp - NPU instruction encoding, static checks, assembly text ---===//
//
// The byte layout of docs/NPU.md section 6, and the static rules of section 4
// that need no execution.
//
//===----------------------------------------------------------------------===//
#include "qat/NPU/ISA.h"

#include <cstdio>
#include <cstring>

using namespace mlir::qat::npu;

namespace {
void put8(uint8_t *b, unsigned off, uint8_t v) { b[off] = v; }
void put16(uint8_t *b, unsigned off, uint16_t v) {
  b[off] = uint8_t(v);
  b[off + 1] = uint8_t(v >> 8);
}
void put32(uint8_t *b, unsigned off, uint32_t v) {
  for (unsigned i = 0; i < 4; ++i)
    b[off + i] = uint8_t(v >> (8 * i));
}
uint16_t get16(const uint8_t *b, unsigned off) {
  return uint16_t(b[off] | (b[off + 1] << 8));
}
uint32_t get32(const uint8_t *b, unsigned off) {
  uint32_t v = 0;
  for (unsigned i = 0; i < 4; ++i)
    v |= uint32_t(b[off + i]) << (8 * i);
  return v;
}

bool isMemory(Opcode op) { return op == Opcode::Load || op == Opcode::Store; }
bool isLoop(Opcode op) { return op == Opcode::Gemm || op == Opcode::Alu; }

bool usesImmB(AluOp op) { return uint8_t(op) <= uint8_t(AluOp::Shr); }
bool isRescale(AluOp op) {
  return op == AluOp::Rescale || op == AluOp::RescaleAdd;
}
} // namespace

bool Instruction::operator==(const Instruction &o) const {
  return encode(*this) == encode(o);
}

Instruction Instruction::load(Buffer buffer, DType dtype, uint32_t sramBase,
                              uint32_t dramBase, uint16_t ySize,
                              uint16_t xSize, uint32_t yStride,
                              uint32_t xStride, uint16_t lanes) {
  Instruction i;
  i.opcode = Opcode::Load;
  i.buffer = buffer;
  i.dtype = dtype;
  i.sramBase = sramBase;
  i.dramBase = dramBase;
  i.ySize = ySize;
  i.xSize = xSize;
  i.yStride = yStride;
  i.xStride = xStride;
  i.lanes = lanes;
  return i;
}

Instruction Instruction::store(DType dtype, uint32_t sramBase,
                               uint32_t dramBase, uint16_t ySize,
                               uint16_t xSize, uint32_t yStride,
                               uint32_t xStride, uint16_t lanes) {
  Instruction i = load(Buffer::Acc, dtype, sramBase, dramBase, ySize, xSize,
                       yStride, xStride, lanes);
  i.opcode = Opcode::Store;
  return i;
}

Instruction Instruction::gemm(bool reset, uint16_t uopBegin, uint16_t uopEnd,
                              uint16_t extent0, uint16_t extent1) {
  Instruction i;
  i.opcode = Opcode::Gemm;
  i.flags = reset ? GemmReset : 0;
  i.uopBegin = uopBegin;
  i.uopEnd = uopEnd;
  i.extent0 = extent0;
  i.extent1 = extent1;
  return i;
}

Instruction Instruction::alu(AluOp op, uint16_t uopBegin, uint16_t uopEnd,
                             uint16_t extent0, uint16_t extent1) {
  Instruction i = gemm(false, uopBegin, uopEnd, extent0, extent1);
  i.opcode = Opcode::Alu;
  i.aluOp = op;
  return i;
}

Instruction Instruction::finish() { return Instruction(); }

Module mlir::qat::npu::getModule(const Instruction &insn) {
  switch (insn.opcode) {
  case Opcode::Load:
    return (insn.buffer == Buffer::Inp || insn.buffer == Buffer::Wgt)
               ? Module::Load
               : Module::Compute;
  case Opcode::Store:
    return Module::Store;
  default:
    return Module::Compute;
  }
}

const char *mlir::qat::npu::getModuleName(Module m) {
  switch (m) {
  case Module::Load:
    return "load";
  case Module::Compute:
    return "compute";
  case Module::Store:
    return "store";
  }
  return "?";
}

const char *mlir::qat::npu::getOpcodeName(Opcode op) {
  switch (op) {
  case Opcode::Load:
    return "LOAD";
  case Opcode::Store:
    return "STORE";
  case Opcode::Gemm:
    return "GEMM";
  case Opcode::Alu:
    return "ALU";
  case Opcode::Finish:
    return "FINISH";
  }
  return "?";
}

const char *mlir::qat::npu::getBufferName(Buffer b) {
  switch (b) {
  case Buffer::Inp:
    return "INP";
  case Buffer::Wgt:
    return "WGT";
  case Buffer::Acc:
    return "ACC";
  case Buffer::Uop:
    return "UOP";
  }
  return "?";
}

const char *mlir::qat::npu::getDTypeName(DType d) {
  return d == DType::I8 ? "i8" : d == DType::I32 ? "i32" : "?";
}

const char *mlir::qat::npu::getAluOpName(AluOp op) {
  static const char *names[] = {"MOV", "ADD", "SUB",   "MUL", "MIN",     "MAX",
                                "SHR", "CLAMP", "MAC", "RESCALE", "RESCALE_ADD"};
  unsigned i = unsigned(op);
  return i < sizeof(names) / sizeof(names[0]) ? names[i] : "?";
}

uint32_t mlir::qat::npu::getEntryElements(const Config &c, Buffer b) {
  switch (b) {
  case Buffer::Inp:
    return c.blockIn;
  case Buffer::Wgt:
    return c.blockIn * c.blockOut;
  case Buffer::Acc:
    return c.blockOut;
  case Buffer::Uop:
    return 1;
  }
  return 0;
}

uint32_t mlir::qat::npu::getEntriesPerStep(const Config &c,
                                           const Instruction &i) {
  uint32_t e = getEntryElements(c, i.buffer);
  uint32_t l = i.lanes ? i.lanes : e;
  return (l + e - 1) / e;
}

uint32_t mlir::qat::npu::getBufferDepth(const Config &c, Buffer b) {
  switch (b) {
  case Buffer::Inp:
    return c.inpDepth;
  case Buffer::Wgt:
    return c.wgtDepth;
  case Buffer::Acc:
    return c.accDepth;
  case Buffer::Uop:
    return c.uopDepth;
  }
  return 0;
}

std::array<uint8_t, kInstructionBytes>
mlir::qat::npu::encode(const Instruction &i) {
  std::array<uint8_t, kInstructionBytes> b{};
  uint8_t *p = b.data();
  put8(p, 0, uint8_t(i.opcode));
  put8(p, 1, i.deps);
  put16(p, 2, i.layer);
  if (isMemory(i.opcode)) {
    put8(p, 4, uint8_t(i.buffer));
    put8(p, 5, uint8_t(i.dtype));
    put8(p, 6, i.yPad0);
    put8(p, 7, i.yPad1);
    put8(p, 8, i.xPad0);
    put8(p, 9, i.xPad1);
    put16(p, 10, i.lanes);
    put32(p, 12, i.sramBase);
    put32(p, 16, i.dramBase);
    put16(p, 20, i.ySize);
    put16(p, 22, i.xSize);
    put32(p, 24, i.yStride);
    put32(p, 28, i.xStride);
    put32(p, 32, uint32_t(i.padValue));
  } else if (isLoop(i.opcode)) {
    put8(p, 4, i.opcode == Opcode::Alu ? uint8_t(i.aluOp) : 0);
    put8(p, 5, i.flags);
    put16(p, 6, i.uopBegin);
    put16(p, 8, i.uopEnd);
    put16(p, 10, i.extent0);
    put16(p, 12, i.extent1);
    put32(p, 16, i.dstBase);
    put32(p, 20, i.srcBase);
    put32(p, 24, i.wgtBase);
    put32(p, 28, uint32_t(i.dstFactor0));
    put32(p, 32, uint32_t(i.dstFactor1));
    put32(p, 36, uint32_t(i.srcFactor0));
    put32(p, 40, uint32_t(i.srcFactor1));
    put32(p, 44, uint32_t(i.wgtFactor0));
    put32(p, 48, uint32_t(i.wgtFactor1));
    put32(p, 52, uint32_t(i.imm0));
    put32(p, 56, uint32_t(i.imm1));
    put32(p, 60, uint32_t(i.imm2));
  }
  return b;
}

std::string mlir::qat::npu::decode(const uint8_t *b, Instruction &out) {
  Instruction i;
  uint8_t op = b[0];
  if (op > uint8_t(Opcode::Finish))
    return "unknown opcode " + std::to_string(op);
  i.opcode = Opcode(op);
  i.deps = b[1];
  if (i.deps & 0xF0)
    return std::string(getOpcodeName(i.opcode)) + ": unknown dependency bits 0x" +
           [&] {
             char s[8];
             std::snprintf(s, sizeof(s), "%02x", unsigned(i.deps & 0xF0));
             return std::string(s);
           }();
  i.layer = get16(b, 2);
  unsigned firstZero = 4;
  if (isMemory(i.opcode)) {
    if (b[4] > uint8_t(Buffer::Uop))
      return std::string(getOpcodeName(i.opcode)) + ": unknown buffer " +
             std::to_string(b[4]);
    if (b[5] > uint8_t(DType::I32))
      return std::string(getOpcodeName(i.opcode)) + ": unknown dtype " +
             std::to_string(b[5]);
    i.buffer = Buffer(b[4]);
    i.dtype = DType(b[5]);
    i.yPad0 = b[6];
    i.yPad1 = b[7];
    i.xPad0 = b[8];
    i.xPad1 = b[9];
    i.lanes = get16(b, 10);
    i.sramBase = get32(b, 12);
    i.dramBase = get32(b, 16);
    i.ySize = get16(b, 20);
    i.xSize = get16(b, 22);
    i.yStride = get32(b, 24);
    i.xStride = get32(b, 28);
    i.padValue = int32_t(get32(b, 32));
    firstZero = 36;
  } else if (isLoop(i.opcode)) {
    if (i.opcode == Opcode::Alu) {
      if (b[4] > uint8_t(AluOp::RescaleAdd))
        return "ALU: unknown alu_op " + std::to_string(b[4]);
      i.aluOp = AluOp(b[4]);
    } else if (b[4] != 0) {
      return "GEMM: nonzero byte 4 (alu_op)";
    }
    i.flags = b[5];
    i.uopBegin = get16(b, 6);
    i.uopEnd = get16(b, 8);
    i.extent0 = get16(b, 10);
    i.extent1 = get16(b, 12);
    if (b[14] || b[15])
      return std::string(getOpcodeName(i.opcode)) + ": nonzero reserved byte " +
             std::to_string(b[14] ? 14 : 15);
    i.dstBase = get32(b, 16);
    i.srcBase = get32(b, 20);
    i.wgtBase = get32(b, 24);
    i.dstFactor0 = int32_t(get32(b, 28));
    i.dstFactor1 = int32_t(get32(b, 32));
    i.srcFactor0 = int32_t(get32(b, 36));
    i.srcFactor1 = int32_t(get32(b, 40));
    i.wgtFactor0 = int32_t(get32(b, 44));
    i.wgtFactor1 = int32_t(get32(b, 48));
    i.imm0 = int32_t(get32(b, 52));
    i.imm1 = int32_t(get32(b, 56));
    i.imm2 = int32_t(get32(b, 60));
    firstZero = 64;
  }
  for (unsigned k = firstZero; k < kInstructionBytes; ++k)
    if (b[k])
      return std::string(getOpcodeName(i.opcode)) + ": nonzero unused byte " +
             std::to_string(k);
  out = i;
  return "";
}

std::string mlir::qat::npu::verify(const Instruction &i, const Config &c) {
  std::string name = getOpcodeName(i.opcode);
  if (i.opcode == Opcode::Alu)
    name += std::string(" ") + getAluOpName(i.aluOp);
  auto fail = [&](const std::string &what) { return name + ": " + what; };
  Module m = getModule(i);
  if (m == Module::Load && (i.deps & (PopPrev | PushPrev)))
    return fail("the load module has no previous module (pop_prev/push_prev "
                "set)");
  if (m == Module::Store && (i.deps & (PopNext | PushNext)))
    return fail("the store module has no next module (pop_next/push_next "
                "set)");
  if (i.opcode == Opcode::Finish && (i.deps & (PushPrev | PushNext)))
    return fail("FINISH may not push tokens");

  if (isMemory(i.opcode)) {
    bool isLoad = i.opcode == Opcode::Load;
    if (!isLoad && i.buffer != Buffer::Acc)
      return fail(std::string("STORE reads ACC only, got buffer ") +
                  getBufferName(i.buffer));
    if (i.dtype == DType::I32 && i.buffer != Buffer::Acc)
      return fail(std::string("dtype i32 is only for ACC, got buffer ") +
                  getBufferName(i.buffer));
    if (i.buffer == Buffer::Uop && i.lanes > 1)
      return fail("lanes " + std::to_string(i.lanes) +
                  " > 1 micro-op per step (UOP)");
    bool padded = i.yPad0 || i.yPad1 || i.xPad0 || i.xPad1;
    if (!isLoad && (padded || i.padValue))
      return fail("STORE has no padding (pads and pad_value must be 0)");
    if (i.buffer == Buffer::Uop && (padded || i.padValue))
      return fail("LOAD into UOP has no padding");
    if ((i.buffer == Buffer::Inp || i.buffer == Buffer::Wgt) &&
        (i.padValue < -128 || i.padValue > 127))
      return fail("pad_value " + std::to_string(i.padValue) +
                  " is not an int8 (INP/WGT)");
    uint64_t rows = uint64_t(i.yPad0) + i.ySize + i.yPad1;
    uint64_t cols = uint64_t(i.xPad0) + i.xSize + i.xPad1;
    uint64_t depth = getBufferDepth(c, i.buffer);
    uint64_t entries = rows * cols * getEntriesPerStep(c, i);
    if (uint64_t(i.sramBase) + entries > depth)
      return fail(std::string(getBufferName(i.buffer)) + " entries [" +
                  std::to_string(i.sramBase) + ", " +
                  std::to_string(uint64_t(i.sramBase) + entries) +
                  ") out of bounds (depth " + std::to_string(depth) + ")");
  } else if (isLoop(i.opcode)) {
    if (i.uopBegin > i.uopEnd || i.uopEnd > c.uopDepth)
      return fail("micro-op range [" + std::to_string(i.uopBegin) + ", " +
                  std::to_string(i.uopEnd) + ") not within [0, " +
                  std::to_string(c.uopDepth) + "]");
    if (i.opcode == Opcode::Gemm) {
      if (i.flags & ~uint8_t(GemmReset))
        return fail("unknown flags " + std::to_string(i.flags) +
                    " (GEMM allows reset = 1)");
      if (i.imm0 || i.imm1 || i.imm2)
        return fail("immediates must be 0");
    } else {
      if (i.flags & ~uint8_t(AluUseImm))
        return fail("unknown flags " + std::to_string(i.flags) +
                    " (ALU allows use_imm = 2)");
      bool useImm = i.flags & AluUseImm;
      if (useImm && !usesImmB(i.aluOp))
        return fail("use_imm is only allowed with MOV..SHR");
      if (i.aluOp == AluOp::Shr && useImm && (i.imm0 < 0 || i.imm0 > 31))
        return fail("shift " + std::to_string(i.imm0) + " outside [0, 31]");
      bool usesImm0 = (usesImmB(i.aluOp) && useImm) || isRescale(i.aluOp);
      bool usesImm12 = i.aluOp == AluOp::Clamp || isRescale(i.aluOp);
      if (!usesImm0 && i.imm0)
        return fail("imm0 must be 0 (unused)");
      if (!usesImm12 && (i.imm1 || i.imm2))
        return fail("imm1/imm2 must be 0 (unused)");
      if (usesImm12 && i.imm1 > i.imm2)
        return fail("clamp bounds imm1 = " + std::to_string(i.imm1) +
                    " > imm2 = " + std::to_string(i.imm2));
    }
  }
  return "";
}

void mlir::qat::npu::encodeMicroOp(const MicroOp &u, uint8_t *b) {
  put32(b, 0, u.dst);
  put32(b, 4, u.src);
  put32(b, 8, u.wgt);
}

MicroOp mlir::qat::npu::decodeMicroOp(const uint8_t *b) {
  return MicroOp{get32(b, 0), get32(b, 4), get32(b, 8)};
}

std::string mlir::qat::npu::formatInstruction(const Instruction &i) {
  std::string s = getOpcodeName(i.opcode);
  auto add = [&](const std::string &t) { s += " " + t; };
  auto n = [](int64_t v) { return std::to_string(v); };
  auto hex = [](uint32_t v) {
    char b[16];
    std::snprintf(b, sizeof(b), "0x%x", v);
    return std::string(b);
  };
  switch (i.opcode) {
  case Opcode::Load:
  case Opcode::Store: {
    std::string sram = std::string(getBufferName(i.buffer)) + "[" +
                       n(i.sramBase) + "]";
    std::string dram = "dram[" + hex(i.dramBase) + "]";
    if (i.opcode == Opcode::Load)
      add(sram + " <- " + dram);
    else
      add(dram + " <- " + sram);
    add(getDTypeName(i.dtype));
    add("y=" + n(i.ySize) + "x" + n(i.yStride) + " x=" + n(i.xSize) + "x" +
        n(i.xStride));
    add("lanes=" + (i.lanes ? n(i.lanes) : std::string("all")));
    if (i.yPad0 || i.yPad1 || i.xPad0 || i.xPad1 || i.padValue)
      add("pad(y=" + n(i.yPad0) + "," + n(i.yPad1) + " x=" + n(i.xPad0) + "," +
          n(i.xPad1) + ")=" + n(i.padValue));
    break;
  }
  case Opcode::Gemm:
  case Opcode::Alu: {
    if (i.opcode == Opcode::Alu)
      add(getAluOpName(i.aluOp));
    if (i.flags & GemmReset)
      add("reset");
    add("uop[" + n(i.uopBegin) + "," + n(i.uopEnd) + ")");
    add("loop=" + n(i.extent0) + "x" + n(i.extent1));
    const char *names[3] = {"acc", "inp", "wgt"};
    if (i.opcode == Opcode::Alu) {
      names[0] = "d";
      names[1] = "s";
      names[2] = "p";
    }
    add(std::string(names[0]) + "=" + n(i.dstBase) + "+(" + n(i.dstFactor0) +
        "," + n(i.dstFactor1) + ")");
    add(std::string(names[1]) + "=" + n(i.srcBase) + "+(" + n(i.srcFactor0) +
        "," + n(i.srcFactor1) + ")");
    add(std::string(names[2]) + "=" + n(i.wgtBase) + "+(" + n(i.wgtFactor0) +
        "," + n(i.wgtFactor1) + ")");
    if (i.flags & AluUseImm)
      add("imm=" + n(i.imm0));
    else if (i.opcode == Opcode::Alu && (i.aluOp == AluOp::Rescale ||
                                         i.aluOp == AluOp::RescaleAdd))
      add("zp=" + n(i.imm0));
    if (i.opcode == Opcode::Alu &&
        (i.aluOp == AluOp::Clamp || isRescale(i.aluOp)))
      add("clamp=[" + n(i.imm1) + "," + n(i.imm2) + "]");
    break;
  }
  case Opcode::Finish:
    break;
  }
  if (i.deps) {
    std::string d;
    if (i.deps & PopPrev)
      d += " pop_prev";
    if (i.deps & PopNext)
      d += " pop_next";
    if (i.deps & PushPrev)
      d += " push_prev";
    if (i.deps & PushNext)
      d += " push_next";
    add("deps{" + d.substr(1) + "}");
  }
  return s;
}
