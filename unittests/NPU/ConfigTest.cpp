//===- ConfigTest.cpp - NPU configuration parsing and validation ----------===//
#include "qat/NPU/Config.h"

#include "gtest/gtest.h"

using namespace mlir::qat::npu;

TEST(NPUConfig, DefaultsAreValid) {
  Config c;
  EXPECT_EQ(c.validate(), "");
  EXPECT_EQ(c.blockIn, 16u);
  EXPECT_EQ(c.accEntryBytes(), 64u);
  EXPECT_EQ(c.wgtEntryBytes(), 256u);
}

TEST(NPUConfig, KeyValue) {
  Config c;
  EXPECT_EQ(parseConfig("# a comment\nblock_in = 8\n  acc_depth=4096  # x\n\n"
                        "dram_latency = 100\n",
                        c),
            "");
  EXPECT_EQ(c.blockIn, 8u);
  EXPECT_EQ(c.accDepth, 4096u);
  EXPECT_EQ(c.dramLatency, 100u);
  EXPECT_EQ(c.blockOut, 16u); // untouched
}

TEST(NPUConfig, Json) {
  Config c;
  EXPECT_EQ(parseConfig(" {\"block_out\": 32, \"uop_depth\" : 100}\n", c), "");
  EXPECT_EQ(c.blockOut, 32u);
  EXPECT_EQ(c.uopDepth, 100u);
  EXPECT_EQ(parseConfig("{}", c), "");
}

TEST(NPUConfig, RoundTripThroughKeyValue) {
  Config a;
  a.blockIn = 32;
  a.wgtDepth = 77;
  a.gemmPipeline = 9;
  Config b;
  EXPECT_EQ(parseConfig(a.toKeyValue(), b), "");
  EXPECT_EQ(b.toKeyValue(), a.toKeyValue());
  EXPECT_TRUE(a.sameArchitecture(b));
}

TEST(NPUConfig, Errors) {
  Config c;
  std::string e = parseConfig("block_in = 8\nblock_inn = 4\n", c);
  EXPECT_NE(e.find("line 2"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key 'block_inn'"), std::string::npos) << e;
  EXPECT_EQ(c.blockIn, 16u) << "a failed parse leaves the config unchanged";

  e = parseConfig("block_in = 8\nblock_in = 4\n", c);
  EXPECT_NE(e.find("given twice"), std::string::npos) << e;
  e = parseConfig("block_in = -1\n", c);
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = parseConfig("block_in = 99999999999\n", c);
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = parseConfig("block_in 8\n", c);
  EXPECT_NE(e.find("expected 'key = value'"), std::string::npos) << e;
  e = parseConfig("block_in = 0\n", c);
  EXPECT_NE(e.find("1 <= block_in <= 64"), std::string::npos) << e;
  e = parseConfig("uop_depth = 70000\n", c);
  EXPECT_NE(e.find("uop_depth <= 65535"), std::string::npos) << e;
  e = parseConfig("{\"block_in\": 8,}", c);
  EXPECT_NE(e.find("JSON"), std::string::npos) << e;
  e = parseConfig("{\"block_in\": 8} x", c);
  EXPECT_NE(e.find("trailing"), std::string::npos) << e;
  e = parseConfig("{\"block_in\": 8.5}", c);
  EXPECT_NE(e.find("expected an integer"), std::string::npos) << e;
  e = loadConfigFile("/nonexistent/npu.cfg", c);
  EXPECT_NE(e.find("cannot open"), std::string::npos) << e;
}

// The resource limits (docs/NPU.md section 1): depths and buffer bytes.
TEST(NPUConfig, ResourceLimits) {
  Config c;
  std::string e = parseConfig("inp_depth = 16777216\n", c);
  EXPECT_NE(e.find("1 <= inp_depth <= 2^20"), std::string::npos) << e;
  e = parseConfig("block_in = 64\nblock_out = 64\nwgt_depth = 4097\n", c);
  EXPECT_NE(e.find("WGT (wgt_depth x block_in x block_out) = 16781312 bytes "
                   "exceeds the limit of 16 MiB per buffer"),
            std::string::npos)
      << e;
  // Exactly 16 MiB is allowed.
  EXPECT_EQ(parseConfig("block_in = 64\nblock_out = 64\nwgt_depth = 4096\n"
                        "inp_depth = 262144\nacc_depth = 65536\n",
                        c),
            "");
  e = parseConfig("block_out = 64\nacc_depth = 65537\n", c);
  EXPECT_NE(e.find("ACC (acc_depth x block_out x 4) = 16777472 bytes"),
            std::string::npos)
      << e;
  e = parseConfig("block_in = 64\ninp_depth = 262145\n", c);
  EXPECT_NE(e.find("INP (inp_depth x block_in) = 16777280 bytes"),
            std::string::npos)
      << e;
}

TEST(NPUConfig, ArchitectureMismatchNamesTheKey) {
  Config a, b;
  b.accDepth = 1024;
  b.dramLatency = 5; // timing: not architectural
  EXPECT_FALSE(a.sameArchitecture(b));
  EXPECT_EQ(a.describeArchitectureMismatch(b), "acc_depth=2048 vs 1024");
  b.accDepth = a.accDepth;
  EXPECT_TRUE(a.sameArchitecture(b));
}
