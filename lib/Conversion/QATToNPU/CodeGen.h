//===- CodeGen.h - NPU layers to an npu.program -----------------*- C++ -*-===//
//
// The second half of qat-lower-to-npu: the DRAM layout (packed weights and
// constant ACC rows first, then the inputs and every activation), then the
// instruction stream: each layer tiled into pieces that fit half of INP and
// ACC, double-buffered between the load, compute and store modules through
// dependency tokens (docs/NPU.md section 3).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_QATTONPU_CODEGEN_H
#define QAT_LIB_CONVERSION_QATTONPU_CODEGEN_H

#include "LayerGraph.h"

#include "mlir/IR/Builders.h"

#include <limits>

namespace mlir::qat::tonpu {

/// Output rows x cols of a tile that fit, for an input window of
/// (rows-1)*sh + (KH-1)*dh + 1 by (cols-1)*sw + (KW-1)*dw + 1 entries per
/// block.
struct TileShape {
  int64_t th = 0, tw = 0;
};

/// The largest tile (output rows x cols) of layer `L` whose input window
/// fits `inpBudget` INP entries of `inpBlocks` blocks and whose
/// accumulators (`accPerPixel` per output pixel) fit `accBudget` ACC
/// entries; rows and cols are multiples of `stepH` / `stepW`.
TileShape chooseTile(const Layer &L, int64_t inpBlocks, int64_t inpBudget,
                     int64_t accPerPixel, int64_t accBudget, int64_t stepH = 1,
                     int64_t stepW = 1);

/// An instruction and its micro-ops, before it becomes an op.
struct Insn {
  npu::Instruction insn;
  SmallVector<npu::MicroOp> uops;
};

class CodeGen {
public:
  CodeGen(LayerGraph &a, const npu::Config &config, bool doubleBuffer)
      : a(a), cfg(config), slots(doubleBuffer ? 2 : 1) {}

  LogicalResult run(OpBuilder &b, Location loc, StringRef name);
  int64_t numTiles = 0;
  int64_t numInstructions = 0;

private:
  // DRAM layout; false (with tooLarge) past npu::kMaxDramBytes.
  bool layout();
  // One layer each.
  LogicalResult emitGemm(Layer &L, int layerId);
  LogicalResult emitMaxPool(Layer &L, int layerId);
  LogicalResult emitAdd(Layer &L, int layerId);
  LogicalResult emitConcat(Layer &L, int layerId);
  LogicalResult emitTranspose(Layer &L, int layerId);

  // The token protocol (docs/NPU.md section 3; see beginLayer / endTile).
  void beginLayer(bool usesLoadModule, int64_t tiles, int64_t steps = 0);
  /// Ends step `s` (a tile, or a chunk of a tile's reduction) of tile `t`.
  void endStep(int64_t s, int64_t t, bool firstOfTile, bool lastOfTile);
  void endTile(int64_t t) { endStep(t, t, true, true); }
  void finish();

  void addData(std::string name, int64_t addr, ArrayRef<int8_t> bytes) {
    data.push_back({std::move(name), addr, SmallVector<int8_t>(bytes), {}});
  }
  void addData(std::string name, int64_t addr, ArrayRef<int32_t> words) {
    data.push_back({std::move(name), addr, {}, SmallVector<int32_t>(words)});
  }

  int64_t addrOf(const TensorRef &t) const {
    return a.storages[t.storage].addr;
  }
  /// Records a value that does not fit its instruction field (a bug of this
  /// pass if it happens: run() reports it instead of truncating).
  template <typename T> T fit(int64_t v) {
    if (v < int64_t(std::numeric_limits<T>::min()) ||
        v > int64_t(std::numeric_limits<T>::max()))
      overflow = true;
    return T(v);
  }
  Insn load(npu::Buffer buf, npu::DType dt, int64_t sram, int64_t dram,
            int64_t ySize, int64_t yStride, int64_t xSize, int64_t xStride,
            int64_t lanes) {
    fit<uint32_t>(sram), fit<uint32_t>(dram), fit<uint16_t>(ySize);
    fit<uint16_t>(xSize), fit<uint32_t>(yStride), fit<uint32_t>(xStride);
    fit<uint16_t>(lanes);
    Insn i;
    i.insn = npu::Instruction::load(
        buf, dt, uint32_t(sram), uint32_t(dram), uint16_t(ySize),
        uint16_t(xSize), uint32_t(yStride), uint32_t(xStride), uint16_t(lanes));
    i.insn.layer = uint16_t(layerId);
    return i;
  }
  Insn store(int64_t sram, int64_t dram, int64_t ySize, int64_t yStride,
             int64_t xSize, int64_t xStride, int64_t lanes) {
    fit<uint32_t>(sram), fit<uint32_t>(dram), fit<uint16_t>(ySize);
    fit<uint16_t>(xSize), fit<uint32_t>(yStride), fit<uint32_t>(xStride);
    fit<uint16_t>(lanes);
    Insn i;
    i.insn = npu::Instruction::store(
        npu::DType::I8, uint32_t(sram), uint32_t(dram), uint16_t(ySize),
        uint16_t(xSize), uint32_t(yStride), uint32_t(xStride), uint16_t(lanes));
    i.insn.layer = uint16_t(layerId);
    return i;
  }
  /// GEMM or ALU with loops [e0, e1] and bases/factors for the three indices.
  Insn loop(npu::Opcode opc, npu::AluOp op, int64_t e0, int64_t e1,
            SmallVector<npu::MicroOp> uops, int64_t b0, int64_t f00,
            int64_t f01, int64_t b1, int64_t f10, int64_t f11, int64_t b2,
            int64_t f20, int64_t f21) {
    fit<uint16_t>(e0), fit<uint16_t>(e1), fit<uint32_t>(b0);
    fit<uint32_t>(b1), fit<uint32_t>(b2);
    for (int64_t f : {f00, f01, f10, f11, f20, f21})
      fit<int32_t>(f);
    Insn i;
    i.insn =
        opc == npu::Opcode::Gemm
            ? npu::Instruction::gemm(false, 0, 0, uint16_t(e0), uint16_t(e1))
            : npu::Instruction::alu(op, 0, 0, uint16_t(e0), uint16_t(e1));
    i.insn.dstBase = uint32_t(b0), i.insn.dstFactor0 = int32_t(f00),
    i.insn.dstFactor1 = int32_t(f01);
    i.insn.srcBase = uint32_t(b1), i.insn.srcFactor0 = int32_t(f10),
    i.insn.srcFactor1 = int32_t(f11);
    i.insn.wgtBase = uint32_t(b2), i.insn.wgtFactor0 = int32_t(f20),
    i.insn.wgtFactor1 = int32_t(f21);
    i.insn.layer = uint16_t(layerId);
    i.uops = std::move(uops);
    return i;
  }
  /// Loads the lanes [0, n) of `count` consecutive blocks of `bo` bytes from
  /// `dram` into ACC entries from `sram` (flat int8 tensors).
  void loadFlat(int64_t sram, int64_t dram, int64_t elements);
  void storeFlat(int64_t sram, int64_t dram, int64_t elements);
  /// ALU add of an immediate to `rows` ACC rows from `base`.
  void addImm(int64_t base, int64_t rows, int32_t imm);

  LayerGraph &a;
  npu::Config cfg;
  int64_t slots;
  struct Data {
    std::string name;
    int64_t addr;
    SmallVector<int8_t> bytes;
    SmallVector<int32_t> words;
  };
  SmallVector<Data> data;
  int64_t dramSize = 0;
  /// What did not fit in DRAM (layout() returned false).
  std::string tooLarge;

  SmallVector<Insn> stream;
  SmallVector<Insn> loadQ, computeQ, storeQ;
  int layerId = -1;
  bool usesLoad = false, firstLayer = true, loadPopsBarrier = false;
  int64_t tilesInLayer = 0, stepsInLayer = 0;
  bool overflow = false;
  /// DMA of `count` whole entries of `entryBytes` from `dram` to `sram` of
  /// `buf` in LOADs of at most 65535 entries each.
  void loadEntries(SmallVectorImpl<Insn> &q, npu::Buffer buf, npu::DType dt,
                   int64_t sram, int64_t dram, int64_t count,
                   int64_t entryBytes) {
    for (int64_t e = 0; e < count; e += 65535)
      q.push_back(load(buf, dt, sram + e, dram + e * entryBytes, 1, 0,
                       std::min<int64_t>(65535, count - e), entryBytes, 0));
  }
};

} // namespace mlir::qat::tonpu

#endif // QAT_LIB_CONVERSION_QATTONPU_CODEGEN_H
