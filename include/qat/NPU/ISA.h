//===- ISA.h - instruction set of the NPU and its encoding -------*- C++ -*-===//
//
// The instructions of the NPU (docs/NPU.md, "Instruction set"): LOAD, STORE,
// GEMM, ALU, FINISH, each encoded in 64 little-endian bytes, and the 12-byte
// micro-op. One flat `Instruction` struct carries the fields of every opcode;
// each opcode encodes only its own (docs/NPU.md gives the byte layout), the
// others must stay zero.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_NPU_ISA_H
#define QAT_NPU_ISA_H

#include "qat/NPU/Config.h"

#include <array>
#include <cstdint>
#include <string>

namespace mlir::qat::npu {

constexpr uint32_t kInstructionBytes = 64;
constexpr uint32_t kMicroOpBytes = 12;
/// `Instruction::layer` of an instruction that belongs to no layer.
constexpr uint16_t kNoLayer = 0xFFFF;

enum class Opcode : uint8_t {
  Load = 0,
  Store = 1,
  Gemm = 2,
  Alu = 3,
  Finish = 4,
};

/// On-chip buffers.
enum class Buffer : uint8_t {
  Inp = 0, ///< int8, entries of blockIn
  Wgt = 1, ///< int8, entries of blockOut x blockIn (row = output lane)
  Acc = 2, ///< int32, entries of blockOut
  Uop = 3, ///< micro-ops
};

/// Element type of a tensor in DRAM (LOAD into ACC, STORE from ACC).
enum class DType : uint8_t {
  I8 = 0,  ///< LOAD: sign-extended; STORE: saturated to [-128, 127]
  I32 = 1, ///< two's complement, little-endian
};

enum class AluOp : uint8_t {
  Mov = 0,        ///< d = b
  Add = 1,        ///< d = d + b (wraps)
  Sub = 2,        ///< d = d - b (wraps)
  Mul = 3,        ///< d = low 32 bits of d * b
  Min = 4,        ///< d = min(d, b)
  Max = 5,        ///< d = max(d, b)
  Shr = 6,        ///< d = (d + 2^(b-1)) >> b in 64 bits, 0 <= b <= 31 (b=0: d)
  Clamp = 7,      ///< d = min(max(d, imm1), imm2)
  Mac = 8,        ///< d = d + s * p (wraps)
  Rescale = 9,    ///< d = clamp(((s*M + 2^(n-1)) >> n) + imm0, imm1, imm2)
  RescaleAdd = 10 ///< d = clamp(((d*Ma + s*Mb + 2^(n-1)) >> n) + imm0, imm1, imm2)
};

/// The three modules that run concurrently. Queues connect neighbours:
/// Load <-> Compute <-> Store. "prev" of Compute is Load, "next" is Store.
enum class Module : uint8_t { Load = 0, Compute = 1, Store = 2 };

/// Dependency flags (`Instruction::deps`): before executing, pop one token
/// from the queue from the previous/next module (waiting for it); after
/// executing, push one token to the previous/next module.
enum DepFlag : uint8_t {
  PopPrev = 1,
  PopNext = 2,
  PushPrev = 4,
  PushNext = 8,
};

/// GEMM/ALU flags (`Instruction::flags`).
enum InsnFlag : uint8_t {
  /// GEMM: write 0 to the ACC rows instead of accumulating (INP/WGT unread).
  GemmReset = 1,
  /// ALU: the operand b is imm0 instead of ACC[src].
  AluUseImm = 2,
};

struct Instruction {
  Opcode opcode = Opcode::Finish;
  uint8_t deps = 0;         ///< DepFlag bits
  uint16_t layer = kNoLayer; ///< index into the program's layer table

  // --- LOAD / STORE ---------------------------------------------------------
  Buffer buffer = Buffer::Inp; ///< LOAD: destination; STORE: must be Acc
  DType dtype = DType::I8;     ///< element type in DRAM (ACC only; else I8)
  uint8_t yPad0 = 0, yPad1 = 0, xPad0 = 0, xPad1 = 0; ///< LOAD only
  /// Elements moved per (y, x) step, contiguous in DRAM; 0 = one whole
  /// entry. They fill ceil(lanes / entry elements) consecutive entries; the
  /// lanes past `lanes` in the last one get pad_value (LOAD) or are not
  /// stored (STORE).
  uint16_t lanes = 0;
  uint32_t sramBase = 0; ///< first entry in the buffer
  uint32_t dramBase = 0; ///< byte address of entry (0, 0) in DRAM
  uint16_t ySize = 0, xSize = 0; ///< rows and entries per row from DRAM
  uint32_t yStride = 0, xStride = 0; ///< bytes between rows / entries
  int32_t padValue = 0; ///< LOAD: every element not read from DRAM

  // --- GEMM / ALU -------------------------------------------------------------
  AluOp aluOp = AluOp::Mov; ///< ALU only
  uint8_t flags = 0;        ///< InsnFlag bits
  uint16_t uopBegin = 0, uopEnd = 0; ///< micro-ops [uopBegin, uopEnd)
  uint16_t extent0 = 0, extent1 = 0; ///< outer and inner loop trip counts
  /// GEMM: ACC, INP, WGT bases. ALU: ACC bases of d, s and the parameter p.
  uint32_t dstBase = 0, srcBase = 0, wgtBase = 0;
  int32_t dstFactor0 = 0, dstFactor1 = 0;
  int32_t srcFactor0 = 0, srcFactor1 = 0;
  int32_t wgtFactor0 = 0, wgtFactor1 = 0;
  int32_t imm0 = 0, imm1 = 0, imm2 = 0; ///< ALU only

  bool operator==(const Instruction &other) const;
  bool operator!=(const Instruction &other) const { return !(*this == other); }

  // Builders that set the opcode-specific fields (all others stay zero).
  static Instruction load(Buffer buffer, DType dtype, uint32_t sramBase,
                          uint32_t dramBase, uint16_t ySize, uint16_t xSize,
                          uint32_t yStride, uint32_t xStride,
                          uint16_t lanes = 0);
  static Instruction store(DType dtype, uint32_t sramBase, uint32_t dramBase,
                           uint16_t ySize, uint16_t xSize, uint32_t yStride,
                           uint32_t xStride, uint16_t lanes = 0);
  static Instruction gemm(bool reset, uint16_t uopBegin, uint16_t uopEnd,
                          uint16_t extent0, uint16_t extent1);
  static Instruction alu(AluOp op, uint16_t uopBegin, uint16_t uopEnd,
                         uint16_t extent0, uint16_t extent1);
  static Instruction finish();
};

/// A micro-op: the indices of one GEMM block product (ACC, INP, WGT) or of
/// one ALU row operation (d, s, p, all ACC), before bases and loop factors.
struct MicroOp {
  uint32_t dst = 0, src = 0, wgt = 0;
  bool operator==(const MicroOp &o) const {
    return dst == o.dst && src == o.src && wgt == o.wgt;
  }
};

/// The module that executes an instruction: LOAD into INP/WGT -> Load;
/// LOAD into ACC/UOP, GEMM, ALU, FINISH -> Compute; STORE -> Store.
Module getModule(const Instruction &insn);
const char *getModuleName(Module module);
const char *getOpcodeName(Opcode opcode);
const char *getBufferName(Buffer buffer);
const char *getDTypeName(DType dtype);
const char *getAluOpName(AluOp op);

/// Elements in one entry of `buffer` (INP: blockIn, WGT: blockIn*blockOut,
/// ACC: blockOut, UOP: 1).
uint32_t getEntryElements(const Config &config, Buffer buffer);
uint32_t getBufferDepth(const Config &config, Buffer buffer);
/// Entries one (y, x) step of a LOAD/STORE fills or reads:
/// ceil(L / entry elements) with L = lanes ? lanes : entry elements.
uint32_t getEntriesPerStep(const Config &config, const Instruction &insn);

/// 64 bytes, layout in docs/NPU.md.
std::array<uint8_t, kInstructionBytes> encode(const Instruction &insn);
/// Decodes 64 bytes. Returns "" or an error naming the field: unknown
/// opcode, buffer, dtype or ALU op, or a nonzero byte that the opcode does
/// not use.
std::string decode(const uint8_t *bytes, Instruction &insn);

/// Checks the fields of one instruction that need no execution (against the
/// architectural config): dependency flags the module can use, buffer/dtype
/// combinations, lanes, padding, micro-op range within uopDepth, flags and
/// immediates the opcode allows, DRAM/SRAM ranges of LOAD/STORE. Returns ""
/// or the first violation. The simulator checks micro-op-dependent indices
/// when it runs.
std::string verify(const Instruction &insn, const Config &config);

void encodeMicroOp(const MicroOp &uop, uint8_t *bytes);
MicroOp decodeMicroOp(const uint8_t *bytes);

/// One line of assembly, e.g.
/// `LOAD INP[0] <- dram[0x400] y=3x48 x=3x16 lanes=16 pad(y=1,1 x=1,1)=0`.
std::string formatInstruction(const Instruction &insn);

} // namespace mlir::qat::npu

#endif // QAT_NPU_ISA_H
