//===- Config.cpp - NPU parameters: validation and parsing ----------------===//
//
// Owns the table of configuration keys (snake_case name, field, kind) used by
// the parser, the key=value printer and the binary header.
//
//===----------------------------------------------------------------------===//
#include "qat/NPU/Config.h"

#include <cctype>
#include <fstream>
#include <sstream>
#include <vector>

using namespace mlir::qat::npu;

namespace {
struct Key {
  const char *name;
  uint32_t Config::*field;
  bool architectural;
};
const Key kKeys[] = {
    {"block_in", &Config::blockIn, true},
    {"block_out", &Config::blockOut, true},
    {"inp_depth", &Config::inpDepth, true},
    {"wgt_depth", &Config::wgtDepth, true},
    {"acc_depth", &Config::accDepth, true},
    {"uop_depth", &Config::uopDepth, true},
    {"issue_cycles", &Config::issueCycles, false},
    {"dram_latency", &Config::dramLatency, false},
    {"dram_bytes_per_cycle", &Config::dramBytesPerCycle, false},
    {"gemm_cycles_per_op", &Config::gemmCyclesPerOp, false},
    {"gemm_pipeline", &Config::gemmPipeline, false},
    {"alu_cycles_per_op", &Config::aluCyclesPerOp, false},
    {"alu_rescale_cycles_per_op", &Config::aluRescaleCyclesPerOp, false},
};

std::string trim(const std::string &s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b])))
    ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1])))
    --e;
  return s.substr(b, e - b);
}

/// Sets one key; `where` prefixes errors.
std::string setKey(Config &config, const std::string &key,
                   const std::string &value, const std::string &where,
                   std::vector<std::string> &seen) {
  const Key *found = nullptr;
  for (const Key &k : kKeys)
    if (key == k.name)
      found = &k;
  if (!found) {
    std::string known;
    for (const Key &k : kKeys)
      known += std::string(known.empty() ? "" : ", ") + k.name;
    return where + "unknown key '" + key + "' (known: " + known + ")";
  }
  for (const std::string &s : seen)
    if (s == key)
      return where + "key '" + key + "' given twice";
  seen.push_back(key);
  if (value.empty() || value.size() > 10)
    return where + "'" + key + "': expected an integer in [0, 4294967295], got '" +
           value + "'";
  uint64_t v = 0;
  for (char c : value) {
    if (!std::isdigit(static_cast<unsigned char>(c)))
      return where + "'" + key +
             "': expected an integer in [0, 4294967295], got '" + value + "'";
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > 0xFFFFFFFFull)
    return where + "'" + key + "': expected an integer in [0, 4294967295], got '" +
           value + "'";
  config.*(found->field) = static_cast<uint32_t>(v);
  return "";
}

std::string parseJson(const std::string &text, Config &config) {
  std::vector<std::string> seen;
  size_t i = 0, n = text.size();
  auto skip = [&] {
    while (i < n && std::isspace(static_cast<unsigned char>(text[i])))
      ++i;
  };
  auto err = [&](const std::string &what) {
    return "config (JSON) at offset " + std::to_string(i) + ": " + what;
  };
  skip();
  if (i >= n || text[i] != '{')
    return err("expected '{'");
  ++i;
  skip();
  if (i < n && text[i] == '}') {
    ++i;
  } else {
    while (true) {
      skip();
      if (i >= n || text[i] != '"')
        return err("expected a quoted key");
      size_t start = ++i;
      while (i < n && text[i] != '"')
        ++i;
      if (i >= n)
        return err("unterminated key");
      std::string key = text.substr(start, i - start);
      ++i;
      skip();
      if (i >= n || text[i] != ':')
        return err("expected ':' after key '" + key + "'");
      ++i;
      skip();
      start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(text[i])) ||
                       text[i] == '-' || text[i] == '.' || text[i] == '+'))
        ++i;
      std::string value = text.substr(start, i - start);
      std::string e = setKey(config, key, value, "config (JSON): ", seen);
      if (!e.empty())
        return e;
      skip();
      if (i < n && text[i] == ',') {
        ++i;
        continue;
      }
      if (i < n && text[i] == '}') {
        ++i;
        break;
      }
      return err("expected ',' or '}'");
    }
  }
  skip();
  if (i != n)
    return err("trailing text after '}'");
  return "";
}
} // namespace

std::string Config::validate() const {
  auto bad = [](const char *key, uint32_t v, const char *rule) {
    return std::string("config: '") + key + "' = " + std::to_string(v) +
           " violates " + rule;
  };
  if (blockIn < 1 || blockIn > 64)
    return bad("block_in", blockIn, "1 <= block_in <= 64");
  if (blockOut < 1 || blockOut > 64)
    return bad("block_out", blockOut, "1 <= block_out <= 64");
  if (inpDepth < 1 || inpDepth > kMaxBufferDepth)
    return bad("inp_depth", inpDepth, "1 <= inp_depth <= 2^20");
  if (wgtDepth < 1 || wgtDepth > kMaxBufferDepth)
    return bad("wgt_depth", wgtDepth, "1 <= wgt_depth <= 2^20");
  if (accDepth < 1 || accDepth > kMaxBufferDepth)
    return bad("acc_depth", accDepth, "1 <= acc_depth <= 2^20");
  // What a binary may ask the machine (the simulator) to allocate: each
  // on-chip buffer at most 16 MiB (products of values checked above: no
  // overflow in 64 bits).
  auto tooLarge = [&](const char *what, uint64_t bytes) {
    return std::string("config: ") + what + " = " + std::to_string(bytes) +
           " bytes exceeds the limit of 16 MiB per buffer";
  };
  if (uint64_t(inpDepth) * inpEntryBytes() > kMaxBufferBytes)
    return tooLarge("INP (inp_depth x block_in)",
                    uint64_t(inpDepth) * inpEntryBytes());
  if (uint64_t(wgtDepth) * wgtEntryBytes() > kMaxBufferBytes)
    return tooLarge("WGT (wgt_depth x block_in x block_out)",
                    uint64_t(wgtDepth) * wgtEntryBytes());
  if (uint64_t(accDepth) * accEntryBytes() > kMaxBufferBytes)
    return tooLarge("ACC (acc_depth x block_out x 4)",
                    uint64_t(accDepth) * accEntryBytes());
  if (uopDepth < 1 || uopDepth > 65535)
    return bad("uop_depth", uopDepth, "1 <= uop_depth <= 65535");
  if (dramBytesPerCycle < 1)
    return bad("dram_bytes_per_cycle", dramBytesPerCycle,
               "dram_bytes_per_cycle >= 1");
  return "";
}

bool Config::sameArchitecture(const Config &o) const {
  return describeArchitectureMismatch(o).empty();
}

std::string Config::describeArchitectureMismatch(const Config &o) const {
  std::string out;
  for (const Key &k : kKeys)
    if (k.architectural && this->*(k.field) != o.*(k.field))
      out += std::string(out.empty() ? "" : ", ") + k.name + "=" +
             std::to_string(this->*(k.field)) + " vs " +
             std::to_string(o.*(k.field));
  return out;
}

std::string Config::toKeyValue() const {
  std::string out;
  for (const Key &k : kKeys)
    out += std::string(k.name) + " = " + std::to_string(this->*(k.field)) +
           "\n";
  return out;
}

std::string mlir::qat::npu::parseConfig(const std::string &text,
                                        Config &config) {
  Config result = config;
  std::string t = trim(text);
  std::string e;
  if (!t.empty() && t[0] == '{') {
    e = parseJson(t, result);
  } else {
    std::vector<std::string> seen;
    std::istringstream in(text);
    std::string line;
    for (int lineNo = 1; std::getline(in, line); ++lineNo) {
      size_t hash = line.find('#');
      if (hash != std::string::npos)
        line = line.substr(0, hash);
      line = trim(line);
      if (line.empty())
        continue;
      std::string where = "config line " + std::to_string(lineNo) + ": ";
      size_t eq = line.find('=');
      if (eq == std::string::npos) {
        e = where + "expected 'key = value', got '" + line + "'";
        break;
      }
      e = setKey(result, trim(line.substr(0, eq)), trim(line.substr(eq + 1)),
                 where, seen);
      if (!e.empty())
        break;
    }
  }
  if (e.empty())
    e = result.validate();
  if (e.empty())
    config = result;
  return e;
}

std::string mlir::qat::npu::loadConfigFile(const std::string &path,
                                           Config &config) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open config file '" + path + "'";
  std::stringstream ss;
  ss << in.rdbuf();
  std::string e = parseConfig(ss.str(), config);
  return e.empty() ? e : path + ": " + e;
}

// Used by Binary.cpp: the header stores the keys in table order.
namespace mlir::qat::npu::detail {
unsigned getNumConfigWords() { return sizeof(kKeys) / sizeof(kKeys[0]); }
uint32_t getConfigWord(const Config &c, unsigned i) {
  return c.*(kKeys[i].field);
}
void setConfigWord(Config &c, unsigned i, uint32_t v) {
  c.*(kKeys[i].field) = v;
}
} // namespace mlir::qat::npu::detail
