//===- Binary.h - NPU program container: write, read, disassemble -*- C++ -*-===//
//
// An NPU program file ("QNPU", docs/NPU.md "Binary format"): a header with
// the architectural config and the DRAM size, then sections: instructions,
// micro-ops (preloaded into the UOP buffer), constant data (copied to DRAM
// address 0), input/output tensor descriptors, layer descriptors, strings.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_NPU_BINARY_H
#define QAT_NPU_BINARY_H

#include "qat/NPU/Config.h"
#include "qat/NPU/ISA.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qat::npu {

constexpr uint32_t kBinaryVersion = 1;
constexpr uint32_t kMaxTensorRank = 6;
/// Largest DRAM a program may ask for (1 GiB).
constexpr uint64_t kMaxDramBytes = uint64_t(1) << 30;

/// A graph input or output: a dense row-major array at `dramAddr`.
struct TensorDesc {
  std::string name;
  bool isOutput = false;
  DType dtype = DType::I8;
  std::vector<uint32_t> shape; ///< rank 0..kMaxTensorRank
  uint32_t dramAddr = 0;
  /// Information only (the simulator moves codes): real = scale*(q - zp).
  float scale = 1.0f;
  int32_t zeroPoint = 0;

  uint64_t getNumElements() const;
  uint64_t getByteSize() const;
};

/// What the per-layer report prints for instructions with this layer id.
struct LayerDesc {
  std::string name; ///< e.g. "conv2d_0 (tosa.conv2d 1x28x28x1 -> 1x28x28x16)"
  /// Multiply-accumulates the layer needs (its own arithmetic, not the
  /// padded blocks): the report's MAC utilization is macs / (cycles *
  /// blockIn * blockOut). 0 = unknown.
  uint64_t macs = 0;
};

struct Program {
  Config config; ///< architectural part must match the machine
  /// Bytes of DRAM the program uses (data at 0, tensors, scratch).
  uint32_t dramSize = 0;
  std::vector<Instruction> instructions;
  /// Copied to UOP[0 .. size) before the first instruction.
  std::vector<MicroOp> microOps;
  /// Copied to DRAM[0 .. size) before the first instruction.
  std::vector<uint8_t> data;
  std::vector<TensorDesc> tensors; ///< inputs and outputs, in order
  std::vector<LayerDesc> layers;   ///< indexed by Instruction::layer

  /// Static checks (what reading also checks): every instruction's
  /// verify(), data and tensors within dramSize, micro-ops fit the UOP
  /// buffer, layer ids in range, exactly one FINISH, at the end. Returns ""
  /// or the first violation, naming the instruction index.
  std::string verify() const;
};

/// Serializes (no checks: write what you verified).
std::vector<uint8_t> writeProgram(const Program &program);
/// Returns "" or an error naming the file.
std::string writeProgramFile(const Program &program, const std::string &path);

/// Parses and verifies. Errors name what is wrong: bad magic, unsupported
/// version, truncated header or section, section out of the file, bad
/// encoding (instruction index and field), inconsistent counts, and every
/// Program::verify() violation.
std::string readProgram(const uint8_t *bytes, size_t size, Program &program);
std::string readProgramFile(const std::string &path, Program &program);

/// Text for debugging: header, config, tensors, layers, micro-ops, one line
/// per instruction (index, module, layer, deps, fields), data size.
std::string disassemble(const Program &program);

} // namespace mlir::qat::npu

#endif // QAT_NPU_BINARY_H
