//===- EncodingTest.cpp - NPU instruction and program encoding ------------===//
#include "NPUTestUtil.h"

#include "gtest/gtest.h"

using namespace mlir::qat::npu;

namespace {
Instruction randomInstruction(std::mt19937 &rng) {
  auto u32 = [&] { return uint32_t(rng()); };
  auto u16 = [&] { return uint16_t(rng()); };
  auto u8 = [&] { return uint8_t(rng()); };
  Instruction i;
  i.opcode = Opcode(rng() % 5);
  i.deps = u8() & 0xF;
  i.layer = u16();
  switch (i.opcode) {
  case Opcode::Load:
  case Opcode::Store:
    i.buffer = Buffer(rng() % 4);
    i.dtype = DType(rng() % 2);
    i.yPad0 = u8();
    i.yPad1 = u8();
    i.xPad0 = u8();
    i.xPad1 = u8();
    i.lanes = u16();
    i.sramBase = u32();
    i.dramBase = u32();
    i.ySize = u16();
    i.xSize = u16();
    i.yStride = u32();
    i.xStride = u32();
    i.padValue = int32_t(u32());
    break;
  case Opcode::Gemm:
  case Opcode::Alu:
    if (i.opcode == Opcode::Alu)
      i.aluOp = AluOp(rng() % 11);
    i.flags = u8() & 3;
    i.uopBegin = u16();
    i.uopEnd = u16();
    i.extent0 = u16();
    i.extent1 = u16();
    i.dstBase = u32();
    i.srcBase = u32();
    i.wgtBase = u32();
    i.dstFactor0 = int32_t(u32());
    i.dstFactor1 = int32_t(u32());
    i.srcFactor0 = int32_t(u32());
    i.srcFactor1 = int32_t(u32());
    i.wgtFactor0 = int32_t(u32());
    i.wgtFactor1 = int32_t(u32());
    if (i.opcode == Opcode::Alu) {
      i.imm0 = int32_t(u32());
      i.imm1 = int32_t(u32());
      i.imm2 = int32_t(u32());
    }
    break;
  case Opcode::Finish:
    break;
  }
  return i;
}
} // namespace

TEST(NPUEncoding, RoundTripsEveryField) {
  std::mt19937 rng(1);
  for (int n = 0; n < 2000; ++n) {
    Instruction i = randomInstruction(rng);
    auto bytes = encode(i);
    Instruction j;
    ASSERT_EQ(decode(bytes.data(), j), "") << formatInstruction(i);
    EXPECT_EQ(encode(j), bytes);
    EXPECT_EQ(j.opcode, i.opcode);
    EXPECT_EQ(j.layer, i.layer);
    EXPECT_EQ(j.padValue, i.padValue);
    EXPECT_EQ(j.imm2, i.imm2);
    EXPECT_EQ(j.wgtFactor1, i.wgtFactor1);
  }
}

TEST(NPUEncoding, ByteLayoutOfLoad) {
  Instruction i = Instruction::load(Buffer::Acc, DType::I32, 0x01020304,
                                    0x0A0B0C0D, 0x1112, 0x2122, 0x31323334,
                                    0x41424344, 0x5152);
  i.deps = PopPrev | PushNext;
  i.layer = 0x6162;
  i.yPad0 = 1;
  i.yPad1 = 2;
  i.xPad0 = 3;
  i.xPad1 = 4;
  i.padValue = -2;
  auto b = encode(i);
  const uint8_t want[36] = {0,    9,    0x62, 0x61, 2,    1,    1,    2,    3,
                            4,    0x52, 0x51, 4,    3,    2,    1,    0x0D, 0x0C,
                            0x0B, 0x0A, 0x12, 0x11, 0x22, 0x21, 0x34, 0x33, 0x32,
                            0x31, 0x44, 0x43, 0x42, 0x41, 0xFE, 0xFF, 0xFF, 0xFF};
  for (int k = 0; k < 36; ++k)
    EXPECT_EQ(b[k], want[k]) << "byte " << k;
  for (int k = 36; k < 64; ++k)
    EXPECT_EQ(b[k], 0) << "byte " << k;
}

TEST(NPUEncoding, ByteLayoutOfAlu) {
  Instruction i = Instruction::alu(AluOp::RescaleAdd, 0x0102, 0x0304, 0x0506,
                                   0x0708);
  i.dstBase = 0x11;
  i.srcBase = 0x12;
  i.wgtBase = 0x13;
  i.dstFactor0 = -1;
  i.wgtFactor1 = 0x21;
  i.imm0 = 5;
  i.imm1 = -128;
  i.imm2 = 127;
  auto b = encode(i);
  EXPECT_EQ(b[0], 3);
  EXPECT_EQ(b[4], 10);
  EXPECT_EQ(b[5], 0);
  EXPECT_EQ(b[6], 0x02);
  EXPECT_EQ(b[7], 0x01);
  EXPECT_EQ(b[13], 0x07);
  EXPECT_EQ(b[16], 0x11);
  EXPECT_EQ(b[20], 0x12);
  EXPECT_EQ(b[24], 0x13);
  EXPECT_EQ(b[28], 0xFF);
  EXPECT_EQ(b[31], 0xFF);
  EXPECT_EQ(b[48], 0x21);
  EXPECT_EQ(b[52], 5);
  EXPECT_EQ(b[56], 0x80);
  EXPECT_EQ(b[59], 0xFF);
  EXPECT_EQ(b[60], 127);
}

TEST(NPUEncoding, DecodeRejectsBadEncodings) {
  Instruction out;
  auto b = encode(Instruction::finish());
  b[0] = 9;
  EXPECT_EQ(decode(b.data(), out), "unknown opcode 9");

  b = encode(Instruction::finish());
  b[1] = 0x10;
  EXPECT_NE(decode(b.data(), out).find("unknown dependency bits"),
            std::string::npos);

  b = encode(Instruction::finish());
  b[40] = 1;
  EXPECT_EQ(decode(b.data(), out), "FINISH: nonzero unused byte 40");

  b = encode(Instruction::load(Buffer::Inp, DType::I8, 0, 0, 1, 1, 0, 0));
  b[4] = 4;
  EXPECT_EQ(decode(b.data(), out), "LOAD: unknown buffer 4");
  b[4] = 0;
  b[5] = 2;
  EXPECT_EQ(decode(b.data(), out), "LOAD: unknown dtype 2");
  b[5] = 0;
  b[63] = 7;
  EXPECT_EQ(decode(b.data(), out), "LOAD: nonzero unused byte 63");

  b = encode(Instruction::alu(AluOp::Add, 0, 1, 1, 1));
  b[4] = 11;
  EXPECT_EQ(decode(b.data(), out), "ALU: unknown alu_op 11");
  b = encode(Instruction::gemm(false, 0, 1, 1, 1));
  b[4] = 1;
  EXPECT_EQ(decode(b.data(), out), "GEMM: nonzero byte 4 (alu_op)");
  b[4] = 0;
  b[14] = 1;
  EXPECT_EQ(decode(b.data(), out), "GEMM: nonzero reserved byte 14");
}

TEST(NPUEncoding, StaticChecks) {
  Config c = smallConfig();
  auto check = [&](Instruction i, const char *needle) {
    std::string e = verify(i, c);
    EXPECT_NE(e.find(needle), std::string::npos)
        << "got '" << e << "' for " << formatInstruction(i);
  };
  Instruction ld = Instruction::load(Buffer::Inp, DType::I8, 0, 0, 2, 2, 8, 4);
  EXPECT_EQ(verify(ld, c), "");
  check(withDeps(ld, PopPrev), "no previous module");
  check(withDeps(Instruction::store(DType::I8, 0, 0, 1, 1, 0, 0), PushNext),
        "no next module");
  check(withDeps(Instruction::finish(), PushPrev), "FINISH may not push");
  Instruction i = ld;
  i.dtype = DType::I32;
  check(i, "dtype i32 is only for ACC");
  i = ld;
  i.lanes = 5; // two entries per step: 2 x 2 x 2 entries
  EXPECT_EQ(getEntriesPerStep(c, i), 2u);
  EXPECT_EQ(verify(i, c), "");
  i.sramBase = 58;
  check(i, "INP entries [58, 66) out of bounds (depth 64)");
  i = Instruction::load(Buffer::Uop, DType::I8, 0, 0, 1, 1, 0, 12, 2);
  check(i, "lanes 2 > 1 micro-op per step");
  i = ld;
  i.padValue = 200;
  check(i, "not an int8");
  i = ld;
  i.sramBase = 62;
  check(i, "INP entries [62, 66) out of bounds (depth 64)");
  i = ld;
  i.yPad0 = 100;
  check(i, "out of bounds");
  i = Instruction::load(Buffer::Uop, DType::I8, 0, 0, 1, 1, 0, 12);
  EXPECT_EQ(verify(i, c), "");
  i.xPad0 = 1;
  check(i, "LOAD into UOP has no padding");
  i = Instruction::store(DType::I8, 0, 0, 1, 1, 0, 0);
  i.buffer = Buffer::Inp;
  check(i, "STORE reads ACC only");
  i = Instruction::store(DType::I8, 0, 0, 1, 1, 0, 0);
  i.xPad1 = 1;
  check(i, "STORE has no padding");

  Instruction g = Instruction::gemm(false, 0, 65, 1, 1);
  check(g, "micro-op range [0, 65) not within [0, 64]");
  g = Instruction::gemm(false, 3, 2, 1, 1);
  check(g, "micro-op range [3, 2)");
  g = Instruction::gemm(false, 0, 1, 1, 1);
  g.flags = AluUseImm;
  check(g, "unknown flags");
  g.flags = 0;
  g.imm0 = 1;
  check(g, "immediates must be 0");

  Instruction a = Instruction::alu(AluOp::Mac, 0, 1, 1, 1);
  a.flags = AluUseImm;
  check(a, "use_imm is only allowed with MOV..SHR");
  a = Instruction::alu(AluOp::Shr, 0, 1, 1, 1);
  a.flags = AluUseImm;
  a.imm0 = 32;
  check(a, "shift 32 outside [0, 31]");
  a = Instruction::alu(AluOp::Add, 0, 1, 1, 1);
  a.imm0 = 3;
  check(a, "imm0 must be 0");
  a = Instruction::alu(AluOp::Max, 0, 1, 1, 1);
  a.imm2 = 3;
  check(a, "imm1/imm2 must be 0");
  a = Instruction::alu(AluOp::Clamp, 0, 1, 1, 1);
  a.imm1 = 5;
  a.imm2 = 4;
  check(a, "clamp bounds imm1 = 5 > imm2 = 4");
  a = Instruction::alu(AluOp::Rescale, 0, 1, 1, 1);
  a.imm1 = -128;
  a.imm2 = 127;
  a.imm0 = 3;
  EXPECT_EQ(verify(a, c), "");
}

TEST(NPUEncoding, Assembly) {
  Instruction i = Instruction::load(Buffer::Inp, DType::I8, 3, 0x400, 2, 5, 64, 16, 3);
  i.yPad0 = 1;
  i.xPad1 = 2;
  i.deps = PopNext | PushNext;
  EXPECT_EQ(formatInstruction(i),
            "LOAD INP[3] <- dram[0x400] i8 y=2x64 x=5x16 lanes=3 pad(y=1,0 "
            "x=0,2)=0 deps{pop_next push_next}");
  Instruction a = Instruction::alu(AluOp::Rescale, 0, 4, 2, 3);
  a.imm0 = 1;
  a.imm1 = 0;
  a.imm2 = 127;
  a.wgtBase = 60;
  EXPECT_EQ(formatInstruction(a),
            "ALU RESCALE uop[0,4) loop=2x3 d=0+(0,0) s=0+(0,0) p=60+(0,0) "
            "zp=1 clamp=[0,127]");
}
