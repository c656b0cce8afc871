//===- NPUTestUtil.h - helpers for the NPU unit tests ----------*- C++ -*-===//
#ifndef QAT_UNITTESTS_NPU_NPUTESTUTIL_H
#define QAT_UNITTESTS_NPU_NPUTESTUTIL_H

#include "qat/NPU/Binary.h"
#include "qat/NPU/Simulator.h"

#include <cstring>
#include <random>

namespace npu = mlir::qat::npu;

/// A small machine so that bounds are easy to reach.
inline npu::Config smallConfig() {
  npu::Config c;
  c.blockIn = 4;
  c.blockOut = 4;
  c.inpDepth = 64;
  c.wgtDepth = 32;
  c.accDepth = 64;
  c.uopDepth = 64;
  return c;
}

/// Appends bytes to the data segment at a 16-byte aligned address.
inline uint32_t addData(npu::Program &p, const void *bytes, size_t n) {
  while (p.data.size() % 16)
    p.data.push_back(0);
  uint32_t at = uint32_t(p.data.size());
  const uint8_t *b = static_cast<const uint8_t *>(bytes);
  p.data.insert(p.data.end(), b, b + n);
  return at;
}

inline void putI32(std::vector<uint8_t> &v, int32_t x) {
  for (int k = 0; k < 4; ++k)
    v.push_back(uint8_t(uint32_t(x) >> (8 * k)));
}

inline npu::Instruction withDeps(npu::Instruction i, uint8_t deps) {
  i.deps = deps;
  return i;
}

/// A valid program on smallConfig(): x (8 int8) -> ACC (i8 load), doubled
/// by ALU ADD, stored saturated as y (8 int8). Load and store synchronised
/// with compute by tokens; FINISH waits for the store.
inline npu::Program tinyProgram() {
  using namespace npu;
  Program p;
  p.config = smallConfig();
  p.dramSize = 64;
  p.tensors.push_back({"x", false, DType::I8, {2, 4}, 16, 0.5f, 0});
  p.tensors.push_back({"y", true, DType::I8, {2, 4}, 32, 0.5f, 0});
  p.layers.push_back({"double", 8});
  std::vector<uint8_t> consts(16, 0);
  p.data = consts;
  p.microOps.push_back({0, 0, 0});
  Instruction ld = Instruction::load(Buffer::Acc, DType::I8, 0, 16, 1, 2, 0, 4);
  p.instructions.push_back(ld);
  Instruction add = Instruction::alu(AluOp::Add, 0, 1, 2, 1);
  add.dstFactor0 = add.srcFactor0 = 1;
  add.deps = PushNext;
  p.instructions.push_back(add);
  Instruction st = Instruction::store(DType::I8, 0, 32, 1, 2, 0, 4);
  st.deps = PopPrev | PushPrev;
  p.instructions.push_back(st);
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  for (size_t k = 0; k + 1 < p.instructions.size(); ++k)
    p.instructions[k].layer = 0;
  return p;
}

/// Runs `p` with zero inputs; returns the error ("" when it ran).
inline std::string runProgram(const npu::Program &p,
                              uint64_t maxCycles = 0) {
  npu::SimOptions o;
  o.config = p.config;
  o.maxCycles = maxCycles;
  std::vector<std::vector<uint8_t>> ins, outs;
  for (const npu::TensorDesc &t : p.tensors)
    if (!t.isOutput)
      ins.emplace_back(t.getByteSize(), 0);
  npu::SimReport r;
  return npu::simulate(p, o, ins, outs, r);
}

#endif
