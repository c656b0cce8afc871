//===- MalformedTest.cpp - every error of the reader and the simulator ----===//
//
// One test per way a program can be malformed (docs/NPU.md section 8): each
// must give its error message, never a crash or a silent result.
//
//===----------------------------------------------------------------------===//
#include "NPUTestUtil.h"

#include "gtest/gtest.h"

using namespace mlir::qat::npu;

#define EXPECT_ERROR(expr, needle)                                             \
  do {                                                                         \
    std::string err_ = (expr);                                                 \
    EXPECT_NE(err_.find(needle), std::string::npos)                            \
        << "expected '" << (needle) << "' in '" << err_ << "'";                \
  } while (0)

namespace {
std::string readBytes(const std::vector<uint8_t> &b) {
  Program p;
  return readProgram(b.data(), b.size(), p);
}
void put32(std::vector<uint8_t> &b, size_t off, uint32_t v) {
  for (int k = 0; k < 4; ++k)
    b[off + k] = uint8_t(v >> (8 * k));
}
uint32_t get32(const std::vector<uint8_t> &b, size_t off) {
  return uint32_t(b[off]) | uint32_t(b[off + 1]) << 8 |
         uint32_t(b[off + 2]) << 16 | uint32_t(b[off + 3]) << 24;
}
/// Offset of the section-table entry of `kind` in a written file.
size_t sectionEntry(const std::vector<uint8_t> &b, uint32_t kind) {
  uint32_t n = get32(b, 12);
  for (uint32_t s = 0; s < n; ++s)
    if (get32(b, 128 + 16 * s) == kind)
      return 128 + 16 * s;
  return 0;
}
} // namespace

TEST(NPUMalformed, TinyProgramIsValid) {
  Program p = tinyProgram();
  ASSERT_EQ(p.verify(), "");
  npu::SimOptions o;
  o.config = p.config;
  std::vector<std::vector<uint8_t>> outs;
  SimReport r;
  std::vector<uint8_t> x = {1, 2, 3, 4, 100, 200, 255, 0};
  ASSERT_EQ(simulate(p, o, {x}, outs, r), "");
  std::vector<uint8_t> want = {2, 4, 6, 8, 127, uint8_t(-112), uint8_t(-2), 0};
  EXPECT_EQ(outs[0], want);
}

// --- The file -------------------------------------------------------------

TEST(NPUMalformed, TruncatedFile) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  EXPECT_ERROR(readBytes(std::vector<uint8_t>(b.begin(), b.begin() + 100)),
               "truncated: 100 bytes, shorter than the 128-byte header");
  // Every prefix is rejected with a message, none crashes.
  for (size_t n = 0; n < b.size(); ++n) {
    std::vector<uint8_t> prefix(b.begin(), b.begin() + n);
    std::string e = readBytes(prefix);
    // Trailing alignment padding is not part of any section.
    if (n < b.size() - 15)
      EXPECT_NE(e, "") << "prefix of " << n << " bytes accepted";
  }
  std::vector<uint8_t> cut(b.begin(), b.begin() + 200);
  EXPECT_ERROR(readBytes(cut), "extends past the end of the file (200 bytes)");
}

TEST(NPUMalformed, BadMagic) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  b[0] = 'X';
  EXPECT_ERROR(readBytes(b), "bad magic");
}

TEST(NPUMalformed, UnsupportedVersion) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  put32(b, 4, 2);
  EXPECT_ERROR(readBytes(b), "unsupported version 2");
}

TEST(NPUMalformed, BadHeaderFields) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  std::vector<uint8_t> c = b;
  put32(c, 8, 64);
  EXPECT_ERROR(readBytes(c), "header size 64");
  c = b;
  c[100] = 1;
  EXPECT_ERROR(readBytes(c), "nonzero reserved header byte 100");
  c = b;
  put32(c, 24, 0); // block_in = 0
  EXPECT_ERROR(readBytes(c), "header config: 'block_in' = 0");
  c = b;
  put32(c, 12, 1000000);
  EXPECT_ERROR(readBytes(c), "section table of 1000000 entries");
}

TEST(NPUMalformed, SectionSizeNotCountTimesRecord) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  size_t e = sectionEntry(b, 1);
  put32(b, e + 4, get32(b, e + 4) + 1);
  EXPECT_ERROR(readBytes(b), "section 1 (instructions): size 256 is not count 5 x 64");
}

TEST(NPUMalformed, SectionPastTheEnd) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  size_t e = sectionEntry(b, 3);
  put32(b, e + 8, uint32_t(b.size()) - 4);
  EXPECT_ERROR(readBytes(b), "section 3 (data) at offset");
}

TEST(NPUMalformed, DuplicateAndMissingSections) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  std::vector<uint8_t> c = b;
  put32(c, sectionEntry(c, 2), 1); // micro-ops entry now says instructions
  EXPECT_ERROR(readBytes(c), "appears twice");
  c = b;
  put32(c, sectionEntry(c, 1), 77); // unknown kinds are skipped...
  EXPECT_ERROR(readBytes(c), "no instruction section");
}

TEST(NPUMalformed, BadStringOffset) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  size_t tensors = get32(b, sectionEntry(b, 4) + 8);
  put32(b, tensors, 9999);
  EXPECT_ERROR(readBytes(b), "tensor 0: name offset 9999 not a string");
}

TEST(NPUMalformed, BadTensorDescriptor) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  size_t t = get32(b, sectionEntry(b, 4) + 8);
  std::vector<uint8_t> c = b;
  c[t + 4] = 2;
  EXPECT_ERROR(readBytes(c), "tensor 0: unknown kind 2");
  c = b;
  c[t + 6] = 7;
  EXPECT_ERROR(readBytes(c), "tensor 0: rank 7 > 6");
  c = b;
  put32(c, t + 8, 60); // 8 bytes at 60 > dram_size 64
  EXPECT_ERROR(readBytes(c), "tensor 0 'x': bytes [60, 68) outside dram_size 64");
}

TEST(NPUMalformed, BadInstructionEncodingInFile) {
  std::vector<uint8_t> b = writeProgram(tinyProgram());
  size_t insns = get32(b, sectionEntry(b, 1) + 8);
  std::vector<uint8_t> c = b;
  c[insns + 64 * 2] = 7;
  EXPECT_ERROR(readBytes(c), "program: instruction 2: unknown opcode 7");
  c = b;
  c[insns + 64 * 1 + 62] = 1; // ALU imm2 of ADD
  EXPECT_ERROR(readBytes(c), "instruction 1: ALU ADD: imm1/imm2 must be 0");
  c = b;
  c[insns + 64 * 0 + 50] = 1; // LOAD reserved byte
  EXPECT_ERROR(readBytes(c), "instruction 0: LOAD: nonzero unused byte 50");
}

// --- Static program rules ---------------------------------------------------

TEST(NPUMalformed, MissingOrMisplacedFinish) {
  Program p = tinyProgram();
  p.instructions.pop_back();
  EXPECT_ERROR(p.verify(), "the last instruction must be FINISH");
  p = tinyProgram();
  p.instructions.insert(p.instructions.begin(), Instruction::finish());
  EXPECT_ERROR(p.verify(), "instruction 0: FINISH before the end");
}

TEST(NPUMalformed, LayerIdOutOfRange) {
  Program p = tinyProgram();
  p.instructions[1].layer = 3;
  EXPECT_ERROR(p.verify(), "instruction 1: layer 3 not in the layer table");
}

TEST(NPUMalformed, DataOrMicroOpsTooLarge) {
  Program p = tinyProgram();
  p.data.resize(65);
  EXPECT_ERROR(p.verify(), "data segment of 65 bytes does not fit dram_size 64");
  p = tinyProgram();
  p.microOps.resize(65);
  EXPECT_ERROR(p.verify(), "65 micro-ops do not fit the UOP buffer");
  p = tinyProgram();
  p.dramSize = (1u << 30) + 1;
  EXPECT_ERROR(p.verify(), "exceeds 2^30");
}

TEST(NPUMalformed, DramOutOfBounds) {
  Program p = tinyProgram();
  p.instructions[0].dramBase = 60; // 2 entries of 4 bytes, stride 4: up to 68
  EXPECT_ERROR(p.verify(),
               "instruction 0: LOAD: DRAM bytes up to 68 outside dram_size 64");
  p = tinyProgram();
  p.instructions[2].yStride = 100;
  p.instructions[2].ySize = 2;
  EXPECT_ERROR(p.verify(), "STORE: DRAM bytes up to");
}

TEST(NPUMalformed, SramOutOfBoundsInLoad) {
  Program p = tinyProgram();
  p.instructions[0].sramBase = 63;
  EXPECT_ERROR(p.verify(), "ACC entries [63, 65) out of bounds (depth 64)");
  p = tinyProgram();
  p.instructions[0].lanes = 4 * 40; // 40 entries per step, 2 steps
  p.instructions[0].xStride = 160;
  EXPECT_ERROR(p.verify(), "ACC entries [0, 80) out of bounds");
}

TEST(NPUMalformed, BadDependencyFlags) {
  Program p = tinyProgram();
  p.instructions[2].deps |= PushNext;
  EXPECT_ERROR(p.verify(), "the store module has no next module");
}

TEST(NPUMalformed, MicroOpRange) {
  Program p = tinyProgram();
  p.instructions[1].uopEnd = 65;
  EXPECT_ERROR(p.verify(), "micro-op range [0, 65) not within [0, 64]");
}

TEST(NPUMalformed, WrongConfiguration) {
  Program p = tinyProgram();
  SimOptions o;
  o.config = smallConfig();
  o.config.accDepth = 128;
  o.config.blockIn = 8;
  Simulator sim(o);
  EXPECT_ERROR(sim.load(p), "program built for another NPU configuration "
                            "(program vs machine): block_in=4 vs 8, "
                            "acc_depth=64 vs 128");
  // Timing parameters may differ.
  o.config = smallConfig();
  o.config.dramLatency = 1;
  Simulator sim2(o);
  EXPECT_EQ(sim2.load(p), "");
}

TEST(NPUMalformed, WrongInputs) {
  Program p = tinyProgram();
  SimOptions o;
  o.config = p.config;
  std::vector<std::vector<uint8_t>> outs;
  SimReport r;
  EXPECT_ERROR(simulate(p, o, {}, outs, r), "0 inputs given");
  EXPECT_ERROR(simulate(p, o, {std::vector<uint8_t>(3)}, outs, r),
               "input 'x': 3 bytes given, expected 8");
  Simulator sim(o);
  EXPECT_ERROR(sim.run(r), "no program loaded");
  ASSERT_EQ(sim.load(p), "");
  EXPECT_ERROR(sim.setInput(1, {}), "tensor 1 is not an input");
}

// --- Run-time errors ----------------------------------------------------------

TEST(NPUMalformed, GemmIndexOutOfBounds) {
  Program p = tinyProgram();
  // Replace the ALU by a GEMM whose INP index walks past the buffer.
  Instruction g = Instruction::gemm(false, 0, 1, 2, 3);
  g.srcFactor0 = 40; // i0=1, i1=0: 40; fine. i1 steps by 10: 40+20=60, ok
  g.srcFactor1 = 12; // i0=1, i1=2: 40+24=64 -> out of bounds (depth 64)
  g.deps = PushNext;
  p.instructions[1] = g;
  EXPECT_ERROR(runProgram(p), "instruction 1 (GEMM): INP index 64 out of "
                              "bounds (depth 64) at i0=1 i1=2 uop=0");
  g.srcFactor0 = g.srcFactor1 = 0;
  g.wgtBase = 30;
  g.wgtFactor1 = 1;
  p.instructions[1] = g;
  EXPECT_ERROR(runProgram(p), "WGT index 32 out of bounds (depth 32) at i0=0 "
                              "i1=2");
  g.wgtBase = 0;
  g.wgtFactor1 = 0;
  g.dstFactor0 = -5; // negative index
  p.instructions[1] = g;
  EXPECT_ERROR(runProgram(p), "ACC index -5 out of bounds");
  // Indices from micro-ops count too.
  g.dstFactor0 = 0;
  p.instructions[1] = g;
  p.microOps[0].dst = 1000;
  EXPECT_ERROR(runProgram(p), "ACC index 1000 out of bounds");
}

TEST(NPUMalformed, AluIndexOutOfBounds) {
  Program p = tinyProgram();
  p.instructions[1].srcBase = 63; // i0=1: 64
  EXPECT_ERROR(runProgram(p), "instruction 1 (ALU ADD): ACC index 64 out of "
                              "bounds (depth 64) at i0=1 i1=0 uop=0");
  p = tinyProgram();
  Instruction rs = Instruction::alu(AluOp::RescaleAdd, 0, 1, 1, 1);
  rs.wgtBase = 62; // rows 62, 63, 64
  rs.imm2 = 127;
  rs.deps = PushNext;
  p.instructions[1] = rs;
  EXPECT_ERROR(runProgram(p), "parameter rows ACC[62..64] out of bounds");
}

TEST(NPUMalformed, BadRescaleShift) {
  Program p = tinyProgram();
  Instruction rs = Instruction::alu(AluOp::Rescale, 0, 1, 1, 1);
  rs.wgtBase = 10; // rows 10 (M) and 11 (n) are zero: n = 0
  rs.imm2 = 127;
  rs.deps = PushNext;
  p.instructions[1] = rs;
  EXPECT_ERROR(runProgram(p), "instruction 1 (ALU RESCALE): shift 0 at "
                              "ACC[11] lane 0 outside [1, 62]");
}

TEST(NPUMalformed, BadShrShiftFromRow) {
  Program p = tinyProgram();
  Instruction sh = Instruction::alu(AluOp::Shr, 0, 1, 1, 1);
  sh.srcBase = 0; // row 0 holds the input codes: 1, 2, 3, 40
  sh.deps = PushNext;
  p.instructions[1] = sh;
  npu::SimOptions o;
  o.config = p.config;
  std::vector<std::vector<uint8_t>> outs;
  SimReport r;
  EXPECT_EQ(simulate(p, o, {{1, 2, 3, 4, 5, 6, 7, 8}}, outs, r), "");
  EXPECT_ERROR(simulate(p, o, {{1, 2, 3, 40, 5, 6, 7, 8}}, outs, r),
               "(ALU SHR): shift 40 at ACC[0] lane 3 outside [0, 31]");
}

TEST(NPUMalformed, Deadlock) {
  Program p = tinyProgram();
  p.instructions[1].deps |= PopPrev; // the load module never pushes
  EXPECT_ERROR(runProgram(p),
               "deadlock: load module finished; compute module waits at "
               "instruction 1 (ALU, pop_prev: load->compute queue empty); "
               "store module waits at instruction 2 (STORE, pop_prev: "
               "compute->store queue empty)");
  // A cycle: store waits for compute, which waits for store.
  p = tinyProgram();
  p.instructions[1].deps |= PopNext;
  EXPECT_ERROR(runProgram(p), "deadlock:");
}

TEST(NPUMalformed, RaceReadBeforeWrite) {
  Program p = tinyProgram();
  p.instructions[1].deps = 0; // the store no longer waits for the ALU
  p.instructions[2].deps = PushPrev;
  EXPECT_ERROR(runProgram(p), "data race: instruction 2 (STORE, store) reads "
                              "ACC[0], written by instruction 0 (LOAD, "
                              "compute) with no chain of dependency tokens");
}

TEST(NPUMalformed, RaceOverwriteWhileInUse) {
  // The load module writes INP that a GEMM reads, with no token between.
  Program p = tinyProgram();
  Instruction li = Instruction::load(Buffer::Inp, DType::I8, 0, 0, 1, 1, 0, 4);
  Instruction g = Instruction::gemm(false, 0, 1, 1, 1);
  p.instructions.insert(p.instructions.begin() + 1, g);
  p.instructions.insert(p.instructions.begin(), li);
  for (Instruction &i : p.instructions)
    if (i.opcode != Opcode::Finish)
      i.layer = kNoLayer;
  ASSERT_EQ(p.verify(), "");
  EXPECT_ERROR(runProgram(p), "data race: instruction 2 (GEMM, compute) reads "
                              "INP[0], written by instruction 0 (LOAD, load)");
  // Write after read: the load comes second in time but is not ordered.
  p.instructions[0].deps = PushNext;
  p.instructions[2].deps = PopPrev;
  Instruction again = li;
  p.instructions.insert(p.instructions.begin() + 1, again);
  ASSERT_EQ(p.verify(), "");
  EXPECT_ERROR(runProgram(p), "data race:");
}

TEST(NPUMalformed, RaceOnDram) {
  // Store writes y; a later LOAD into ACC reads it without waiting.
  Program p = tinyProgram();
  Instruction reread =
      Instruction::load(Buffer::Acc, DType::I8, 8, 32, 1, 1, 0, 4);
  p.instructions.insert(p.instructions.end() - 1, reread);
  // Whichever runs first, the pair is reported.
  std::string e = runProgram(p);
  EXPECT_ERROR(e, "data race: instruction ");
  EXPECT_ERROR(e, "DRAM byte [32]");
  EXPECT_ERROR(e, "instruction 3 (LOAD, compute)");
  EXPECT_ERROR(e, "instruction 2 (STORE, store)");
  // Waiting for the store's token makes it legal.
  p = tinyProgram();
  reread.deps = PopNext;
  p.instructions[2].deps = PopPrev | PushPrev;
  p.instructions.insert(p.instructions.end() - 1, reread);
  p.instructions.back().deps = 0; // FINISH: the token was consumed above
  EXPECT_EQ(runProgram(p), "");
}

TEST(NPUMalformed, UnbalancedTokens) {
  // A load-module instruction pushes a token that compute never pops.
  Program p = tinyProgram();
  p.instructions.insert(
      p.instructions.begin(),
      withDeps(Instruction::load(Buffer::Inp, DType::I8, 0, 0, 1, 1, 0, 4),
               PushNext));
  EXPECT_ERROR(runProgram(p), "FINISH: queue load->compute holds 1 token(s)");
}

TEST(NPUMalformed, FinishDoesNotWaitForStore) {
  Program p = tinyProgram();
  p.instructions[2].deps = PopPrev;
  p.instructions[3].deps = 0;
  EXPECT_ERROR(runProgram(p), "FINISH (instruction 3) starts");
}

TEST(NPUMalformed, CycleLimit) {
  Program p = tinyProgram();
  EXPECT_EQ(runProgram(p, 1000), "");
  EXPECT_ERROR(runProgram(p, 10), "past the limit of 10 cycles");
  // A loop of 2^48 iterations is refused before it runs.
  p.instructions[1].extent0 = p.instructions[1].extent1 = 0xFFFF;
  p.instructions[1].uopEnd = 64;
  p.instructions[1].dstFactor0 = p.instructions[1].srcFactor0 = 0;
  EXPECT_ERROR(runProgram(p, 1000000),
               "instruction 1 (ALU, 274869518400 iterations) would end past "
               "the limit of 1000000 cycles");
}

// --- Fuzzing ---------------------------------------------------------------

TEST(NPUMalformed, RandomCorruptionNeverCrashes) {
  std::vector<uint8_t> good = writeProgram(tinyProgram());
  std::mt19937 rng(42);
  int accepted = 0, ran = 0;
  for (int n = 0; n < 3000; ++n) {
    std::vector<uint8_t> b = good;
    int flips = 1 + int(rng() % 4);
    for (int f = 0; f < flips; ++f)
      b[rng() % b.size()] = uint8_t(rng());
    if (rng() % 8 == 0)
      b.resize(rng() % b.size());
    Program p;
    if (!readProgram(b.data(), b.size(), p).empty())
      continue;
    ++accepted;
    std::string e = runProgram(p, 1u << 20);
    ran += e.empty();
  }
  // Some corruptions hit unused bytes (names, scale, data) and still run.
  EXPECT_GT(accepted, 0);
  EXPECT_GT(ran, 0);
}
