//===- SimulatorTest.cpp - NPU programs against direct C++ references -----===//
//
// Hand-written programs (GEMM + requantization, a padded convolution, every
// ALU op, saturating stores, double buffering) checked element for element
// against references computed here with plain loops and 128-bit integers.
//
//===----------------------------------------------------------------------===//
#include "NPUTestUtil.h"

#include "gtest/gtest.h"

#include <climits>

using namespace mlir::qat::npu;

namespace {

/// qat.rescale in exact arithmetic (no wrap-around can occur for these
/// operands): floor((acc*M + 2^(n-1)) / 2^n) + zp, clamped.
int32_t refRescale(int64_t acc, int64_t m, int n, int64_t zp, int64_t lo,
                   int64_t hi) {
  __int128 v = (__int128)acc * m + ((__int128)1 << (n - 1));
  // Floor division by 2^n.
  __int128 d = (__int128)1 << n;
  __int128 q = v / d;
  if ((v % d != 0) && (v < 0))
    q -= 1;
  q += zp;
  if (q < lo)
    q = lo;
  if (q > hi)
    q = hi;
  return int32_t(q);
}

int32_t refRescaleAdd(int64_t a, int64_t ma, int64_t b, int64_t mb, int n,
                      int64_t zp, int64_t lo, int64_t hi) {
  __int128 v = (__int128)a * ma + (__int128)b * mb + ((__int128)1 << (n - 1));
  __int128 d = (__int128)1 << n;
  __int128 q = v / d;
  if ((v % d != 0) && (v < 0))
    q -= 1;
  q += zp;
  q = q < lo ? lo : q > hi ? hi : q;
  return int32_t(q);
}

struct Matmul {
  int M, K, N;
  std::vector<int8_t> x, w; // x: M x K, w: K x N
  std::vector<int32_t> bias, mult, shift;
  int32_t zp, lo, hi;
};

Matmul randomMatmul(int M, int K, int N, unsigned seed) {
  std::mt19937 rng(seed);
  Matmul t{M, K, N, {}, {}, {}, {}, {}, 3, -128, 127};
  for (int k = 0; k < M * K; ++k)
    t.x.push_back(int8_t(rng() % 256 - 128));
  for (int k = 0; k < K * N; ++k)
    t.w.push_back(int8_t(rng() % 256 - 128));
  for (int n = 0; n < N; ++n) {
    t.bias.push_back(int32_t(rng() % 20001) - 10000);
    t.mult.push_back(int32_t((1u << 30) + rng() % (1u << 30)));
    t.shift.push_back(int32_t(40 + rng() % 3));
  }
  return t;
}

std::vector<int8_t> refMatmul(const Matmul &t) {
  std::vector<int8_t> out;
  for (int m = 0; m < t.M; ++m)
    for (int n = 0; n < t.N; ++n) {
      int64_t acc = t.bias[n];
      for (int k = 0; k < t.K; ++k)
        acc += int64_t(t.x[m * t.K + k]) * t.w[k * t.N + n];
      out.push_back(int8_t(
          refRescale(acc, t.mult[n], t.shift[n], t.zp, t.lo, t.hi)));
    }
  return out;
}

/// y = rescale(x * w + bias), per output channel, as one program: INP and
/// WGT loaded by the load module, bias and parameters into ACC, GEMM, ALU
/// ADD, ALU RESCALE, STORE i8.
Program buildMatmul(const Config &c, const Matmul &t) {
  const uint32_t BI = c.blockIn, BO = c.blockOut;
  const uint32_t Kb = (t.K + BI - 1) / BI, Nb = (t.N + BO - 1) / BO;
  Program p;
  p.config = c;
  // Weights: block (kb, nb) at WGT[nb*Kb + kb], lane o*BI + i.
  std::vector<int8_t> wb(size_t(Kb) * Nb * BI * BO, 0);
  for (uint32_t nb = 0; nb < Nb; ++nb)
    for (uint32_t kb = 0; kb < Kb; ++kb)
      for (uint32_t o = 0; o < BO; ++o)
        for (uint32_t i = 0; i < BI; ++i) {
          uint32_t k = kb * BI + i, n = nb * BO + o;
          if (k < uint32_t(t.K) && n < uint32_t(t.N))
            wb[(size_t(nb) * Kb + kb) * BI * BO + o * BI + i] =
                t.w[k * t.N + n];
        }
  uint32_t wAddr = addData(p, wb.data(), wb.size());
  // Bias rows, then (multiplier, shift) row pairs, per output block.
  std::vector<uint8_t> rows;
  for (uint32_t nb = 0; nb < Nb; ++nb)
    for (uint32_t o = 0; o < BO; ++o) {
      uint32_t n = nb * BO + o;
      putI32(rows, n < uint32_t(t.N) ? t.bias[n] : 0);
    }
  for (uint32_t nb = 0; nb < Nb; ++nb) {
    for (uint32_t o = 0; o < BO; ++o) {
      uint32_t n = nb * BO + o;
      putI32(rows, n < uint32_t(t.N) ? t.mult[n] : 1 << 30);
    }
    for (uint32_t o = 0; o < BO; ++o) {
      uint32_t n = nb * BO + o;
      putI32(rows, n < uint32_t(t.N) ? t.shift[n] : 31);
    }
  }
  uint32_t rowAddr = addData(p, rows.data(), rows.size());
  while (p.data.size() % 16)
    p.data.push_back(0);
  uint32_t xAddr = uint32_t(p.data.size());
  uint32_t yAddr = xAddr + uint32_t(t.M * t.K);
  p.dramSize = yAddr + uint32_t(t.M * t.N);
  p.tensors.push_back({"x", false, DType::I8, {uint32_t(t.M), uint32_t(t.K)},
                       xAddr, 0.5f, 0});
  p.tensors.push_back({"y", true, DType::I8, {uint32_t(t.M), uint32_t(t.N)},
                       yAddr, 0.25f, t.zp});
  p.layers.push_back({"matmul", uint64_t(t.M) * t.K * t.N});

  const uint32_t outRows = t.M * Nb, biasRow = outRows,
                 paramRow = outRows + Nb;
  // Micro-ops: [0] reset/ALU identity, [1 .. 1+Kb) GEMM taps.
  p.microOps.push_back({0, 0, 0});
  for (uint32_t kb = 0; kb < Kb; ++kb)
    p.microOps.push_back({0, kb, kb});

  // Load module: x (one step per row: K lanes over Kb entries), weights.
  p.instructions.push_back(Instruction::load(Buffer::Inp, DType::I8, 0, xAddr,
                                             1, uint16_t(t.M), 0, t.K,
                                             uint16_t(t.K)));
  Instruction lw = Instruction::load(Buffer::Wgt, DType::I8, 0, wAddr, 1,
                                     uint16_t(Kb * Nb), 0, BI * BO);
  lw.deps = PushNext;
  p.instructions.push_back(lw);
  // Compute: bias and parameters, reset, GEMM, bias add, rescale.
  p.instructions.push_back(Instruction::load(Buffer::Acc, DType::I32, biasRow,
                                             rowAddr, 1, uint16_t(3 * Nb), 0,
                                             4 * BO));
  Instruction reset = Instruction::gemm(true, 0, 1, uint16_t(outRows), 1);
  reset.dstFactor0 = 1;
  p.instructions.push_back(reset);
  Instruction g = Instruction::gemm(false, 1, uint16_t(1 + Kb), uint16_t(t.M),
                                    uint16_t(Nb));
  g.deps = PopPrev;
  g.dstFactor0 = int32_t(Nb);
  g.dstFactor1 = 1;
  g.srcFactor0 = int32_t(Kb);
  g.wgtFactor1 = int32_t(Kb);
  p.instructions.push_back(g);
  Instruction add = Instruction::alu(AluOp::Add, 0, 1, uint16_t(t.M),
                                     uint16_t(Nb));
  add.dstFactor0 = int32_t(Nb);
  add.dstFactor1 = 1;
  add.srcBase = biasRow;
  add.srcFactor1 = 1;
  p.instructions.push_back(add);
  Instruction rs = Instruction::alu(AluOp::Rescale, 0, 1, uint16_t(t.M),
                                    uint16_t(Nb));
  rs.dstFactor0 = rs.srcFactor0 = int32_t(Nb);
  rs.dstFactor1 = rs.srcFactor1 = 1;
  rs.wgtBase = paramRow;
  rs.wgtFactor1 = 2;
  rs.imm0 = t.zp;
  rs.imm1 = t.lo;
  rs.imm2 = t.hi;
  rs.deps = PushNext;
  p.instructions.push_back(rs);
  Instruction st = Instruction::store(DType::I8, 0, yAddr, 1, uint16_t(t.M), 0,
                                      t.N, uint16_t(t.N));
  st.deps = PopPrev | PushPrev;
  p.instructions.push_back(st);
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  for (Instruction &i : p.instructions)
    if (i.opcode != Opcode::Finish)
      i.layer = 0;
  return p;
}

std::vector<int8_t> runOne(const Program &p, const std::vector<int8_t> &x,
                           SimReport *reportOut = nullptr) {
  SimOptions o;
  o.config = p.config;
  std::vector<std::vector<uint8_t>> outs;
  SimReport report;
  std::string e = simulate(p, o, {std::vector<uint8_t>(x.begin(), x.end())},
                           outs, report);
  EXPECT_EQ(e, "");
  if (reportOut)
    *reportOut = report;
  if (outs.empty())
    return {};
  return std::vector<int8_t>(outs[0].begin(), outs[0].end());
}
} // namespace

TEST(NPUSimulator, MatmulRescaleMatchesReference) {
  for (Config c : {smallConfig(), Config()}) {
    for (unsigned seed = 1; seed <= 3; ++seed) {
      Matmul t = randomMatmul(5, 10, 6, seed);
      Program p = buildMatmul(c, t);
      ASSERT_EQ(p.verify(), "");
      std::vector<int8_t> want = refMatmul(t);
      std::vector<int8_t> got = runOne(p, t.x);
      ASSERT_EQ(got.size(), want.size());
      int mismatches = 0, saturated = 0;
      for (size_t k = 0; k < want.size(); ++k) {
        mismatches += got[k] != want[k];
        saturated += want[k] == 127 || want[k] == -128;
      }
      EXPECT_EQ(mismatches, 0) << "block " << c.blockIn << " seed " << seed;
      EXPECT_LT(saturated, int(want.size()) / 2) << "test data too coarse";
    }
  }
}

TEST(NPUSimulator, MatmulSurvivesTheFileFormat) {
  Config c = smallConfig();
  Matmul t = randomMatmul(7, 9, 5, 11);
  Program p = buildMatmul(c, t);
  std::vector<uint8_t> bytes = writeProgram(p);
  Program q;
  ASSERT_EQ(readProgram(bytes.data(), bytes.size(), q), "");
  EXPECT_EQ(writeProgram(q), bytes);
  EXPECT_EQ(q.instructions.size(), p.instructions.size());
  EXPECT_EQ(q.tensors[1].name, "y");
  EXPECT_EQ(q.tensors[1].zeroPoint, 3);
  EXPECT_EQ(q.tensors[1].scale, 0.25f);
  EXPECT_EQ(q.layers[0].macs, 7u * 9 * 5);
  EXPECT_EQ(runOne(q, t.x), refMatmul(t));
}

TEST(NPUSimulator, Disassembly) {
  Program p = buildMatmul(smallConfig(), randomMatmul(2, 5, 3, 1));
  std::string text = disassemble(p);
  EXPECT_NE(text.find("block_in=4 block_out=4"), std::string::npos) << text;
  EXPECT_NE(text.find("tensor 0 input 'x' i8[2x5]"), std::string::npos)
      << text;
  EXPECT_NE(text.find("layer 0 'matmul' macs 30"), std::string::npos) << text;
  EXPECT_NE(text.find("uop 1: dst=0 src=0 wgt=0"), std::string::npos) << text;
  EXPECT_NE(text.find("load    L0 LOAD WGT[0] <- dram[0x0] i8 y=1x0 x=2x16 "
                      "lanes=all deps{push_next}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("compute L0 ALU RESCALE uop[0,1) loop=2x1 d=0+(1,1) "
                      "s=0+(1,1) p=3+(0,2) zp=3 clamp=[-128,127]"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("compute FINISH deps{pop_next}"), std::string::npos)
      << text;
}

TEST(NPUSimulator, PaddedConvolutionMatchesReference) {
  // 3x3 convolution, padding 1 done by LOAD with pad_value -3, 3 -> 5
  // channels on 4x4 blocks, int32 results stored raw.
  const int H = 5, W = 6, Ci = 3, Co = 5, pad = -3;
  Config c = smallConfig();
  const uint32_t BI = c.blockIn, BO = c.blockOut, Nb = 2;
  std::mt19937 rng(5);
  std::vector<int8_t> x(H * W * Ci), w(9 * Ci * Co); // NHWC, HWIO
  for (auto &v : x)
    v = int8_t(rng() % 256 - 128);
  for (auto &v : w)
    v = int8_t(rng() % 256 - 128);
  Program p;
  p.config = c;
  std::vector<int8_t> wb(9 * Nb * BI * BO, 0);
  for (int t = 0; t < 9; ++t)
    for (uint32_t nb = 0; nb < Nb; ++nb)
      for (uint32_t o = 0; o < BO; ++o)
        for (int i = 0; i < Ci; ++i)
          if (nb * BO + o < uint32_t(Co))
            wb[(t * Nb + nb) * BI * BO + o * BI + i] =
                w[(t * Ci + i) * Co + nb * BO + o];
  uint32_t wAddr = addData(p, wb.data(), wb.size());
  uint32_t xAddr = uint32_t(p.data.size());
  uint32_t yAddr = xAddr + H * W * Ci;
  p.dramSize = yAddr + H * W * Co * 4;
  p.tensors.push_back({"x", false, DType::I8, {1, H, W, Ci}, xAddr, 1, 0});
  p.tensors.push_back({"acc", true, DType::I32, {1, H, W, Co}, yAddr, 1, 0});
  p.microOps.push_back({0, 0, 0});
  for (int kh = 0; kh < 3; ++kh)
    for (int kw = 0; kw < 3; ++kw)
      for (uint32_t nb = 0; nb < Nb; ++nb)
        p.microOps.push_back(
            {nb, uint32_t(kh * (W + 2) + kw), uint32_t((kh * 3 + kw) * Nb + nb)});
  Instruction lx = Instruction::load(Buffer::Inp, DType::I8, 0, xAddr, H, W,
                                     W * Ci, Ci, Ci);
  lx.yPad0 = lx.yPad1 = lx.xPad0 = lx.xPad1 = 1;
  lx.padValue = pad;
  p.instructions.push_back(lx);
  p.instructions.push_back(withDeps(
      Instruction::load(Buffer::Wgt, DType::I8, 0, wAddr, 1, 9 * Nb, 0,
                        BI * BO),
      PushNext));
  Instruction reset = Instruction::gemm(true, 0, 1, H * W * Nb, 1);
  reset.dstFactor0 = 1;
  p.instructions.push_back(reset);
  Instruction g = Instruction::gemm(false, 1, 1 + 9 * Nb, H, W);
  g.deps = PopPrev | PushNext;
  g.dstFactor0 = W * Nb;
  g.dstFactor1 = Nb;
  g.srcFactor0 = W + 2;
  g.srcFactor1 = 1;
  p.instructions.push_back(g);
  p.instructions.push_back(withDeps(
      Instruction::store(DType::I32, 0, yAddr, 1, H * W, 0, Co * 4, Co),
      PopPrev | PushPrev));
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  ASSERT_EQ(p.verify(), "");

  SimOptions o;
  o.config = c;
  std::vector<std::vector<uint8_t>> outs;
  SimReport report;
  ASSERT_EQ(simulate(p, o, {std::vector<uint8_t>(x.begin(), x.end())}, outs,
                     report),
            "");
  ASSERT_EQ(outs[0].size(), size_t(H * W * Co * 4));
  int mismatches = 0;
  for (int h = 0; h < H; ++h)
    for (int ww = 0; ww < W; ++ww)
      for (int co = 0; co < Co; ++co) {
        int32_t acc = 0;
        for (int kh = 0; kh < 3; ++kh)
          for (int kw = 0; kw < 3; ++kw)
            for (int ci = 0; ci < Ci; ++ci) {
              int y = h + kh - 1, xx = ww + kw - 1;
              int32_t v = (y < 0 || y >= H || xx < 0 || xx >= W)
                              ? pad
                              : x[(y * W + xx) * Ci + ci];
              acc += v * w[((kh * 3 + kw) * Ci + ci) * Co + co];
            }
        const uint8_t *b = &outs[0][((h * W + ww) * Co + co) * 4];
        int32_t got = int32_t(uint32_t(b[0]) | uint32_t(b[1]) << 8 |
                              uint32_t(b[2]) << 16 | uint32_t(b[3]) << 24);
        mismatches += got != acc;
      }
  EXPECT_EQ(mismatches, 0);
  EXPECT_EQ(report.gemmOps, uint64_t(H * W * 9 * Nb));
}

TEST(NPUSimulator, EveryAluOpMatchesReference) {
  Config c; // 16 lanes
  const uint32_t BO = c.blockOut;
  std::vector<int32_t> A = {0, 1, -1, INT_MAX, INT_MIN, 12345, -54321, 100,
                            -100, 7, -7, 1 << 20, -(1 << 20), 65535, 3, -128};
  std::vector<int32_t> B = {5, -1, 1, 1, -1, 2, -3, INT_MIN, INT_MAX, 0, 0,
                            1 << 12, -(1 << 12), 65537, -5, 127};
  std::vector<int32_t> S(BO), Ma(BO), N(BO), Mb(BO);
  std::mt19937 rng(3);
  for (uint32_t l = 0; l < BO; ++l) {
    S[l] = int32_t(l * 2); // 0..30
    Ma[l] = int32_t((1u << 30) + rng() % (1u << 30));
    Mb[l] = l % 3 == 0 ? -Ma[l] : int32_t((1u << 30) + rng() % (1u << 30));
    N[l] = int32_t(1 + (l * 4) % 62); // 1..61
  }
  N[15] = 62;
  // Rows: 0 A, 1 B, 2 S, 3 Ma, 4 N, 5 Mb, results from 8.
  Program p;
  p.config = c;
  std::vector<uint8_t> rows;
  for (auto *r : {&A, &B, &S, &Ma, &N, &Mb})
    for (int32_t v : *r)
      putI32(rows, v);
  uint32_t at = addData(p, rows.data(), rows.size());
  struct Case {
    AluOp op;
    bool imm;
    int32_t i0, i1, i2;
    uint32_t src;
  };
  std::vector<Case> cases = {
      {AluOp::Mov, false, 0, 0, 0, 1},     {AluOp::Mov, true, -9, 0, 0, 1},
      {AluOp::Add, false, 0, 0, 0, 1},     {AluOp::Add, true, INT_MAX, 0, 0, 1},
      {AluOp::Sub, false, 0, 0, 0, 1},     {AluOp::Mul, false, 0, 0, 0, 1},
      {AluOp::Mul, true, -3, 0, 0, 1},     {AluOp::Min, false, 0, 0, 0, 1},
      {AluOp::Max, false, 0, 0, 0, 1},     {AluOp::Max, true, 0, 0, 0, 1},
      {AluOp::Shr, false, 0, 0, 0, 2},     {AluOp::Shr, true, 3, 0, 0, 1},
      {AluOp::Clamp, false, 0, -50, 60, 1}, {AluOp::Mac, false, 0, 0, 0, 1},
      {AluOp::Rescale, false, 2, -128, 127, 1},
      {AluOp::Rescale, false, 0, INT_MIN, INT_MAX, 1},
      {AluOp::RescaleAdd, false, -1, -128, 127, 1},
      {AluOp::RescaleAdd, false, 0, INT_MIN, INT_MAX, 1},
  };
  const uint32_t first = 8;
  p.dramSize = uint32_t(p.data.size() + cases.size() * BO * 4);
  uint32_t outAddr = uint32_t(p.data.size());
  p.tensors.push_back({"out", true, DType::I32,
                       {uint32_t(cases.size()), BO}, outAddr, 1, 0});
  p.microOps.push_back({0, 0, 0});
  p.instructions.push_back(Instruction::load(Buffer::Acc, DType::I32, 0, at, 1,
                                             6, 0, 4 * BO));
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case &cs = cases[k];
    Instruction mov = Instruction::alu(AluOp::Mov, 0, 1, 1, 1);
    mov.dstBase = first + uint32_t(k); // d = A
    p.instructions.push_back(mov);
    Instruction i = Instruction::alu(cs.op, 0, 1, 1, 1);
    i.dstBase = first + uint32_t(k);
    i.srcBase = cs.src;
    // MAC multiplies by row 1 (B); the rescales take rows 3, 4, 5.
    i.wgtBase = cs.op == AluOp::Mac ? 1 : 3;
    if (cs.imm)
      i.flags = AluUseImm;
    i.imm0 = cs.i0;
    i.imm1 = cs.i1;
    i.imm2 = cs.i2;
    ASSERT_EQ(verify(i, c), "") << k;
    p.instructions.push_back(i);
  }
  p.instructions.back().deps = PushNext;
  p.instructions.push_back(withDeps(
      Instruction::store(DType::I32, first, outAddr, 1, uint16_t(cases.size()),
                         0, 4 * BO),
      PopPrev | PushPrev));
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  ASSERT_EQ(p.verify(), "");
  SimOptions o;
  o.config = c;
  std::vector<std::vector<uint8_t>> outs;
  SimReport report;
  ASSERT_EQ(simulate(p, o, {}, outs, report), "");

  auto wrap = [](int64_t v) { return int32_t(uint32_t(uint64_t(v))); };
  for (size_t k = 0; k < cases.size(); ++k) {
    const Case &cs = cases[k];
    for (uint32_t l = 0; l < BO; ++l) {
      int64_t d = A[l];
      int64_t s = cs.src == 2 ? S[l] : B[l];
      int64_t b = cs.imm ? cs.i0 : s;
      int32_t want = 0;
      switch (cs.op) {
      case AluOp::Mov:
        want = int32_t(b);
        break;
      case AluOp::Add:
        want = wrap(d + b);
        break;
      case AluOp::Sub:
        want = wrap(d - b);
        break;
      case AluOp::Mul:
        want = wrap(d * b);
        break;
      case AluOp::Min:
        want = int32_t(std::min(d, b));
        break;
      case AluOp::Max:
        want = int32_t(std::max(d, b));
        break;
      case AluOp::Shr: {
        // Round half up: floor(d / 2^b + 1/2).
        if (b == 0) {
          want = int32_t(d);
        } else {
          __int128 num = (__int128)d * 2 + ((__int128)1 << b);
          __int128 den = (__int128)1 << (b + 1);
          __int128 q = num / den;
          if (num % den != 0 && num < 0)
            q -= 1;
          want = int32_t(q);
        }
        break;
      }
      case AluOp::Clamp:
        want = int32_t(std::min<int64_t>(std::max<int64_t>(d, cs.i1), cs.i2));
        break;
      case AluOp::Mac:
        want = wrap(d + s * B[l]);
        break;
      case AluOp::Rescale:
        want = refRescale(s, Ma[l], N[l], cs.i0, cs.i1, cs.i2);
        break;
      case AluOp::RescaleAdd:
        want = refRescaleAdd(d, Ma[l], s, Mb[l], N[l], cs.i0, cs.i1, cs.i2);
        break;
      }
      const uint8_t *o4 = &outs[0][(k * BO + l) * 4];
      int32_t got = int32_t(uint32_t(o4[0]) | uint32_t(o4[1]) << 8 |
                            uint32_t(o4[2]) << 16 | uint32_t(o4[3]) << 24);
      EXPECT_EQ(got, want) << getAluOpName(cs.op) << " case " << k << " lane "
                           << l << " d=" << d << " s=" << s;
    }
  }
}

TEST(NPUSimulator, StoreSaturatesAndLoadSignExtends) {
  Config c = smallConfig();
  Program p;
  p.config = c;
  std::vector<int8_t> codes = {-128, -1, 0, 127, 5, -5, 100, -100};
  uint32_t codeAddr = addData(p, codes.data(), codes.size());
  std::vector<uint8_t> wide;
  for (int32_t v : {-1000, -129, -128, 0, 127, 128, 1000, INT_MIN})
    putI32(wide, v);
  uint32_t wideAddr = addData(p, wide.data(), wide.size());
  uint32_t out = uint32_t(p.data.size());
  p.dramSize = out + 8 + 32;
  p.tensors.push_back({"sat", true, DType::I8, {8}, out, 1, 0});
  p.tensors.push_back({"ext", true, DType::I32, {8}, out + 8, 1, 0});
  p.instructions.push_back(
      Instruction::load(Buffer::Acc, DType::I32, 0, wideAddr, 1, 2, 0, 16));
  p.instructions.push_back(withDeps(
      Instruction::load(Buffer::Acc, DType::I8, 2, codeAddr, 1, 1, 0, 8, 8),
      PushNext));
  p.instructions.push_back(
      withDeps(Instruction::store(DType::I8, 0, out, 1, 1, 0, 8, 8), PopPrev));
  p.instructions.push_back(withDeps(
      Instruction::store(DType::I32, 2, out + 8, 1, 1, 0, 32, 8), PushPrev));
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  ASSERT_EQ(p.verify(), "");
  Simulator sim(SimOptions{c, true, 0});
  ASSERT_EQ(sim.load(p), "");
  SimReport r;
  ASSERT_EQ(sim.run(r), "");
  std::vector<uint8_t> sat = sim.getTensor(0), ext = sim.getTensor(1);
  const int8_t wantSat[8] = {-128, -128, -128, 0, 127, 127, 127, -128};
  for (int k = 0; k < 8; ++k)
    EXPECT_EQ(int8_t(sat[k]), wantSat[k]) << k;
  for (int k = 0; k < 8; ++k) {
    int32_t v = int32_t(uint32_t(ext[4 * k]) | uint32_t(ext[4 * k + 1]) << 8 |
                        uint32_t(ext[4 * k + 2]) << 16 |
                        uint32_t(ext[4 * k + 3]) << 24);
    EXPECT_EQ(v, codes[k]) << k;
  }
}

namespace {
/// Tiles of y = x * w (one block each): the load module fills INP half
/// t % 2 while compute works on the other; compute hands each half back
/// with a token; compute and store double-buffer ACC the same way. With
/// `dropFreeToken`, load overwrites a half compute may still read.
Program buildDoubleBuffered(const Config &c, int tiles, bool dropFreeToken) {
  Program p;
  p.config = c;
  const uint32_t BI = c.blockIn, BO = c.blockOut, rows = 8;
  std::vector<int8_t> w(BI * BO);
  for (uint32_t k = 0; k < BI * BO; ++k)
    w[k] = int8_t(int(k % 7) - 3);
  uint32_t wAddr = addData(p, w.data(), w.size());
  uint32_t xAddr = uint32_t(p.data.size());
  uint32_t yAddr = xAddr + tiles * rows * BI;
  p.dramSize = yAddr + tiles * rows * BO;
  p.tensors.push_back({"x", false, DType::I8,
                       {uint32_t(tiles * rows), BI}, xAddr, 1, 0});
  p.tensors.push_back({"y", true, DType::I8,
                       {uint32_t(tiles * rows), BO}, yAddr, 1, 0});
  p.layers.push_back({"tiles", uint64_t(tiles) * rows * BI * BO});
  p.microOps.push_back({0, 0, 0});
  p.instructions.push_back(
      Instruction::load(Buffer::Wgt, DType::I8, 0, wAddr, 1, 1, 0, BI * BO));
  for (int t = 0; t < tiles; ++t) {
    uint32_t half = uint32_t(t % 2) * rows;
    // Load: wait for the half to be free (after the first two tiles).
    Instruction lx = Instruction::load(Buffer::Inp, DType::I8, half,
                                       xAddr + t * rows * BI, 1, rows, 0, BI);
    lx.deps = PushNext | ((t >= 2 && !dropFreeToken) ? PopNext : 0);
    p.instructions.push_back(lx);
    // Compute: wait for the tile and for the ACC half to be stored.
    Instruction reset = Instruction::gemm(true, 0, 1, rows, 1);
    reset.dstBase = half;
    reset.dstFactor0 = 1;
    reset.deps = PopPrev | (t >= 2 ? PopNext : 0);
    p.instructions.push_back(reset);
    Instruction g = Instruction::gemm(false, 0, 1, rows, 1);
    g.dstBase = half;
    g.srcBase = half;
    g.dstFactor0 = g.srcFactor0 = 1;
    // Hand the INP half back (unless load will never wait for it), and
    // pass the ACC half to store.
    g.deps = PushNext | ((t + 2 < tiles && !dropFreeToken) ? PushPrev : 0);
    p.instructions.push_back(g);
    Instruction st = Instruction::store(DType::I8, half, yAddr + t * rows * BO,
                                        1, rows, 0, BO);
    st.deps = PopPrev | (t + 2 < tiles || t >= tiles - 1 ? PushPrev : 0);
    p.instructions.push_back(st);
  }
  // Store t pushes for the reset of tile t + 2, and the last store for
  // FINISH; store tiles - 2 has no consumer and pushes nothing.
  p.instructions.push_back(withDeps(Instruction::finish(), PopNext));
  for (Instruction &i : p.instructions)
    if (i.opcode != Opcode::Finish)
      i.layer = 0;
  return p;
}
} // namespace

TEST(NPUSimulator, DoubleBufferingOverlapsAndIsExact) {
  Config c;
  const int tiles = 6;
  Program p = buildDoubleBuffered(c, tiles, false);
  ASSERT_EQ(p.verify(), "");
  std::mt19937 rng(9);
  std::vector<int8_t> x(tiles * 8 * c.blockIn);
  for (auto &v : x)
    v = int8_t(rng() % 256 - 128);
  SimReport report;
  std::vector<int8_t> y = runOne(p, x, &report);
  ASSERT_EQ(y.size(), size_t(tiles * 8 * c.blockOut));
  const auto &w = p.data;
  for (int r = 0; r < tiles * 8; ++r)
    for (uint32_t o = 0; o < c.blockOut; ++o) {
      int32_t acc = 0;
      for (uint32_t i = 0; i < c.blockIn; ++i)
        acc += int32_t(x[r * c.blockIn + i]) *
               int32_t(int8_t(w[o * c.blockIn + i]));
      int32_t want = std::min(127, std::max(-128, acc));
      EXPECT_EQ(y[r * c.blockOut + o], want) << r << "," << o;
    }
  ASSERT_EQ(report.layers.size(), 2u); // "tiles" and FINISH's "<no layer>"
  const LayerStats &l = report.layers[0];
  uint64_t busy = l.loadBusy + l.computeBusy + l.storeBusy;
  EXPECT_LT(l.spanCycles(), busy) << "modules should overlap";
  EXPECT_EQ(report.gemmOps, uint64_t(tiles * 8));
}

TEST(NPUSimulator, TimingFollowsTheFormulas) {
  Config c; // defaults: issue 1, latency 32, 16 B/cycle, pipeline 4
  Program p;
  p.config = c;
  std::vector<int8_t> zeros(512, 1);
  uint32_t at = addData(p, zeros.data(), zeros.size());
  p.dramSize = uint32_t(p.data.size()) + 64;
  p.layers.push_back({"a", 0});
  p.layers.push_back({"b", 0});
  p.microOps.push_back({0, 0, 0});
  p.microOps.push_back({1, 1, 0});
  // Load: 2 WGT blocks = 512 bytes: 1 + 32 + max(32, 2) = 65 cycles.
  Instruction lw = Instruction::load(Buffer::Wgt, DType::I8, 0, at, 1, 2, 0, 256);
  lw.deps = PushNext;
  lw.layer = 0;
  p.instructions.push_back(lw);
  // Compute, after the token at 65: GEMM 3x1 loop x 2 uops: 1 + 4 + 6 = 11.
  Instruction g = Instruction::gemm(false, 0, 2, 3, 1);
  g.deps = PopPrev;
  g.dstFactor0 = 2;
  g.srcFactor0 = 2;
  g.layer = 1;
  p.instructions.push_back(g);
  // RESCALE needs n >= 1: a LOAD fill (no DRAM) of the shift row:
  // 1 + 1 entry = 2 cycles; then 2 RESCALE rows at 2 cycles: 1 + 4 = 5.
  Instruction fill = Instruction::load(Buffer::Acc, DType::I32, 11, 0, 0, 1, 0, 0);
  fill.yPad0 = 1;
  fill.padValue = 1;
  fill.layer = 1;
  p.instructions.push_back(fill);
  Instruction rs = Instruction::alu(AluOp::Rescale, 0, 1, 2, 1);
  rs.dstFactor0 = rs.srcFactor0 = 1;
  rs.wgtBase = 10;
  rs.imm1 = -128;
  rs.imm2 = 127;
  rs.layer = 1;
  p.instructions.push_back(rs);
  p.instructions.push_back(Instruction::finish());
  ASSERT_EQ(p.verify(), "");
  Simulator sim(SimOptions{c, true, 0});
  ASSERT_EQ(sim.load(p), "");
  SimReport r;
  ASSERT_EQ(sim.run(r), "");
  EXPECT_EQ(r.totalCycles, 65u + 11 + 2 + 5 + 1);
  ASSERT_EQ(r.layers.size(), 3u);
  EXPECT_EQ(r.layers[0].spanCycles(), 65u);
  EXPECT_EQ(r.layers[0].dramReadBytes, 512u);
  EXPECT_EQ(r.layers[1].firstCycle, 65u);
  EXPECT_EQ(r.layers[1].spanCycles(), 11u + 2 + 5);
  EXPECT_EQ(r.layers[1].gemmCycles, 6u);
  EXPECT_EQ(r.layers[1].aluCycles, 4u);
  EXPECT_EQ(r.layers[2].name, "<no layer>");
  EXPECT_NE(r.format().find("total"), std::string::npos);
  EXPECT_NE(r.toJson().find("\"total_cycles\": 84"), std::string::npos)
      << r.toJson();

  // Timing parameters come from the machine, not from the program.
  Config slow = c;
  slow.dramLatency = 132;
  Simulator sim2(SimOptions{slow, true, 0});
  ASSERT_EQ(sim2.load(p), "");
  ASSERT_EQ(sim2.run(r), "");
  EXPECT_EQ(r.totalCycles, 84u + 100);
}

TEST(NPUSimulator, DmaSharesOneDramChannel) {
  // The load module and the compute module each load 1024 bytes at cycle 0:
  // both wait 1 + 32 cycles, then the first transfer holds the channel for
  // 64 cycles and the second follows it.
  Config c;
  Program p;
  p.config = c;
  std::vector<uint8_t> bytes(2048, 1);
  addData(p, bytes.data(), bytes.size());
  p.dramSize = 2048;
  p.layers.push_back({"dma", 0});
  Instruction a = Instruction::load(Buffer::Inp, DType::I8, 0, 0, 1, 64, 0, 16);
  a.deps = PushNext;
  a.layer = 0;
  Instruction b =
      Instruction::load(Buffer::Acc, DType::I32, 0, 1024, 1, 16, 0, 64);
  b.layer = 0;
  p.instructions = {a, b, withDeps(Instruction::finish(), PopPrev)};
  ASSERT_EQ(p.verify(), "");
  SimOptions o;
  o.config = c;
  o.recordTrace = true;
  Simulator sim(o);
  ASSERT_EQ(sim.load(p), "");
  SimReport r;
  ASSERT_EQ(sim.run(r), "");
  ASSERT_EQ(r.trace.size(), 3u);
  EXPECT_EQ(r.trace[0].instruction, 0u); // load module first on a tie
  EXPECT_EQ(r.trace[0].start, 0u);
  EXPECT_EQ(r.trace[0].end, 33u + 64);
  EXPECT_EQ(r.trace[1].instruction, 1u);
  EXPECT_EQ(r.trace[1].start, 0u);
  EXPECT_EQ(r.trace[1].end, 33u + 64 + 64);
  EXPECT_EQ(r.layers[0].dramStallCycles, 64u);
  EXPECT_EQ(r.totalCycles, 33u + 128 + 1);
  EXPECT_NE(r.formatTrace().find("     1 compute          0        161      161"),
            std::string::npos)
      << r.formatTrace();
}
