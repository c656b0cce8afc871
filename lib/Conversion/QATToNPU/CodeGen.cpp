//===- CodeGen.cpp - NPU layers to an npu.program -------------------------===//
//
// The DRAM layout, the token protocol between the load, compute and store
// modules, the tile shapes, and the program (CodeGen::run). The layers'
// instructions: EmitGemm.cpp (convolutions and fully connected layers) and
// EmitLayers.cpp (max pool, add, concat, transpose).
//
//===----------------------------------------------------------------------===//

#include "CodeGen.h"

#include "mlir/IR/Verifier.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

/// The PyTorch module a layer comes from: the last name in `loc` (through
/// fused and call-site locations) that is not a quantizer's ("conv1:input");
/// batch norm folded into a convolution leaves fused[bn, conv], whose last
/// name is the convolution's. Empty without names.
static std::string moduleName(Location loc) {
  std::string found;
  loc->walk([&](Location l) {
    if (auto n = dyn_cast<NameLoc>(l))
      if (!n.getName().getValue().contains(':'))
        found = n.getName().str();
    return WalkResult::advance();
  });
  return found;
}

/// a * b, or INT64_MAX when it overflows (sizes past every limit).
static int64_t mulSat(int64_t a, int64_t b) {
  int64_t r;
  return llvm::MulOverflow(a, b, r) ? std::numeric_limits<int64_t>::max() : r;
}

bool CodeGen::layout() {
  int64_t bi = cfg.blockIn, bo = cfg.blockOut;
  int64_t next = 0;
  // Sizes are checked against the DRAM limit before anything is allocated:
  // a layer whose packed weights alone exceed it stops the layout.
  auto fits = [&](int64_t bytes, const std::string &what) {
    if (bytes <= int64_t(npu::kMaxDramBytes) - next)
      return true;
    tooLarge = what + " (" +
               (bytes == std::numeric_limits<int64_t>::max()
                    ? std::string("more than 2^63")
                    : std::to_string(bytes)) +
               " bytes) does not fit after the " + std::to_string(next) +
               " bytes placed before it";
    return false;
  };
  auto alloc = [&](int64_t bytes) {
    int64_t addr = next;
    next = alignTo(next + std::max<int64_t>(bytes, 1), kAlign);
    return addr;
  };
  // Constants first: the data segment is copied to DRAM address 0.
  for (auto [id, L] : llvm::enumerate(a.layers)) {
    std::string base = L.name.substr(0, L.name.find(' '));
    if (L.kind == LayerKind::Conv || L.kind == LayerKind::Matmul ||
        L.kind == LayerKind::Depthwise) {
      bool dw = L.kind == LayerKind::Depthwise;
      int64_t taps = L.KH * L.KW;
      int64_t B = std::min(bi, bo); // depthwise channel block
      int64_t cb = dw ? ceilDiv(L.C, B) : ceilDiv(L.C, bi);
      int64_t ob = dw ? ceilDiv(L.O, B) : ceilDiv(L.O, bo);
      int64_t perOb = dw ? taps : taps * cb;
      // Block (ob, cb, tap) at ob * perOb + cb * taps + tap (a range of input
      // blocks is contiguous): lane o * bi + i holds
      // W[ob*bo + o][tap][cb*bi + i]; depthwise: lane l * bi + l holds the
      // tap's weight of channel ob*B + l (a diagonal block).
      if (!fits(mulSat(mulSat(ob, perOb), bi * bo), base + "'s packed weights"))
        return false;
      SmallVector<int8_t> packed(ob * perOb * bi * bo, 0);
      for (int64_t o = 0; o < ob; ++o)
        for (int64_t c = 0; c < (dw ? 1 : cb); ++c)
          for (int64_t t = 0; t < taps; ++t) {
            int8_t *blk = &packed[(o * perOb + c * taps + t) * bi * bo];
            if (dw) {
              // Output lane l is channel oc = o*B + l = c*M + m, fed by
              // input channel c = oc / M, lane c - (o / M)*B of input block
              // o / M (M divides B).
              for (int64_t l = 0; l < B; ++l) {
                int64_t oc = o * B + l;
                if (oc < L.O)
                  blk[l * bi + (oc / L.M - (o / L.M) * B)] =
                      L.weights[t * L.O + oc];
              }
              continue;
            }
            for (int64_t lo = 0; lo < bo; ++lo)
              for (int64_t li = 0; li < bi; ++li) {
                int64_t oc = o * bo + lo, ic = c * bi + li;
                if (oc < L.O && ic < L.C)
                  blk[lo * bi + li] = L.weights[(oc * taps + t) * L.C + ic];
              }
          }
      L.weightAddr = alloc(packed.size());
      addData(base + ".weights", L.weightAddr, packed);
      // ACC rows: bias per output block, then (M, n[, Mb]) per block.
      int64_t k = L.rq.add ? 3 : 2;
      int64_t width = dw ? B : bo; // output channels per block
      if (!fits(mulSat(ob, (1 + k) * bo * 4),
                base + "'s bias and requantization rows"))
        return false;
      SmallVector<int32_t> rows(ob * (1 + k) * bo, 0);
      for (int64_t o = 0; o < ob; ++o)
        for (int64_t l = 0; l < bo; ++l) {
          int64_t ch = o * width + l;
          bool valid = l < width && ch < L.O;
          rows[o * bo + l] = valid ? L.bias[ch] : 0;
          int32_t *p = &rows[(ob + o * k) * bo];
          p[l] = valid ? L.rq.at(L.rq.m, ch) : 0;
          p[bo + l] = valid ? L.rq.at(L.rq.n, ch) : 1; // any shift in [1, 62]
          if (k == 3)
            p[2 * bo + l] = valid ? L.rq.at(L.rq.mb, ch) : 0;
        }
      L.constAddr = alloc(rows.size() * 4);
      addData(base + ".bias_and_requantization", L.constAddr, rows);
    } else if (L.kind == LayerKind::Add) {
      SmallVector<int32_t> rows(3 * bo);
      for (int64_t l = 0; l < bo; ++l) {
        rows[l] = L.rq.m[0];
        rows[bo + l] = L.rq.n[0];
        rows[2 * bo + l] = L.rq.mb[0];
      }
      L.constAddr = alloc(rows.size() * 4);
      addData(base + ".requantization", L.constAddr, rows);
    }
  }
  // Then the inputs, then every activation in the order it is computed.
  for (const LayerGraph::IO &io : a.inputs) {
    Storage &s = a.storages[io.ref.storage];
    if (!fits(s.bytes, "input " + std::to_string(io.ref.storage)))
      return false;
    s.addr = alloc(s.bytes);
  }
  for (auto [i, s] : llvm::enumerate(a.storages))
    if (s.addr < 0) {
      if (!fits(s.bytes, "activation " + std::to_string(i)))
        return false;
      s.addr = alloc(s.bytes);
    }
  dramSize = next;
  return fits(0, "the alignment");
}

// --- The token protocol ------------------------------------------------------
//
// A layer is a sequence of tiles (pieces of its output), each computed in
// one or more steps (chunks of a reduction too large for WGT or INP; one
// step per tile otherwise). Step s uses INP half s % slots (and WGT half
// s % slots when weights are loaded per step), tile t uses ACC half
// t % slots; `slots` is 2 with double buffering, else 1.
//   load module:    the first instruction of step s pops compute->load when
//                   s >= slots (compute is done with the halves it
//                   overwrites; step 0 pops the layer barrier's token); the
//                   last pushes load->compute.
//   compute module: the first instruction of a step pops load->compute (its
//                   inputs are loaded) and, on a tile's first step when
//                   t >= slots, store->compute (the ACC half it overwrites is
//                   stored); the last instruction of step s pushes
//                   compute->load when s + slots < steps, and on a tile's
//                   last step compute->store.
//   store module:   the first instruction of tile t pops compute->store; the
//                   last pushes store->compute when t + slots < tiles or t is
//                   the last tile (for the barrier or FINISH).
// Between layers, a compute no-op (an empty GEMM) pops the previous layer's
// last store token, so the next layer reads DRAM only after all stores, and
// pushes compute->load when the next layer uses the load module. Every token
// pushed is popped; the simulator checks that the accesses are ordered.

void CodeGen::beginLayer(bool usesLoadModule, int64_t tiles, int64_t steps) {
  if (!firstLayer) {
    Insn barrier;
    barrier.insn = npu::Instruction::gemm(false, 0, 0, 0, 0);
    barrier.insn.deps = npu::PopNext | (usesLoadModule ? npu::PushPrev : 0);
    // It starts the layer: the layer waits here for its input.
    barrier.insn.layer = uint16_t(layerId);
    stream.push_back(barrier);
  }
  loadPopsBarrier = !firstLayer && usesLoadModule;
  firstLayer = false;
  usesLoad = usesLoadModule;
  tilesInLayer = tiles;
  stepsInLayer = steps ? steps : tiles;
  numTiles += tiles;
}

void CodeGen::endStep(int64_t s, int64_t t, bool firstOfTile, bool lastOfTile) {
  assert(!computeQ.empty() && "step without computation");
  assert(usesLoad == !loadQ.empty() && "load module use mismatch");
  assert(lastOfTile == !storeQ.empty() && "stores at the end of a tile");
  if (usesLoad) {
    if (s >= slots || (s == 0 && loadPopsBarrier))
      loadQ.front().insn.deps |= npu::PopNext;
    loadQ.back().insn.deps |= npu::PushNext;
    computeQ.front().insn.deps |= npu::PopPrev;
    if (s + slots < stepsInLayer)
      computeQ.back().insn.deps |= npu::PushPrev;
  }
  if (firstOfTile && t >= slots)
    computeQ.front().insn.deps |= npu::PopNext;
  if (lastOfTile) {
    computeQ.back().insn.deps |= npu::PushNext;
    storeQ.front().insn.deps |= npu::PopPrev;
    if (t + slots < tilesInLayer || t == tilesInLayer - 1)
      storeQ.back().insn.deps |= npu::PushPrev;
  }
  for (auto *q : {&loadQ, &computeQ, &storeQ}) {
    stream.append(q->begin(), q->end());
    q->clear();
  }
}

void CodeGen::finish() {
  Insn f;
  f.insn = npu::Instruction::finish();
  if (!firstLayer)
    f.insn.deps = npu::PopNext;
  stream.push_back(f);
}

void CodeGen::loadFlat(int64_t sram, int64_t dram, int64_t elements) {
  int64_t bo = cfg.blockOut;
  int64_t full = elements / bo, rest = elements % bo;
  if (full)
    computeQ.push_back(
        load(npu::Buffer::Acc, npu::DType::I8, sram, dram, 1, 0, full, bo, 0));
  if (rest)
    computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, sram + full,
                            dram + full * bo, 1, 0, 1, bo, rest));
}

void CodeGen::storeFlat(int64_t sram, int64_t dram, int64_t elements) {
  int64_t bo = cfg.blockOut;
  int64_t full = elements / bo, rest = elements % bo;
  if (full)
    storeQ.push_back(store(sram, dram, 1, 0, full, bo, 0));
  if (rest)
    storeQ.push_back(store(sram + full, dram + full * bo, 1, 0, 1, bo, rest));
}

void CodeGen::addImm(int64_t base, int64_t rows, int32_t imm) {
  // rows = e0 * e1 with e1 <= 65535 (ACC has at most 2^24 rows).
  int64_t e1 = std::min<int64_t>(rows, 65535);
  while (rows % e1)
    --e1;
  Insn i = loop(npu::Opcode::Alu, npu::AluOp::Add, rows / e1, e1, {{0, 0, 0}},
                base, e1, 1, 0, 0, 0, 0, 0, 0);
  i.insn.flags = npu::AluUseImm;
  i.insn.imm0 = imm;
  computeQ.push_back(i);
}

TileShape mlir::qat::tonpu::chooseTile(const Layer &L, int64_t inpBlocks,
                                       int64_t inpBudget, int64_t accPerPixel,
                                       int64_t accBudget, int64_t stepH,
                                       int64_t stepW) {
  auto fits = [&](int64_t th, int64_t tw) {
    int64_t R = (th - 1) * L.sh + (L.KH - 1) * L.dh + 1;
    int64_t Cw = (tw - 1) * L.sw + (L.KW - 1) * L.dw + 1;
    return inpBlocks * R * Cw <= inpBudget &&
           accPerPixel * th * tw <= accBudget && th * tw <= 65535 &&
           R <= 65535 && Cw <= 65535;
  };
  // Rows and columns in multiples of (stepH, stepW) (a fused pool window).
  TileShape t;
  for (int64_t th = L.Ho; th >= stepH; th -= stepH)
    if (fits(th, L.Wo)) {
      t = {th, L.Wo};
      break;
    }
  if (!t.th)
    for (int64_t tw = L.Wo; tw >= stepW; tw -= stepW)
      if (fits(stepH, tw)) {
        t = {stepH, tw};
        break;
      }
  if (!t.th)
    return t;
  // Even pieces: the same number of tiles, as equal as possible.
  int64_t ny = L.Ho / stepH, nx = L.Wo / stepW;
  t.th = ceilDiv(ny, ceilDiv(ny, t.th / stepH)) * stepH;
  t.tw = ceilDiv(nx, ceilDiv(nx, t.tw / stepW)) * stepW;
  return t;
}

LogicalResult CodeGen::run(OpBuilder &b, Location loc, StringRef name) {
  std::string why = cfg.validate();
  if (!why.empty())
    return emitError(loc) << "invalid NPU configuration: " << why;
  if (!layout())
    return emitError(loc) << "the program needs more DRAM than the NPU's "
                          << npu::kMaxDramBytes
                          << " bytes (2^30): " << tooLarge;
  if (a.layers.size() >= npu::kNoLayer)
    return emitError(loc) << "too many layers (" << a.layers.size() << ")";
  for (auto [id, L] : llvm::enumerate(a.layers)) {
    LogicalResult r = L.kind == LayerKind::MaxPool     ? emitMaxPool(L, id)
                      : L.kind == LayerKind::Add       ? emitAdd(L, id)
                      : L.kind == LayerKind::Concat    ? emitConcat(L, id)
                      : L.kind == LayerKind::Transpose ? emitTranspose(L, id)
                                                       : emitGemm(L, id);
    if (failed(r))
      return failure();
  }
  finish();
  if (overflow)
    return emitError(loc) << "qat-lower-to-npu: a value does not fit its "
                             "instruction field (a bug of the lowering)";

  MLIRContext *ctx = b.getContext();
  auto program = npu::ir::ProgramOp::create(
      b, loc, name, npu::ir::ConfigAttr::get(ctx, cfg), dramSize);
  OpBuilder body = OpBuilder::atBlockEnd(&program.getBodyBlock());
  auto tensor = [&](const LayerGraph::IO &io, npu::ir::TensorRole role) {
    npu::ir::TensorOp::create(
        body, loc, npu::ir::TensorRoleAttr::get(ctx, role),
        body.getStringAttr(io.name),
        TypeAttr::get(RankedTensorType::get(io.ref.shape, body.getI8Type())),
        body.getI64IntegerAttr(addrOf(io.ref)), body.getF32FloatAttr(io.scale),
        body.getI32IntegerAttr(io.zeroPoint));
  };
  for (const LayerGraph::IO &io : a.inputs)
    tensor(io, npu::ir::TensorRole::input);
  for (const LayerGraph::IO &io : a.outputs)
    tensor(io, npu::ir::TensorRole::output);
  for (const Data &d : data) {
    DenseIntElementsAttr value;
    if (!d.words.empty())
      value = DenseIntElementsAttr::get(
          RankedTensorType::get({int64_t(d.words.size())}, body.getI32Type()),
          ArrayRef(d.words));
    else
      value = DenseIntElementsAttr::get(
          RankedTensorType::get({int64_t(d.bytes.size())}, body.getI8Type()),
          ArrayRef(d.bytes));
    npu::ir::DataOp::create(body, loc, d.name, d.addr, value);
  }
  // Layers are named after their module when the model has names
  // ("layer1.0.conv1: conv2d_1 3x3/1 16x16x64->16x16x64"), for the reports.
  for (auto [id, L] : llvm::enumerate(a.layers)) {
    std::string module = moduleName(L.op->getLoc());
    npu::ir::LayerOp::create(body, L.op->getLoc(), id,
                             module.empty() ? L.name : module + ": " + L.name,
                             L.macs);
  }
  for (const Insn &i : stream) {
    Location l = i.insn.layer != npu::kNoLayer
                     ? a.layers[i.insn.layer].op->getLoc()
                     : loc;
    npu::ir::createInstructionOp(body, l, i.insn, i.uops);
  }
  numInstructions = stream.size();
  // Every field the lowering wrote must pass the machine's static rules; a
  // failure here is a bug of this pass, reported on the program.
  if (failed(verify(program))) {
    program.erase();
    return emitError(loc) << "qat-lower-to-npu produced an invalid program "
                             "(a bug of the lowering)";
  }
  return success();
}
