//===- Simulator.cpp - functional and timing simulation of the NPU --------===//
//
// Three modules (load, compute, store) step through their instructions in
// stream order. The event loop always executes the instruction that can
// start earliest (its module free, its tokens pushed); each executes
// atomically. Vector clocks carried by the tokens give the happens-before
// order between modules, against which every access to a buffer entry or a
// DRAM byte is checked (docs/NPU.md section 3), so an accepted program's
// result does not depend on the schedule.
//
//===----------------------------------------------------------------------===//
#include "qat/NPU/Simulator.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <sstream>

using namespace mlir::qat::npu;

namespace {
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
const char *kQueueNames[4] = {"load->compute", "compute->load",
                              "compute->store", "store->compute"};

/// The queue an instruction of module `m` pops with `flag` / pushes with.
int popQueue(Module m, DepFlag flag) {
  if (m == Module::Load)
    return flag == PopNext ? 1 : -1;
  if (m == Module::Compute)
    return flag == PopPrev ? 0 : flag == PopNext ? 3 : -1;
  return flag == PopPrev ? 2 : -1;
}
int pushQueue(Module m, DepFlag flag) {
  if (m == Module::Load)
    return flag == PushNext ? 0 : -1;
  if (m == Module::Compute)
    return flag == PushPrev ? 1 : flag == PushNext ? 2 : -1;
  return flag == PushPrev ? 3 : -1;
}

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

int32_t wrapAdd(int32_t a, int32_t b) {
  return int32_t(uint32_t(a) + uint32_t(b));
}
int32_t wrapMul(int32_t a, int32_t b) {
  return int32_t(uint32_t(a) * uint32_t(b));
}
int64_t wrapAdd64(int64_t a, int64_t b) {
  return int64_t(uint64_t(a) + uint64_t(b));
}
int64_t wrapMul64(int64_t a, int64_t b) {
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

std::string Run::index(const Instruction &i, int which, uint32_t base,
                       uint32_t uopField, int32_t f0, int32_t f1, uint64_t i0,
                       uint64_t i1, uint32_t u, uint32_t depth,
                       const char *buf, uint64_t &out) {
  (void)which;
  int64_t v = int64_t(base) + int64_t(uopField) + int64_t(i0) * f0 +
              int64_t(i1) * f1;
  if (v < 0 || v >= int64_t(depth)) {
    std::ostringstream os;
    os << "instruction " << curInsn << " (" << getOpcodeName(i.opcode);
    if (i.opcode == Opcode::Alu)
      os << " " << getAluOpName(i.aluOp);
    os << "): " << buf << " index " << v << " out of bounds (depth " << depth
       << ") at i0=" << i0 << " i1=" << i1 << " uop=" << u;
    return os.str();
  }
  out = uint64_t(v);
  return "";
}

std::string Run::execLoad(const Instruction &i, uint64_t &bytes,
                          uint64_t &entries) {
  const uint32_t E = getEntryElements(cfg, i.buffer);
  const uint32_t L = i.lanes ? i.lanes : E;
  const uint64_t K = getEntriesPerStep(cfg, i);
  const uint64_t s = i.buffer == Buffer::Uop    ? kMicroOpBytes
                     : i.dtype == DType::I32 ? 4
                                             : 1;
  const uint64_t R = uint64_t(i.yPad0) + i.ySize + i.yPad1;
  const uint64_t C = uint64_t(i.xPad0) + i.xSize + i.xPad1;
  const uint64_t depth = getBufferDepth(cfg, i.buffer);
  entries = R * C * K;
  bytes = 0;
  if (i.sramBase + entries > depth) {
    std::ostringstream os;
    os << "instruction " << curInsn << " (LOAD): " << getBufferName(i.buffer)
       << " entries [" << i.sramBase << ", " << i.sramBase + entries
       << ") out of bounds (depth " << depth << ")";
    return os.str();
  }
  for (uint64_t r = 0; r < R; ++r) {
    for (uint64_t c = 0; c < C; ++c) {
      bool inside = r >= i.yPad0 && r < uint64_t(i.yPad0) + i.ySize &&
                    c >= i.xPad0 && c < uint64_t(i.xPad0) + i.xSize;
      uint64_t addr = 0;
      if (inside) {
        addr = uint64_t(i.dramBase) + (r - i.yPad0) * uint64_t(i.yStride) +
               (c - i.xPad0) * uint64_t(i.xStride);
        std::string e = accessDram(addr, L * s, /*write=*/false);
        if (!e.empty())
          return e;
        bytes += L * s;
      }
      for (uint64_t k = 0; k < K; ++k) {
        const uint64_t idx = i.sramBase + (r * C + c) * K + k;
        // Elements [first, first + E) of the step land in this entry.
        const uint64_t first = k * E;
        const uint8_t *src = inside ? &dram[addr + first * s] : nullptr;
        auto valid = [&](uint32_t l) { return inside && first + l < L; };
        std::string e;
        switch (i.buffer) {
        case Buffer::Inp:
        case Buffer::Wgt: {
          e = accessEntry(i.buffer == Buffer::Inp ? inpShadow : wgtShadow,
                          idx, true, getBufferName(i.buffer));
          int8_t *dst = (i.buffer == Buffer::Inp ? inp.data() : wgt.data()) +
                        idx * E;
          for (uint32_t l = 0; l < E; ++l)
            dst[l] = valid(l) ? int8_t(src[l]) : int8_t(i.padValue);
          break;
        }
        case Buffer::Acc: {
          e = accessEntry(accShadow, idx, true, "ACC");
          int32_t *dst = acc.data() + idx * E;
          for (uint32_t l = 0; l < E; ++l) {
            if (!valid(l)) {
              dst[l] = i.padValue;
            } else if (i.dtype == DType::I8) {
              dst[l] = int8_t(src[l]);
            } else {
              const uint8_t *p = src + 4 * l;
              dst[l] = int32_t(uint32_t(p[0]) | uint32_t(p[1]) << 8 |
                               uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24);
            }
          }
          break;
        }
        case Buffer::Uop:
          // Only the compute module touches UOP: no race is possible.
          uop[idx] = inside ? decodeMicroOp(src) : MicroOp();
          break;
        }
        if (!e.empty())
          return e;
      }
    }
  }
  return "";
}

std::string Run::execStore(const Instruction &i, uint64_t &bytes,
                           uint64_t &entries) {
  const uint32_t E = cfg.blockOut;
  const uint32_t L = i.lanes ? i.lanes : E;
  const uint64_t K = getEntriesPerStep(cfg, i);
  const uint64_t s = i.dtype == DType::I32 ? 4 : 1;
  entries = uint64_t(i.ySize) * i.xSize * K;
  bytes = uint64_t(i.ySize) * i.xSize * L * s;
  if (i.sramBase + entries > cfg.accDepth) {
    std::ostringstream os;
    os << "instruction " << curInsn << " (STORE): ACC entries [" << i.sramBase
       << ", " << i.sramBase + entries << ") out of bounds (depth "
       << cfg.accDepth << ")";
    return os.str();
  }
  for (uint64_t y = 0; y < i.ySize; ++y) {
    for (uint64_t x = 0; x < i.xSize; ++x) {
      const uint64_t step = y * i.xSize + x;
      std::string e;
      for (uint64_t k = 0; k < K && e.empty(); ++k)
        e = accessEntry(accShadow, i.sramBase + step * K + k, false, "ACC");
      if (!e.empty())
        return e;
      uint64_t addr = uint64_t(i.dramBase) + y * uint64_t(i.yStride) +
                      x * uint64_t(i.xStride);
      e = accessDram(addr, L * s, /*write=*/true);
      if (!e.empty())
        return e;
      // Element l of the step is lane l % E of entry l / E.
      const int32_t *src = acc.data() + (i.sramBase + step * K) * E;
      uint8_t *dst = &dram[addr];
      for (uint32_t l = 0; l < L; ++l) {
        if (i.dtype == DType::I8) {
          int32_t v = std::min<int32_t>(127, std::max<int32_t>(-128, src[l]));
          dst[l] = uint8_t(int8_t(v));
        } else {
          uint32_t v = uint32_t(src[l]);
          for (int k = 0; k < 4; ++k)
            dst[4 * l + k] = uint8_t(v >> (8 * k));
        }
      }
    }
  }
  return "";
}

std::string Run::execGemm(const Instruction &i) {
  const uint32_t BI = cfg.blockIn, BO = cfg.blockOut;
  const bool reset = i.flags & GemmReset;
  for (uint64_t i0 = 0; i0 < i.extent0; ++i0) {
    for (uint64_t i1 = 0; i1 < i.extent1; ++i1) {
      for (uint32_t u = i.uopBegin; u < i.uopEnd; ++u) {
        const MicroOp &m = uop[u];
        uint64_t a, x = 0, w = 0;
        std::string e =
            index(i, 0, i.dstBase, m.dst, i.dstFactor0, i.dstFactor1, i0, i1,
                  u, cfg.accDepth, "ACC", a);
        if (!e.empty())
          return e;
        int32_t *out = acc.data() + a * BO;
        if (reset) {
          e = accessEntry(accShadow, a, true, "ACC");
          if (!e.empty())
            return e;
          std::fill(out, out + BO, 0);
          continue;
        }
        e = index(i, 1, i.srcBase, m.src, i.srcFactor0, i.srcFactor1, i0, i1,
                  u, cfg.inpDepth, "INP", x);
        if (e.empty())
          e = index(i, 2, i.wgtBase, m.wgt, i.wgtFactor0, i.wgtFactor1, i0, i1,
                    u, cfg.wgtDepth, "WGT", w);
        if (e.empty())
          e = accessEntry(inpShadow, x, false, "INP");
        if (e.empty())
          e = accessEntry(wgtShadow, w, false, "WGT");
        if (e.empty())
          e = accessEntry(accShadow, a, true, "ACC");
        if (!e.empty())
          return e;
        const int8_t *xv = inp.data() + x * BI;
        const int8_t *wb = wgt.data() + w * BI * BO;
        for (uint32_t o = 0; o < BO; ++o) {
          // |sum| <= 64 * 2^14: exact in int32.
          int32_t sum = 0;
          const int8_t *wr = wb + o * BI;
          for (uint32_t k = 0; k < BI; ++k)
            sum += int32_t(xv[k]) * int32_t(wr[k]);
          out[o] = wrapAdd(out[o], sum);
        }
      }
    }
  }
  return "";
}

std::string Run::execAlu(const Instruction &i) {
  const uint32_t BO = cfg.blockOut;
  const AluOp op = i.aluOp;
  const bool useImm = i.flags & AluUseImm;
  const bool usesS = !(op == AluOp::Clamp || useImm);
  const bool readsD =
      !(op == AluOp::Mov || op == AluOp::Rescale);
  const unsigned numP = op == AluOp::Mac          ? 1
                        : op == AluOp::Rescale    ? 2
                        : op == AluOp::RescaleAdd ? 3
                                                  : 0;
  auto fail = [&](const std::string &what) {
    return "instruction " + std::to_string(curInsn) + " (ALU " +
           getAluOpName(op) + "): " + what;
  };
  for (uint64_t i0 = 0; i0 < i.extent0; ++i0) {
    for (uint64_t i1 = 0; i1 < i.extent1; ++i1) {
      for (uint32_t u = i.uopBegin; u < i.uopEnd; ++u) {
        const MicroOp &m = uop[u];
        uint64_t d, s = 0, p = 0;
        std::string e = index(i, 0, i.dstBase, m.dst, i.dstFactor0,
                              i.dstFactor1, i0, i1, u, cfg.accDepth, "ACC", d);
        if (e.empty() && usesS)
          e = index(i, 1, i.srcBase, m.src, i.srcFactor0, i.srcFactor1, i0,
                    i1, u, cfg.accDepth, "ACC", s);
        if (e.empty() && numP) {
          e = index(i, 2, i.wgtBase, m.wgt, i.wgtFactor0, i.wgtFactor1, i0, i1,
                    u, cfg.accDepth, "ACC", p);
          if (e.empty() && p + numP > cfg.accDepth)
            e = fail("parameter rows ACC[" + std::to_string(p) + ".." +
                     std::to_string(p + numP - 1) +
                     "] out of bounds (depth " + std::to_string(cfg.accDepth) +
                     ")");
        }
        if (!e.empty())
          return e;
        if (usesS)
          e = accessEntry(accShadow, s, false, "ACC");
        for (unsigned k = 0; k < numP && e.empty(); ++k)
          e = accessEntry(accShadow, p + k, false, "ACC");
        if (e.empty() && readsD)
          e = accessEntry(accShadow, d, false, "ACC");
        if (e.empty())
          e = accessEntry(accShadow, d, true, "ACC");
        if (!e.empty())
          return e;
        int32_t *D = acc.data() + d * BO;
        const int32_t *S = acc.data() + s * BO;
        const int32_t *P = acc.data() + p * BO;
        for (uint32_t l = 0; l < BO; ++l) {
          int32_t b = useImm ? i.imm0 : (usesS ? S[l] : 0);
          int32_t dv = D[l];
          int32_t r = 0;
          switch (op) {
          case AluOp::Mov:
            r = b;
            break;
          case AluOp::Add:
            r = wrapAdd(dv, b);
            break;
          case AluOp::Sub:
            r = int32_t(uint32_t(dv) - uint32_t(b));
            break;
          case AluOp::Mul:
            r = wrapMul(dv, b);
            break;
          case AluOp::Min:
            r = std::min(dv, b);
            break;
          case AluOp::Max:
            r = std::max(dv, b);
            break;
          case AluOp::Shr:
            if (b < 0 || b > 31)
              return fail("shift " + std::to_string(b) + " at ACC[" +
                          std::to_string(s) + "] lane " + std::to_string(l) +
                          " outside [0, 31]");
            r = b == 0 ? dv
                       : int32_t((int64_t(dv) + (int64_t(1) << (b - 1))) >> b);
            break;
          case AluOp::Clamp:
            r = std::min(std::max(dv, i.imm1), i.imm2);
            break;
          case AluOp::Mac:
            r = wrapAdd(dv, wrapMul(S[l], P[l]));
            break;
          case AluOp::Rescale:
          case AluOp::RescaleAdd: {
            int32_t n = P[BO + l];
            if (n < 1 || n > 62)
              return fail("shift " + std::to_string(n) + " at ACC[" +
                          std::to_string(p + 1) + "] lane " +
                          std::to_string(l) + " outside [1, 62]");
            int64_t v;
            if (op == AluOp::Rescale)
              v = wrapMul64(S[l], P[l]);
            else
              v = wrapAdd64(wrapMul64(dv, P[l]), wrapMul64(S[l], P[2 * BO + l]));
            v = wrapAdd64(v, int64_t(1) << (n - 1)) >> n;
            v += i.imm0;
            v = std::min<int64_t>(std::max<int64_t>(v, i.imm1), i.imm2);
            r = int32_t(v);
            break;
          }
          }
          D[l] = r;
        }
      }
    }
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
} // namespace

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
  std::snprintf(buf, sizeof(buf), "%-40s %10s %10s %10s %10s %11s %11s %7s %7s\n",
                "layer", "cycles", "load", "compute", "store", "dram_rd",
                "dram_wr", "gemm%", "mac%");
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
    std::string n = name.size() > 40 ? name.substr(0, 37) + "..." : name;
    std::snprintf(buf, sizeof(buf),
                  "%-40s %10llu %10llu %10llu %10llu %11llu %11llu %7.1f %7s\n",
                  n.c_str(), (unsigned long long)span, (unsigned long long)ld,
                  (unsigned long long)cp, (unsigned long long)st,
                  (unsigned long long)rd, (unsigned long long)wr, g,
                  mac.c_str());
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
