//===- Simulator.h - functional and timing simulator of the NPU -*- C++ -*-===//
//
// Runs a verified Program on the machine of docs/NPU.md: the three modules
// (load, compute, store) proceed concurrently, synchronised by dependency
// tokens; each instruction executes atomically at its start time in the
// timing model. Results are bit-exact by construction (integer semantics
// only). Malformed programs stop the run with an error naming the
// instruction: out-of-bounds buffer or DRAM access, deadlock, bad ALU
// parameters, unbalanced tokens at the end, unsynchronised access (a data
// race between modules).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_NPU_SIMULATOR_H
#define QAT_NPU_SIMULATOR_H

#include "qat/NPU/Binary.h"

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

namespace mlir::qat::npu {

/// Figures of one layer (or of the instructions without a layer).
struct LayerStats {
  std::string name;
  uint64_t firstCycle = 0, lastCycle = 0; ///< span [first start, last end)
  uint64_t instructions = 0;
  uint64_t loadBusy = 0, computeBusy = 0, storeBusy = 0; ///< module cycles
  uint64_t gemmCycles = 0; ///< cycles the GEMM core multiplied blocks
  uint64_t gemmOps = 0;    ///< block products (blockIn x blockOut MACs each)
  uint64_t aluCycles = 0;
  uint64_t dramReadBytes = 0, dramWriteBytes = 0;
  /// Cycles its DMA transfers waited for the shared DRAM channel.
  uint64_t dramStallCycles = 0;
  uint64_t macs = 0; ///< from the LayerDesc (0 = unknown)

  uint64_t spanCycles() const { return lastCycle - firstCycle; }
};

/// When one instruction ran (SimOptions::recordTrace).
struct InsnTrace {
  size_t instruction = 0;
  Module module = Module::Compute;
  uint64_t start = 0, end = 0;
};

struct SimReport {
  uint64_t totalCycles = 0;
  uint64_t instructions = 0;
  uint64_t dramReadBytes = 0, dramWriteBytes = 0;
  uint64_t gemmCycles = 0, gemmOps = 0;
  /// One per LayerDesc, then (if any) one named "<no layer>".
  std::vector<LayerStats> layers;
  uint32_t blockIn = 0, blockOut = 0;

  /// Fixed-width table: layer, cycles, DMA bytes, GEMM busy %, MAC util %.
  std::string format() const;
  /// The same figures as JSON.
  std::string toJson() const;

  /// Per instruction, in execution order (empty unless recorded).
  std::vector<InsnTrace> trace;
  /// One line per traced instruction: index, module, start, end, cycles.
  std::string formatTrace() const;
};

struct SimOptions {
  /// Timing parameters (the architectural ones must match the program's).
  Config config;
  /// Track happens-before between modules and reject unsynchronised
  /// accesses to buffer entries and DRAM bytes.
  bool checkRaces = true;
  /// Stop with an error past this many cycles (0 = no limit).
  uint64_t maxCycles = 0;
  /// Stop with an error before the run's work would exceed this many element
  /// operations (0 = no limit): a GEMM iteration counts blockIn x blockOut
  /// (blockOut with reset), an ALU iteration blockOut, a LOAD or STORE the
  /// elements of the entries it writes or reads. A GEMM or ALU is checked
  /// before it runs, so no binary keeps the simulator busy for longer than
  /// the limit allows whatever its timing parameters (docs/NPU.md section 8).
  /// The default, 2^36, is about 45 s of simulation on this machine.
  uint64_t maxWork = kDefaultMaxWork;
  static constexpr uint64_t kDefaultMaxWork = uint64_t(1) << 36;
  /// Fill SimReport::trace.
  bool recordTrace = false;
};

/// The simulated DRAM: zero-initialized memory whose pages the OS maps on
/// first touch (calloc), so a program that declares 1 GiB and uses a few
/// kilobytes costs a few kilobytes.
class Dram {
public:
  /// `size` zero bytes; false if they cannot be allocated.
  bool reset(uint64_t size);
  uint64_t size() const { return size_; }
  uint8_t *begin() { return bytes_.get(); }
  uint8_t *end() { return bytes_.get() + size_; }
  const uint8_t *begin() const { return bytes_.get(); }
  const uint8_t *end() const { return bytes_.get() + size_; }
  uint8_t &operator[](uint64_t i) { return bytes_.get()[i]; }

private:
  struct Free {
    void operator()(uint8_t *p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> bytes_;
  uint64_t size_ = 0;
};

class Simulator {
public:
  explicit Simulator(SimOptions options);

  /// Checks the program against the machine, allocates DRAM and copies the
  /// data segment. Returns "" or an error.
  std::string load(const Program &program);
  /// Writes tensor `index` (an input) from raw little-endian bytes of its
  /// dtype and shape. Returns "" or an error.
  std::string setInput(size_t index, const std::vector<uint8_t> &bytes);
  /// Runs from reset (buffers zeroed, micro-ops preloaded) to FINISH.
  std::string run(SimReport &report);
  /// Raw bytes of tensor `index` after run().
  std::vector<uint8_t> getTensor(size_t index) const;

  /// Direct access for tests and debugging.
  Dram &dram() { return dram_; }
  const std::vector<int8_t> &inpBuffer() const { return inp_; }
  const std::vector<int8_t> &wgtBuffer() const { return wgt_; }
  const std::vector<int32_t> &accBuffer() const { return acc_; }

private:
  SimOptions options_;
  Program program_;
  bool loaded_ = false;
  Dram dram_;
  std::vector<int8_t> inp_, wgt_;
  std::vector<int32_t> acc_;
  std::vector<MicroOp> uop_;
};

/// Convenience: load, set every input (in tensor order, inputs only), run,
/// return the outputs (in tensor order, outputs only). Returns "" or an
/// error.
std::string simulate(const Program &program, const SimOptions &options,
                     const std::vector<std::vector<uint8_t>> &inputs,
                     std::vector<std::vector<uint8_t>> &outputs,
                     SimReport &report);

} // namespace mlir::qat::npu

#endif // QAT_NPU_SIMULATOR_H
