//===- Config.h - parameters of one NPU of the family -----------*- C++ -*-===//
//
// The parameters of a BPU-style int8 NPU (docs/NPU.md): GEMM block shape,
// on-chip buffer depths (architectural: a program is encoded against them and
// runs only on a machine with the same values) and the timing model's
// latencies and throughputs (not architectural: any timing runs any program).
// Read from a key=value file or a flat JSON object of integers.
//
// This library (QATNPU) depends on the C++ standard library only.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_NPU_CONFIG_H
#define QAT_NPU_CONFIG_H

#include <cstdint>
#include <string>

namespace mlir::qat::npu {

/// Resource limits of a configuration (docs/NPU.md section 1): depths of
/// INP, WGT and ACC in entries, and the bytes of each of these buffers.
constexpr uint32_t kMaxBufferDepth = 1u << 20;
constexpr uint64_t kMaxBufferBytes = uint64_t(16) << 20;

struct Config {
  // --- Architectural (recorded in a binary, must match to run it) --------
  /// GEMM block: a 1 x blockIn int8 input vector times a blockIn x blockOut
  /// int8 weight block into blockOut int32 accumulators, per cycle.
  uint32_t blockIn = 16;
  uint32_t blockOut = 16;
  /// Buffer depths in entries. INP entry: blockIn int8. WGT entry: one
  /// blockOut x blockIn int8 block. ACC entry: blockOut int32. UOP entry: one
  /// micro-op.
  uint32_t inpDepth = 2048;
  uint32_t wgtDepth = 512;
  uint32_t accDepth = 2048;
  uint32_t uopDepth = 8192;

  // --- Timing (cycles; not architectural) ----------------------------------
  /// Fixed cost of every instruction in its module (decode, issue).
  uint32_t issueCycles = 1;
  /// DMA: first-byte latency of each LOAD/STORE, then bytes per cycle.
  uint32_t dramLatency = 32;
  uint32_t dramBytesPerCycle = 16;
  /// GEMM: cycles per (loop iteration x micro-op), and pipeline fill once per
  /// GEMM instruction.
  uint32_t gemmCyclesPerOp = 1;
  uint32_t gemmPipeline = 4;
  /// ALU: cycles per row operation; RESCALE / RESCALE_ADD (64-bit products).
  uint32_t aluCyclesPerOp = 1;
  uint32_t aluRescaleCyclesPerOp = 2;

  /// Byte sizes of one entry of each buffer.
  uint32_t inpEntryBytes() const { return blockIn; }
  uint32_t wgtEntryBytes() const { return blockIn * blockOut; }
  uint32_t accEntryBytes() const { return 4 * blockOut; }

  /// Empty when the values are usable; otherwise names the key and the rule
  /// (1 <= blockIn, blockOut <= 64; depths >= 1, uopDepth <= 65535, other
  /// depths <= kMaxBufferDepth and each buffer at most kMaxBufferBytes;
  /// dramBytesPerCycle >= 1).
  std::string validate() const;

  /// Same architectural parameters (block shape and buffer depths).
  bool sameArchitecture(const Config &other) const;
  /// "key=value" lines of every parameter, in the order of the fields.
  std::string toKeyValue() const;
  /// One line naming the architectural parameters that differ, or "".
  std::string describeArchitectureMismatch(const Config &other) const;
};

/// Parses `text` into `config`, starting from its current values. Accepted
/// forms: lines `key = value` (`#` starts a comment), or one flat JSON object
/// `{"key": value, ...}` of non-negative integers. Keys are the snake_case
/// field names (block_in, block_out, inp_depth, wgt_depth, acc_depth,
/// uop_depth, issue_cycles, dram_latency, dram_bytes_per_cycle,
/// gemm_cycles_per_op, gemm_pipeline, alu_cycles_per_op,
/// alu_rescale_cycles_per_op). Returns "" or an error naming the line/key.
std::string parseConfig(const std::string &text, Config &config);
/// Reads and parses a file (errors name the file).
std::string loadConfigFile(const std::string &path, Config &config);

} // namespace mlir::qat::npu

#endif // QAT_NPU_CONFIG_H
