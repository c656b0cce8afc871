//===- Simulator.cpp - functional and timing simulation of the NPU --------===//
//
// Three modules (load, compute, store) step through their instructions in
// stream order. The event loop always executes the instruction that can
// start earliest (its module free, its tokens pushed); each executes
// atomically. Vector clocks carried by the tokens give the happens-before
// order between modules, against which every access to a buffer entry or a
// DRAM byte is checked (docs/NPU.md section 3), so an accepted program's
// result does not depend on the schedule. What each instruction does is in
// Instructions.cpp, the state of a run in Run.h.
//
//===----------------------------------------------------------------------===//
#include "Run.h"
#include "qat/NPU/Simulator.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <sstream>

using namespace mlir::qat::npu;
using namespace mlir::qat::npu::sim;

namespace mlir::qat::npu::sim {

std::string Run::raceMessage(const char *what, uint64_t idx, bool write,
                             int other, uint32_t otherSeq,
                             bool otherWrote) const {
  const Instruction &i = prog.instructions[curInsn];
  size_t otherInsn = stream[other][otherSeq - 1];
  const Instruction &o = prog.instructions[otherInsn];
  std::ostringstream os;
  os << "data race: instruction " << curInsn << " (" << getOpcodeName(i.opcode)
     << ", " << getModuleName(Module(curModule)) << ") "
     << (write ? "writes " : "reads ") << what << "[" << idx
     << "], " << (otherWrote ? "written" : "read") << " by instruction "
     << otherInsn << " (" << getOpcodeName(o.opcode) << ", "
     << getModuleName(Module(other))
     << ") with no chain of dependency tokens ordering them";
  return os.str();
}

std::string Run::accessEntry(Shadow &s, uint64_t idx, bool write,
                             const char *buffer) {
  const VClock &vc = clock[curModule];
  if (s.writeSeq && s.writeModule != curModule &&
      vc[s.writeModule] < s.writeSeq)
    return raceMessage(buffer, idx, write, s.writeModule, s.writeSeq, true);
  if (write) {
    for (int k = 0; k < kNumModules; ++k)
      if (k != curModule && s.readSeq[k] && vc[k] < s.readSeq[k])
        return raceMessage(buffer, idx, write, k, s.readSeq[k], false);
    s.writeSeq = seq[curModule];
    s.writeModule = uint8_t(curModule);
  } else {
    s.readSeq[curModule] = seq[curModule];
  }
  return "";
}

std::string Run::accessDram(uint64_t addr, uint64_t bytes, bool write) {
  if (addr + bytes > dram.size()) {
    std::ostringstream os;
    os << "instruction " << curInsn << " ("
       << getOpcodeName(prog.instructions[curInsn].opcode) << "): DRAM bytes ["
       << addr << ", " << addr + bytes << ") outside dram_size "
       << dram.size();
    return os.str();
  }
  if (!opts.checkRaces)
    return "";
  for (uint64_t b = addr; b < addr + bytes; ++b) {
    std::string e = accessEntry(dramShadow[b], b, write, "DRAM byte ");
    if (!e.empty())
      return e;
  }
  return "";
}

std::string Run::run(SimReport &report) {
  const size_t n = prog.instructions.size();
  for (size_t k = 0; k < n; ++k)
    stream[int(getModule(prog.instructions[k]))].push_back(k);
  if (opts.checkRaces) {
    inpShadow.assign(cfg.inpDepth, Shadow());
    wgtShadow.assign(cfg.wgtDepth, Shadow());
    accShadow.assign(cfg.accDepth, Shadow());
    dramShadow.reset(dram.size());
  }
  std::array<size_t, kNumModules> pos{};
  std::array<uint64_t, kNumModules> freeAt{};
  uint64_t dramFree = 0; // when the DRAM channel is next idle
  std::array<std::deque<Token>, 4> queues;

  report = SimReport();
  report.blockIn = cfg.blockIn;
  report.blockOut = cfg.blockOut;
  std::vector<LayerStats> layers(prog.layers.size() + 1);
  for (size_t l = 0; l < prog.layers.size(); ++l) {
    layers[l].name = prog.layers[l].name;
    layers[l].macs = prog.layers[l].macs;
  }
  layers.back().name = "<no layer>";
  bool finished = false;

  while (true) {
    int best = -1;
    uint64_t bestStart = 0;
    for (int m = 0; m < kNumModules; ++m) {
      if (pos[m] == stream[m].size())
        continue;
      const Instruction &i = prog.instructions[stream[m][pos[m]]];
      uint64_t start = freeAt[m];
      bool ready = true;
      for (DepFlag f : {PopPrev, PopNext}) {
        if (!(i.deps & f))
          continue;
        int q = popQueue(Module(m), f);
        if (q < 0 || queues[q].empty()) {
          ready = false;
          break;
        }
        start = std::max(start, queues[q].front().time);
      }
      if (ready && (best < 0 || start < bestStart)) {
        best = m;
        bestStart = start;
      }
    }
    if (best < 0) {
      bool allDone = true;
      for (int m = 0; m < kNumModules; ++m)
        allDone &= pos[m] == stream[m].size();
      if (allDone)
        break;
      std::ostringstream os;
      os << "deadlock:";
      const char *sep = " ";
      for (int m = 0; m < kNumModules; ++m) {
        os << sep << getModuleName(Module(m)) << " module ";
        sep = "; ";
        if (pos[m] == stream[m].size()) {
          os << "finished";
          continue;
        }
        size_t k = stream[m][pos[m]];
        const Instruction &i = prog.instructions[k];
        os << "waits at instruction " << k << " (" << getOpcodeName(i.opcode);
        for (DepFlag f : {PopPrev, PopNext}) {
          int q = (i.deps & f) ? popQueue(Module(m), f) : -1;
          if (q >= 0 && queues[q].empty())
            os << ", " << (f == PopPrev ? "pop_prev" : "pop_next") << ": "
               << kQueueNames[q] << " queue empty";
        }
        os << ")";
      }
      return os.str();
    }

    const int m = best;
    const size_t k = stream[m][pos[m]];
    const Instruction &i = prog.instructions[k];
    curModule = m;
    curInsn = k;
    if (finished)
      return "instruction " + std::to_string(k) + " (" +
             getOpcodeName(i.opcode) + ") runs after FINISH";
    for (DepFlag f : {PopPrev, PopNext}) {
      if (!(i.deps & f))
        continue;
      int q = popQueue(Module(m), f);
      const Token &t = queues[q].front();
      for (int j = 0; j < kNumModules; ++j)
        clock[m][j] = std::max(clock[m][j], t.clock[j]);
      queues[q].pop_front();
    }
    seq[m] += 1;
    clock[m][m] = seq[m];

    uint64_t cost = cfg.issueCycles, bytes = 0, entries = 0;
    uint64_t iters = uint64_t(i.extent0) * i.extent1 *
                     (uint64_t(i.uopEnd) - i.uopBegin);
    LayerStats &ls = layers[i.layer == kNoLayer ? layers.size() - 1 : i.layer];
    // A GEMM/ALU can loop up to 2^48 times: refuse it before running it
    // when it would end past the cycle limit.
    if (opts.maxCycles && (i.opcode == Opcode::Gemm || i.opcode == Opcode::Alu) &&
        bestStart + cfg.issueCycles + iters > opts.maxCycles)
      return "instruction " + std::to_string(k) + " (" +
             getOpcodeName(i.opcode) + ", " + std::to_string(iters) +
             " iterations) would end past the limit of " +
             std::to_string(opts.maxCycles) + " cycles";
    // The run's work: checked before a GEMM or ALU runs (they can loop
    // 2^48 times), after a LOAD or STORE (bounded by the buffer depth).
    uint64_t work = 0;
    if (i.opcode == Opcode::Gemm)
      work = iters * ((i.flags & GemmReset)
                          ? cfg.blockOut
                          : uint64_t(cfg.blockIn) * cfg.blockOut);
    else if (i.opcode == Opcode::Alu)
      work = iters * cfg.blockOut;
    if (opts.maxWork && work > opts.maxWork - std::min(opts.maxWork, workDone))
      return "instruction " + std::to_string(k) + " (" +
             getOpcodeName(i.opcode) + ", " + std::to_string(iters) +
             " iterations) would take the run past its work limit of " +
             std::to_string(opts.maxWork) +
             " element operations (docs/NPU.md section 8)";
    workDone += work;
    std::string e;
    switch (i.opcode) {
    case Opcode::Load:
    case Opcode::Store: {
      if (i.opcode == Opcode::Load) {
        e = execLoad(i, bytes, entries);
        ls.dramReadBytes += bytes;
      } else {
        e = execStore(i, bytes, entries);
        ls.dramWriteBytes += bytes;
      }
      workDone +=
          entries * (i.opcode == Opcode::Load ? getEntryElements(cfg, i.buffer)
                                              : cfg.blockOut);
      if (e.empty() && opts.maxWork && workDone > opts.maxWork)
        e = "instruction " + std::to_string(k) + " (" +
            getOpcodeName(i.opcode) +
            ") takes the run past its work limit of " +
            std::to_string(opts.maxWork) +
            " element operations (docs/NPU.md section 8)";
      if (!bytes) {
        cost += entries;
        break;
      }
      // One DRAM channel: the transfer starts after the latency, once the
      // channel is free, and holds it for bytes / bandwidth cycles; the
      // SRAM side moves one entry per cycle meanwhile.
      const uint64_t ready = bestStart + cfg.issueCycles + cfg.dramLatency;
      const uint64_t xfer = ceilDiv(bytes, cfg.dramBytesPerCycle);
      const uint64_t begin = std::max(ready, dramFree);
      dramFree = begin + xfer;
      ls.dramStallCycles += begin - ready;
      cost = std::max(begin + xfer, ready + entries) - bestStart;
      break;
    }
    case Opcode::Gemm:
      e = execGemm(i);
      cost += cfg.gemmPipeline + iters * cfg.gemmCyclesPerOp;
      if (!(i.flags & GemmReset)) {
        ls.gemmCycles += iters * cfg.gemmCyclesPerOp;
        ls.gemmOps += iters;
      }
      break;
    case Opcode::Alu: {
      uint64_t c = iters * ((i.aluOp == AluOp::Rescale ||
                             i.aluOp == AluOp::RescaleAdd)
                                ? cfg.aluRescaleCyclesPerOp
                                : cfg.aluCyclesPerOp);
      e = execAlu(i);
      cost += c;
      ls.aluCycles += c;
      break;
    }
    case Opcode::Finish:
      for (int o = 0; o < kNumModules; ++o) {
        if (o == m)
          continue;
        if (pos[o] != stream[o].size())
          return "FINISH (instruction " + std::to_string(k) + ") starts while "
                 "the " + getModuleName(Module(o)) +
                 " module has not run instruction " +
                 std::to_string(stream[o][pos[o]]) +
                 ": make FINISH wait for it with a token";
        if (freeAt[o] > bestStart)
          return "FINISH (instruction " + std::to_string(k) + ") starts at "
                 "cycle " + std::to_string(bestStart) + " while the " +
                 getModuleName(Module(o)) + " module runs until cycle " +
                 std::to_string(freeAt[o]) +
                 ": make FINISH wait for it with a token";
      }
      finished = true;
      break;
    }
    if (!e.empty())
      return e;
    const uint64_t end = bestStart + cost;
    if (opts.maxCycles && end > opts.maxCycles)
      return "instruction " + std::to_string(k) + " ends at cycle " +
             std::to_string(end) + ", past the limit of " +
             std::to_string(opts.maxCycles) + " cycles";
    freeAt[m] = end;
    for (DepFlag f : {PushPrev, PushNext}) {
      if (!(i.deps & f))
        continue;
      queues[pushQueue(Module(m), f)].push_back(Token{end, clock[m]});
    }
    pos[m] += 1;
    if (opts.recordTrace)
      report.trace.push_back({k, Module(m), bestStart, end});

    if (ls.instructions == 0 || bestStart < ls.firstCycle)
      ls.firstCycle = bestStart;
    ls.lastCycle = std::max(ls.lastCycle, end);
    ls.instructions += 1;
    (m == 0 ? ls.loadBusy : m == 1 ? ls.computeBusy : ls.storeBusy) += cost;
    report.totalCycles = std::max(report.totalCycles, end);
  }
  if (!finished)
    return "the program ended without FINISH";
  for (int q = 0; q < 4; ++q)
    if (!queues[q].empty())
      return "FINISH: queue " + std::string(kQueueNames[q]) + " holds " +
             std::to_string(queues[q].size()) +
             " token(s): every pushed token must be popped";
  report.instructions = n;
  for (LayerStats &ls : layers) {
    report.dramReadBytes += ls.dramReadBytes;
    report.dramWriteBytes += ls.dramWriteBytes;
    report.gemmCycles += ls.gemmCycles;
    report.gemmOps += ls.gemmOps;
  }
  if (layers.back().instructions == 0)
    layers.pop_back();
  report.layers = std::move(layers);
  return "";
}
} // namespace mlir::qat::npu::sim

Simulator::Simulator(SimOptions options) : options_(std::move(options)) {}

std::string Simulator::load(const Program &program) {
  loaded_ = false;
  std::string e = options_.config.validate();
  if (!e.empty())
    return "machine " + e;
  e = program.verify();
  if (!e.empty())
    return "program: " + e;
  std::string mismatch =
      program.config.describeArchitectureMismatch(options_.config);
  if (!mismatch.empty())
    return "program built for another NPU configuration (program vs "
           "machine): " +
           mismatch;
  program_ = program;
  if (!dram_.reset(program.dramSize))
    return "cannot allocate the program's " + std::to_string(program.dramSize) +
           " bytes of DRAM";
  std::copy(program.data.begin(), program.data.end(), dram_.begin());
  loaded_ = true;
  return "";
}

bool Dram::reset(uint64_t size) {
  bytes_.reset(static_cast<uint8_t *>(std::calloc(size ? size : 1, 1)));
  size_ = bytes_ ? size : 0;
  return bool(bytes_);
}

std::string Simulator::setInput(size_t index,
                                const std::vector<uint8_t> &bytes) {
  if (!loaded_)
    return "setInput: no program loaded";
  if (index >= program_.tensors.size() || program_.tensors[index].isOutput)
    return "setInput: tensor " + std::to_string(index) + " is not an input";
  const TensorDesc &t = program_.tensors[index];
  if (bytes.size() != t.getByteSize())
    return "input '" + t.name + "': " + std::to_string(bytes.size()) +
           " bytes given, expected " + std::to_string(t.getByteSize());
  std::copy(bytes.begin(), bytes.end(), dram_.begin() + t.dramAddr);
  return "";
}

std::string Simulator::run(SimReport &report) {
  if (!loaded_)
    return "run: no program loaded";
  const Config &c = program_.config;
  inp_.assign(size_t(c.inpDepth) * c.blockIn, 0);
  wgt_.assign(size_t(c.wgtDepth) * c.blockIn * c.blockOut, 0);
  acc_.assign(size_t(c.accDepth) * c.blockOut, 0);
  uop_.assign(c.uopDepth, MicroOp());
  std::copy(program_.microOps.begin(), program_.microOps.end(), uop_.begin());
  Run r(options_, program_, dram_, inp_, wgt_, acc_, uop_);
  return r.run(report);
}

std::vector<uint8_t> Simulator::getTensor(size_t index) const {
  if (!loaded_ || index >= program_.tensors.size())
    return {};
  const TensorDesc &t = program_.tensors[index];
  return std::vector<uint8_t>(dram_.begin() + t.dramAddr,
                              dram_.begin() + t.dramAddr + t.getByteSize());
}

std::string mlir::qat::npu::simulate(
    const Program &program, const SimOptions &options,
    const std::vector<std::vector<uint8_t>> &inputs,
    std::vector<std::vector<uint8_t>> &outputs, SimReport &report) {
  Simulator sim(options);
  std::string e = sim.load(program);
  if (!e.empty())
    return e;
  size_t next = 0;
  for (size_t t = 0; t < program.tensors.size(); ++t) {
    if (program.tensors[t].isOutput)
      continue;
    if (next >= inputs.size())
      return "simulate: " + std::to_string(inputs.size()) +
             " inputs given, the program has more";
    e = sim.setInput(t, inputs[next++]);
    if (!e.empty())
      return e;
  }
  if (next != inputs.size())
    return "simulate: " + std::to_string(inputs.size()) +
           " inputs given, the program has " + std::to_string(next);
  e = sim.run(report);
  if (!e.empty())
    return e;
  outputs.clear();
  for (size_t t = 0; t < program.tensors.size(); ++t)
    if (program.tensors[t].isOutput)
      outputs.push_back(sim.getTensor(t));
  return "";
}

std::string SimReport::format() const {
  std::ostringstream os;
  char buf[256];
  // The name column fits the longest layer name (module names make them
  // long), from 40 to 72 characters; longer names are cut.
  int width = 40;
  for (const LayerStats &l : layers)
    width = std::max(width, int(std::min<size_t>(l.name.size(), 72)));
  std::snprintf(buf, sizeof(buf),
                "%-*s %10s %10s %10s %10s %11s %11s %7s %7s\n", width, "layer",
                "cycles", "load", "compute", "store", "dram_rd", "dram_wr",
                "gemm%", "mac%");
  os << buf;
  auto line = [&](const std::string &name, uint64_t span, uint64_t ld,
                  uint64_t cp, uint64_t st, uint64_t rd, uint64_t wr,
                  uint64_t gemm, uint64_t macs) {
    double g = span ? 100.0 * double(gemm) / double(span) : 0.0;
    std::string mac = "-";
    if (macs && span) {
      char m[32];
      std::snprintf(m, sizeof(m), "%.1f",
                    100.0 * double(macs) /
                        (double(span) * blockIn * blockOut));
      mac = m;
    }
    std::string n =
        int(name.size()) > width ? name.substr(0, width - 3) + "..." : name;
    std::snprintf(buf, sizeof(buf),
                  "%-*s %10llu %10llu %10llu %10llu %11llu %11llu %7.1f %7s\n",
                  width, n.c_str(), (unsigned long long)span,
                  (unsigned long long)ld, (unsigned long long)cp,
                  (unsigned long long)st, (unsigned long long)rd,
                  (unsigned long long)wr, g, mac.c_str());
    os << buf;
  };
  uint64_t ld = 0, cp = 0, st = 0, macs = 0;
  bool allMacs = true;
  for (const LayerStats &l : layers) {
    line(l.name, l.spanCycles(), l.loadBusy, l.computeBusy, l.storeBusy,
         l.dramReadBytes, l.dramWriteBytes, l.gemmCycles, l.macs);
    ld += l.loadBusy;
    cp += l.computeBusy;
    st += l.storeBusy;
    macs += l.macs;
    allMacs &= l.macs != 0 || l.gemmOps == 0;
  }
  line("total", totalCycles, ld, cp, st, dramReadBytes, dramWriteBytes,
       gemmCycles, allMacs ? macs : 0);
  return os.str();
}

std::string SimReport::formatTrace() const {
  std::ostringstream os;
  char buf[96];
  for (const InsnTrace &t : trace) {
    std::snprintf(buf, sizeof(buf), "%6zu %-7s %10llu %10llu %8llu\n",
                  t.instruction, getModuleName(t.module),
                  (unsigned long long)t.start, (unsigned long long)t.end,
                  (unsigned long long)(t.end - t.start));
    os << buf;
  }
  return os.str();
}

std::string SimReport::toJson() const {
  std::ostringstream os;
  auto str = [](const std::string &s) {
    std::string o = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\')
        o += '\\', o += c;
      else if (static_cast<unsigned char>(c) < 0x20) {
        char b[8];
        std::snprintf(b, sizeof(b), "\\u%04x", unsigned(c));
        o += b;
      } else
        o += c;
    }
    return o + "\"";
  };
  os << "{\"total_cycles\": " << totalCycles
     << ", \"instructions\": " << instructions
     << ", \"dram_read_bytes\": " << dramReadBytes
     << ", \"dram_write_bytes\": " << dramWriteBytes
     << ", \"gemm_cycles\": " << gemmCycles << ", \"gemm_ops\": " << gemmOps
     << ", \"block_in\": " << blockIn << ", \"block_out\": " << blockOut
     << ", \"layers\": [";
  for (size_t k = 0; k < layers.size(); ++k) {
    const LayerStats &l = layers[k];
    os << (k ? ", " : "") << "{\"name\": " << str(l.name)
       << ", \"first_cycle\": " << l.firstCycle
       << ", \"last_cycle\": " << l.lastCycle
       << ", \"cycles\": " << l.spanCycles()
       << ", \"instructions\": " << l.instructions
       << ", \"load_busy\": " << l.loadBusy
       << ", \"compute_busy\": " << l.computeBusy
       << ", \"store_busy\": " << l.storeBusy
       << ", \"gemm_cycles\": " << l.gemmCycles
       << ", \"gemm_ops\": " << l.gemmOps << ", \"alu_cycles\": " << l.aluCycles
       << ", \"dram_read_bytes\": " << l.dramReadBytes
       << ", \"dram_write_bytes\": " << l.dramWriteBytes
       << ", \"dram_stall_cycles\": " << l.dramStallCycles
       << ", \"macs\": " << l.macs << "}";
  }
  os << "]}";
  return os.str();
}
