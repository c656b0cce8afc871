//===- Instructions.cpp - what each NPU instruction does ------------------===//
//
// The functional semantics of the NPU's instructions in one simulation
// (Run.h; docs/NPU.md): load and store between DRAM and the buffers, gemm
// and alu on the buffers, with the bounds and race checks of each access.
//
//===----------------------------------------------------------------------===//

#include "Run.h"

#include <algorithm>
#include <cstring>
#include <sstream>

using namespace mlir::qat::npu;
using namespace mlir::qat::npu::sim;

std::string Run::index(const Instruction &i, int which, uint32_t base,
                       uint32_t uopField, int32_t f0, int32_t f1, uint64_t i0,
                       uint64_t i1, uint32_t u, uint32_t depth, const char *buf,
                       uint64_t &out) {
  (void)which;
  int64_t v =
      int64_t(base) + int64_t(uopField) + int64_t(i0) * f0 + int64_t(i1) * f1;
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
  const uint64_t s = i.buffer == Buffer::Uop ? kMicroOpBytes
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
          e = accessEntry(i.buffer == Buffer::Inp ? inpShadow : wgtShadow, idx,
                          true, getBufferName(i.buffer));
          int8_t *dst =
              (i.buffer == Buffer::Inp ? inp.data() : wgt.data()) + idx * E;
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
        std::string e = index(i, 0, i.dstBase, m.dst, i.dstFactor0,
                              i.dstFactor1, i0, i1, u, cfg.accDepth, "ACC", a);
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
        e = index(i, 1, i.srcBase, m.src, i.srcFactor0, i.srcFactor1, i0, i1, u,
                  cfg.inpDepth, "INP", x);
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
  const bool readsD = !(op == AluOp::Mov || op == AluOp::Rescale);
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
          e = index(i, 1, i.srcBase, m.src, i.srcFactor0, i.srcFactor1, i0, i1,
                    u, cfg.accDepth, "ACC", s);
        if (e.empty() && numP) {
          e = index(i, 2, i.wgtBase, m.wgt, i.wgtFactor0, i.wgtFactor1, i0, i1,
                    u, cfg.accDepth, "ACC", p);
          if (e.empty() && p + numP > cfg.accDepth)
            e = fail("parameter rows ACC[" + std::to_string(p) + ".." +
                     std::to_string(p + numP - 1) + "] out of bounds (depth " +
                     std::to_string(cfg.accDepth) + ")");
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
              v = wrapAdd64(wrapMul64(dv, P[l]),
                            wrapMul64(S[l], P[2 * BO + l]));
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
