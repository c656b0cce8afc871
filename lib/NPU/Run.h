//===- Run.h - the state of one NPU simulation ------------------*- C++ -*-===//
//
// Private to lib/NPU: the class Run, one simulation of a program, whose
// event loop and race checks are in Simulator.cpp and whose instruction
// semantics (load, store, gemm, alu) are in Instructions.cpp; the shadow
// state of the race check, the token queues and wrapping arithmetic.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_NPU_RUN_H
#define QAT_LIB_NPU_RUN_H

#include "qat/NPU/Simulator.h"

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mlir::qat::npu::sim {

constexpr int kNumModules = 3;
using VClock = std::array<uint32_t, kNumModules>;

/// Last writer and last reader per module of one location; sequence numbers
/// are 1-based per module, 0 = none.
struct Shadow {
  uint32_t writeSeq = 0;
  uint8_t writeModule = 0;
  std::array<uint32_t, kNumModules> readSeq{};
};

/// The shadow state of DRAM, allocated in pages on first access: a program
/// may declare 1 GiB of DRAM and touch a few kilobytes of it, and the
/// memory and time of the race check follow what it touches.
class PagedShadow {
public:
  void reset(uint64_t size) {
    pages.clear();
    pages.resize((size + kPageEntries - 1) / kPageEntries);
  }
  Shadow &operator[](uint64_t index) {
    std::unique_ptr<Shadow[]> &page = pages[index / kPageEntries];
    if (!page)
      page.reset(new Shadow[kPageEntries]());
    return page[index % kPageEntries];
  }

private:
  static constexpr uint64_t kPageEntries = 4096;
  std::vector<std::unique_ptr<Shadow[]>> pages;
};

struct Token {
  uint64_t time;
  VClock clock;
};

/// Queues: 0 load->compute, 1 compute->load, 2 compute->store,
/// 3 store->compute.
inline const char *kQueueNames[4] = {"load->compute", "compute->load",
                                     "compute->store", "store->compute"};

/// The queue an instruction of module `m` pops with `flag` / pushes with.
inline int popQueue(Module m, DepFlag flag) {
  if (m == Module::Load)
    return flag == PopNext ? 1 : -1;
  if (m == Module::Compute)
    return flag == PopPrev ? 0 : flag == PopNext ? 3 : -1;
  return flag == PopPrev ? 2 : -1;
}
inline int pushQueue(Module m, DepFlag flag) {
  if (m == Module::Load)
    return flag == PushNext ? 0 : -1;
  if (m == Module::Compute)
    return flag == PushPrev ? 1 : flag == PushNext ? 2 : -1;
  return flag == PushPrev ? 3 : -1;
}

inline uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

inline int32_t wrapAdd(int32_t a, int32_t b) {
  return int32_t(uint32_t(a) + uint32_t(b));
}
inline int32_t wrapMul(int32_t a, int32_t b) {
  return int32_t(uint32_t(a) * uint32_t(b));
}
inline int64_t wrapAdd64(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) + uint64_t(b));
}
inline int64_t wrapMul64(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) * uint64_t(b));
}

/// The state of one run.
class Run {
public:
  Run(const SimOptions &opts, const Program &prog, Dram &dram,
      std::vector<int8_t> &inp, std::vector<int8_t> &wgt,
      std::vector<int32_t> &acc, std::vector<MicroOp> &uop)
      : opts(opts), cfg(prog.config), prog(prog), dram(dram), inp(inp),
        wgt(wgt), acc(acc), uop(uop) {
    // Timing parameters come from the machine.
    const Config &t = opts.config;
    cfg.issueCycles = t.issueCycles;
    cfg.dramLatency = t.dramLatency;
    cfg.dramBytesPerCycle = t.dramBytesPerCycle ? t.dramBytesPerCycle : 1;
    cfg.gemmCyclesPerOp = t.gemmCyclesPerOp;
    cfg.gemmPipeline = t.gemmPipeline;
    cfg.aluCyclesPerOp = t.aluCyclesPerOp;
    cfg.aluRescaleCyclesPerOp = t.aluRescaleCyclesPerOp;
  }

  std::string run(SimReport &report);

private:
  // Access checks. `what` names the location for messages.
  std::string accessEntry(Shadow &shadow, uint64_t index, bool write,
                          const char *buffer);
  std::string accessEntry(std::vector<Shadow> &shadow, size_t index, bool write,
                          const char *buffer) {
    return opts.checkRaces ? accessEntry(shadow[index], index, write, buffer)
                           : "";
  }
  std::string accessDram(uint64_t addr, uint64_t bytes, bool write);
  std::string raceMessage(const char *what, uint64_t index, bool write,
                          int otherModule, uint32_t otherSeq,
                          bool otherWrote) const;

  std::string execLoad(const Instruction &i, uint64_t &bytes,
                       uint64_t &entries);
  std::string execStore(const Instruction &i, uint64_t &bytes,
                        uint64_t &entries);
  std::string execGemm(const Instruction &i);
  std::string execAlu(const Instruction &i);
  std::string index(const Instruction &i, int which, uint32_t base,
                    uint32_t uopField, int32_t f0, int32_t f1, uint64_t i0,
                    uint64_t i1, uint32_t u, uint32_t depth, const char *buf,
                    uint64_t &out);

  const SimOptions &opts;
  Config cfg; // architecture of the program, timing of the machine
  const Program &prog;
  Dram &dram;
  std::vector<int8_t> &inp, &wgt;
  std::vector<int32_t> &acc;
  std::vector<MicroOp> &uop;

  std::vector<Shadow> inpShadow, wgtShadow, accShadow;
  PagedShadow dramShadow;
  std::array<VClock, kNumModules> clock{};
  std::array<uint32_t, kNumModules> seq{};
  /// Instruction index of each module's k-th instruction (for messages).
  std::array<std::vector<size_t>, kNumModules> stream;
  int curModule = 0;
  size_t curInsn = 0;
  /// Element operations done so far (SimOptions::maxWork).
  uint64_t workDone = 0;
};

} // namespace mlir::qat::npu::sim

#endif // QAT_LIB_NPU_RUN_H
