//===- Binary.cpp - NPU program file: writer, reader, verifier, listing ---===//
//
// The container of docs/NPU.md section 6. The reader never trusts a size or
// an offset: every one is checked against the file before it is used.
//
//===----------------------------------------------------------------------===//
#include "qat/NPU/Binary.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

using namespace mlir::qat::npu;

namespace mlir::qat::npu::detail {
unsigned getNumConfigWords();
uint32_t getConfigWord(const Config &c, unsigned i);
void setConfigWord(Config &c, unsigned i, uint32_t v);
} // namespace mlir::qat::npu::detail

namespace {
constexpr uint32_t kHeaderBytes = 128;
constexpr uint32_t kSectionEntryBytes = 16;
constexpr uint32_t kTensorBytes = 48;
constexpr uint32_t kLayerBytes = 16;
constexpr uint32_t kConfigOffset = 24;
constexpr unsigned kMaxConfigWords = 13;

enum SectionKind : uint32_t {
  kInstructions = 1,
  kMicroOps = 2,
  kData = 3,
  kTensors = 4,
  kLayers = 5,
  kStrings = 6,
};

const char *sectionName(uint32_t kind) {
  switch (kind) {
  case kInstructions:
    return "instructions";
  case kMicroOps:
    return "micro-ops";
  case kData:
    return "data";
  case kTensors:
    return "tensors";
  case kLayers:
    return "layers";
  case kStrings:
    return "strings";
  }
  return "unknown";
}

void put32(std::vector<uint8_t> &b, size_t off, uint32_t v) {
  for (unsigned i = 0; i < 4; ++i)
    b[off + i] = uint8_t(v >> (8 * i));
}
void put64(std::vector<uint8_t> &b, size_t off, uint64_t v) {
  for (unsigned i = 0; i < 8; ++i)
    b[off + i] = uint8_t(v >> (8 * i));
}
uint32_t get32(const uint8_t *b) {
  uint32_t v = 0;
  for (unsigned i = 0; i < 4; ++i)
    v |= uint32_t(b[i]) << (8 * i);
  return v;
}
uint64_t get64(const uint8_t *b) {
  return uint64_t(get32(b)) | (uint64_t(get32(b + 4)) << 32);
}

size_t align16(size_t n) { return (n + 15) & ~size_t(15); }

struct StringTable {
  std::vector<uint8_t> bytes;
  uint32_t add(const std::string &s) {
    uint32_t off = uint32_t(bytes.size());
    bytes.insert(bytes.end(), s.begin(), s.end());
    bytes.push_back(0);
    return off;
  }
};
} // namespace

uint64_t TensorDesc::getNumElements() const {
  uint64_t n = 1;
  for (uint32_t d : shape)
    n *= d;
  return n;
}

uint64_t TensorDesc::getByteSize() const {
  return getNumElements() * (dtype == DType::I32 ? 4 : 1);
}

std::string Program::verify() const {
  std::string e = config.validate();
  if (!e.empty())
    return e;
  if (dramSize > kMaxDramBytes)
    return "dram_size " + std::to_string(dramSize) + " exceeds 2^30";
  if (data.size() > dramSize)
    return "data segment of " + std::to_string(data.size()) +
           " bytes does not fit dram_size " + std::to_string(dramSize);
  if (microOps.size() > config.uopDepth)
    return std::to_string(microOps.size()) +
           " micro-ops do not fit the UOP buffer (uop_depth " +
           std::to_string(config.uopDepth) + ")";
  if (layers.size() >= kNoLayer)
    return "too many layers (" + std::to_string(layers.size()) + ")";
  for (size_t t = 0; t < tensors.size(); ++t) {
    const TensorDesc &d = tensors[t];
    std::string what = "tensor " + std::to_string(t) + " '" + d.name + "'";
    if (d.shape.size() > kMaxTensorRank)
      return what + ": rank " + std::to_string(d.shape.size()) + " > 6";
    uint64_t n = 1;
    for (uint32_t s : d.shape) {
      n *= s;
      if (n > kMaxDramBytes)
        return what + ": too many elements";
    }
    if (uint64_t(d.dramAddr) + d.getByteSize() > dramSize)
      return what + ": bytes [" + std::to_string(d.dramAddr) + ", " +
             std::to_string(uint64_t(d.dramAddr) + d.getByteSize()) +
             ") outside dram_size " + std::to_string(dramSize);
  }
  if (instructions.empty() || instructions.back().opcode != Opcode::Finish)
    return "the last instruction must be FINISH";
  for (size_t k = 0; k < instructions.size(); ++k) {
    const Instruction &i = instructions[k];
    std::string where = "instruction " + std::to_string(k) + ": ";
    if (i.opcode == Opcode::Finish && k + 1 != instructions.size())
      return where + "FINISH before the end of the stream";
    if (i.layer != kNoLayer && i.layer >= layers.size())
      return where + "layer " + std::to_string(i.layer) + " not in the layer "
             "table (" + std::to_string(layers.size()) + " layers)";
    e = npu::verify(i, config);
    if (!e.empty())
      return where + e;
    if ((i.opcode == Opcode::Load || i.opcode == Opcode::Store) && i.ySize &&
        i.xSize) {
      uint64_t elem = i.buffer == Buffer::Uop ? kMicroOpBytes
                      : i.dtype == DType::I32 ? 4
                                              : 1;
      uint64_t lanes = i.lanes ? i.lanes : getEntryElements(config, i.buffer);
      uint64_t last = uint64_t(i.dramBase) + uint64_t(i.ySize - 1) * i.yStride +
                      uint64_t(i.xSize - 1) * i.xStride + lanes * elem;
      if (last > dramSize)
        return where + getOpcodeName(i.opcode) + ": DRAM bytes up to " +
               std::to_string(last) + " outside dram_size " +
               std::to_string(dramSize);
    }
  }
  return "";
}

std::vector<uint8_t> mlir::qat::npu::writeProgram(const Program &p) {
  StringTable strings;
  std::vector<uint8_t> tensors(p.tensors.size() * kTensorBytes);
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const TensorDesc &d = p.tensors[t];
    size_t o = t * kTensorBytes;
    put32(tensors, o, strings.add(d.name));
    tensors[o + 4] = d.isOutput ? 1 : 0;
    tensors[o + 5] = uint8_t(d.dtype);
    tensors[o + 6] = uint8_t(d.shape.size());
    put32(tensors, o + 8, d.dramAddr);
    uint32_t scaleBits;
    std::memcpy(&scaleBits, &d.scale, 4);
    put32(tensors, o + 12, scaleBits);
    put32(tensors, o + 16, uint32_t(d.zeroPoint));
    for (size_t k = 0; k < d.shape.size() && k < kMaxTensorRank; ++k)
      put32(tensors, o + 20 + 4 * k, d.shape[k]);
  }
  std::vector<uint8_t> layers(p.layers.size() * kLayerBytes);
  for (size_t l = 0; l < p.layers.size(); ++l) {
    put32(layers, l * kLayerBytes, strings.add(p.layers[l].name));
    put64(layers, l * kLayerBytes + 8, p.layers[l].macs);
  }
  std::vector<uint8_t> insns(p.instructions.size() * kInstructionBytes);
  for (size_t k = 0; k < p.instructions.size(); ++k) {
    auto b = encode(p.instructions[k]);
    std::memcpy(&insns[k * kInstructionBytes], b.data(), kInstructionBytes);
  }
  std::vector<uint8_t> uops(p.microOps.size() * kMicroOpBytes);
  for (size_t k = 0; k < p.microOps.size(); ++k)
    encodeMicroOp(p.microOps[k], &uops[k * kMicroOpBytes]);

  struct Sec {
    uint32_t kind, count;
    const std::vector<uint8_t> *bytes;
  };
  Sec secs[] = {{kInstructions, uint32_t(p.instructions.size()), &insns},
                {kMicroOps, uint32_t(p.microOps.size()), &uops},
                {kData, uint32_t(p.data.size()), &p.data},
                {kTensors, uint32_t(p.tensors.size()), &tensors},
                {kLayers, uint32_t(p.layers.size()), &layers},
                {kStrings, uint32_t(strings.bytes.size()), &strings.bytes}};
  const uint32_t numSecs = sizeof(secs) / sizeof(secs[0]);
  size_t off = align16(kHeaderBytes + numSecs * kSectionEntryBytes);
  std::vector<uint8_t> out(off);
  std::memcpy(out.data(), "QNPU", 4);
  put32(out, 4, kBinaryVersion);
  put32(out, 8, kHeaderBytes);
  put32(out, 12, numSecs);
  put32(out, 16, p.dramSize);
  put32(out, 20, 0);
  for (unsigned w = 0; w < detail::getNumConfigWords(); ++w)
    put32(out, kConfigOffset + 4 * w, detail::getConfigWord(p.config, w));
  for (uint32_t s = 0; s < numSecs; ++s) {
    size_t e = kHeaderBytes + s * kSectionEntryBytes;
    put32(out, e, secs[s].kind);
    put32(out, e + 4, secs[s].count);
    put32(out, e + 8, uint32_t(out.size()));
    put32(out, e + 12, uint32_t(secs[s].bytes->size()));
    out.insert(out.end(), secs[s].bytes->begin(), secs[s].bytes->end());
    out.resize(align16(out.size()));
  }
  return out;
}

std::string mlir::qat::npu::writeProgramFile(const Program &p,
                                             const std::string &path) {
  std::vector<uint8_t> bytes = writeProgram(p);
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return "cannot open '" + path + "' for writing";
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  if (!out)
    return "cannot write '" + path + "'";
  return "";
}

std::string mlir::qat::npu::readProgram(const uint8_t *b, size_t size,
                                        Program &out) {
  auto fail = [](const std::string &s) { return "program: " + s; };
  if (size < kHeaderBytes)
    return fail("truncated: " + std::to_string(size) +
                " bytes, shorter than the 128-byte header");
  if (std::memcmp(b, "QNPU", 4) != 0)
    return fail("bad magic (not a QNPU file)");
  uint32_t version = get32(b + 4);
  if (version != kBinaryVersion)
    return fail("unsupported version " + std::to_string(version) +
                " (this reader: " + std::to_string(kBinaryVersion) + ")");
  if (get32(b + 8) != kHeaderBytes)
    return fail("header size " + std::to_string(get32(b + 8)) +
                ", expected 128");
  uint32_t numSecs = get32(b + 12);
  Program p;
  p.dramSize = get32(b + 16);
  if (get32(b + 20) != 0)
    return fail("unknown header flags " + std::to_string(get32(b + 20)));
  for (unsigned w = 0; w < detail::getNumConfigWords(); ++w)
    detail::setConfigWord(p.config, w, get32(b + kConfigOffset + 4 * w));
  for (size_t k = kConfigOffset + 4 * kMaxConfigWords; k < kHeaderBytes; ++k)
    if (b[k])
      return fail("nonzero reserved header byte " + std::to_string(k));
  std::string e = p.config.validate();
  if (!e.empty())
    return fail("header " + e);
  if (uint64_t(numSecs) * kSectionEntryBytes > size - kHeaderBytes)
    return fail("truncated: section table of " + std::to_string(numSecs) +
                " entries extends past the end of the file (" +
                std::to_string(size) + " bytes)");
  const uint8_t *sec[7] = {};
  uint32_t secCount[7] = {}, secSize[7] = {};
  for (uint32_t s = 0; s < numSecs; ++s) {
    const uint8_t *entry = b + kHeaderBytes + s * kSectionEntryBytes;
    uint32_t kind = get32(entry), count = get32(entry + 4);
    uint32_t offset = get32(entry + 8), bytes = get32(entry + 12);
    std::string what = "section " + std::to_string(kind) + " (" +
                       sectionName(kind) + ")";
    if (uint64_t(offset) + bytes > size)
      return fail("truncated: " + what + " at offset " +
                  std::to_string(offset) + " size " + std::to_string(bytes) +
                  " extends past the end of the file (" +
                  std::to_string(size) + " bytes)");
    if (kind < kInstructions || kind > kStrings)
      continue; // unknown sections are skipped (additive extensions)
    if (sec[kind] || secSize[kind])
      return fail(what + " appears twice");
    uint64_t record = kind == kInstructions ? kInstructionBytes
                      : kind == kMicroOps   ? kMicroOpBytes
                      : kind == kTensors    ? kTensorBytes
                      : kind == kLayers     ? kLayerBytes
                                            : 1;
    if (uint64_t(count) * record != bytes)
      return fail(what + ": size " + std::to_string(bytes) + " is not count " +
                  std::to_string(count) + " x " + std::to_string(record));
    sec[kind] = b + offset;
    secCount[kind] = count;
    secSize[kind] = bytes;
    if (!bytes)
      secSize[kind] = 0, sec[kind] = b; // present but empty
  }
  if (!sec[kInstructions])
    return fail("no instruction section");

  // Strings.
  auto getString = [&](uint32_t off, std::string &s) -> bool {
    if (off >= secSize[kStrings])
      return false;
    const uint8_t *base = sec[kStrings];
    const void *nul = std::memchr(base + off, 0, secSize[kStrings] - off);
    if (!nul)
      return false;
    s.assign(reinterpret_cast<const char *>(base + off),
             static_cast<const uint8_t *>(nul) - (base + off));
    return true;
  };

  p.instructions.resize(secCount[kInstructions]);
  for (uint32_t k = 0; k < secCount[kInstructions]; ++k) {
    e = decode(sec[kInstructions] + size_t(k) * kInstructionBytes,
               p.instructions[k]);
    if (!e.empty())
      return fail("instruction " + std::to_string(k) + ": " + e);
  }
  p.microOps.resize(secCount[kMicroOps]);
  for (uint32_t k = 0; k < secCount[kMicroOps]; ++k)
    p.microOps[k] = decodeMicroOp(sec[kMicroOps] + size_t(k) * kMicroOpBytes);
  if (secSize[kData])
    p.data.assign(sec[kData], sec[kData] + secSize[kData]);
  for (uint32_t t = 0; t < secCount[kTensors]; ++t) {
    const uint8_t *d = sec[kTensors] + size_t(t) * kTensorBytes;
    TensorDesc td;
    std::string what = "tensor " + std::to_string(t);
    if (!getString(get32(d), td.name))
      return fail(what + ": name offset " + std::to_string(get32(d)) +
                  " not a string in the string section");
    if (d[4] > 1)
      return fail(what + ": unknown kind " + std::to_string(d[4]));
    td.isOutput = d[4] == 1;
    if (d[5] > uint8_t(DType::I32))
      return fail(what + ": unknown dtype " + std::to_string(d[5]));
    td.dtype = DType(d[5]);
    if (d[6] > kMaxTensorRank)
      return fail(what + ": rank " + std::to_string(d[6]) + " > 6");
    if (d[7] || get32(d + 44))
      return fail(what + ": nonzero reserved bytes");
    td.dramAddr = get32(d + 8);
    uint32_t scaleBits = get32(d + 12);
    std::memcpy(&td.scale, &scaleBits, 4);
    td.zeroPoint = int32_t(get32(d + 16));
    for (unsigned k = 0; k < kMaxTensorRank; ++k) {
      uint32_t dim = get32(d + 20 + 4 * k);
      if (k < d[6])
        td.shape.push_back(dim);
      else if (dim)
        return fail(what + ": nonzero shape entry beyond rank");
    }
    p.tensors.push_back(td);
  }
  for (uint32_t l = 0; l < secCount[kLayers]; ++l) {
    const uint8_t *d = sec[kLayers] + size_t(l) * kLayerBytes;
    LayerDesc ld;
    if (!getString(get32(d), ld.name))
      return fail("layer " + std::to_string(l) + ": name offset " +
                  std::to_string(get32(d)) + " not a string");
    if (get32(d + 4))
      return fail("layer " + std::to_string(l) + ": nonzero reserved bytes");
    ld.macs = get64(d + 8);
    p.layers.push_back(ld);
  }
  e = p.verify();
  if (!e.empty())
    return fail(e);
  out = std::move(p);
  return "";
}

std::string mlir::qat::npu::readProgramFile(const std::string &path,
                                            Program &program) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open '" + path + "'";
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  std::string e = readProgram(bytes.data(), bytes.size(), program);
  return e.empty() ? e : path + ": " + e;
}

std::string mlir::qat::npu::disassemble(const Program &p) {
  std::ostringstream os;
  os << "; QNPU v" << kBinaryVersion << ", dram_size " << p.dramSize
     << ", data " << p.data.size() << " bytes, " << p.microOps.size()
     << " micro-ops, " << p.instructions.size() << " instructions\n";
  std::string cfg = p.config.toKeyValue();
  std::istringstream cs(cfg);
  std::string line;
  os << "; config:";
  while (std::getline(cs, line)) {
    size_t eq = line.find(" = ");
    os << " " << line.substr(0, eq) << "=" << line.substr(eq + 3);
  }
  os << "\n";
  for (size_t t = 0; t < p.tensors.size(); ++t) {
    const TensorDesc &d = p.tensors[t];
    os << "tensor " << t << " " << (d.isOutput ? "output" : "input") << " '"
       << d.name << "' " << getDTypeName(d.dtype) << "[";
    for (size_t k = 0; k < d.shape.size(); ++k)
      os << (k ? "x" : "") << d.shape[k];
    char buf[64];
    std::snprintf(buf, sizeof(buf), "] at 0x%x scale %.9g zp %d", d.dramAddr,
                  double(d.scale), d.zeroPoint);
    os << buf << "\n";
  }
  for (size_t l = 0; l < p.layers.size(); ++l)
    os << "layer " << l << " '" << p.layers[l].name << "' macs "
       << p.layers[l].macs << "\n";
  for (size_t u = 0; u < p.microOps.size(); ++u)
    os << "uop " << u << ": dst=" << p.microOps[u].dst
       << " src=" << p.microOps[u].src << " wgt=" << p.microOps[u].wgt << "\n";
  for (size_t k = 0; k < p.instructions.size(); ++k) {
    const Instruction &i = p.instructions[k];
    char buf[48];
    std::snprintf(buf, sizeof(buf), "%5zu %-7s ", k,
                  getModuleName(getModule(i)));
    os << buf;
    if (i.layer != kNoLayer)
      os << "L" << i.layer << " ";
    os << formatInstruction(i) << "\n";
  }
  return os.str();
}
