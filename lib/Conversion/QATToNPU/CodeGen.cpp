//===- CodeGen.cpp - NPU layers to an npu.program -------------------------===//
//
// The DRAM layout, the token protocol between the load, compute and store
// modules, and the instructions of each kind of layer.
//
//===----------------------------------------------------------------------===//

#include "CodeGen.h"

#include "mlir/IR/Verifier.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

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

/// Output rows x cols of a tile that fit, for an input window of
/// (rows-1)*sh + (KH-1)*dh + 1 by (cols-1)*sw + (KW-1)*dw + 1 entries per
/// block.
struct TileShape {
  int64_t th = 0, tw = 0;
};

TileShape chooseTile(const Layer &L, int64_t inpBlocks, int64_t inpBudget,
                     int64_t accPerPixel, int64_t accBudget, int64_t stepH = 1,
                     int64_t stepW = 1) {
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

LogicalResult CodeGen::emitGemm(Layer &L, int id) {
  layerId = id;
  int64_t bi = cfg.blockIn, bo = cfg.blockOut;
  bool dw = L.kind == LayerKind::Depthwise;
  int64_t taps = L.KH * L.KW;
  int64_t B = std::min(bi, bo);
  int64_t CB = dw ? ceilDiv(L.C, B) : ceilDiv(L.C, bi);
  int64_t OB = dw ? ceilDiv(L.O, B) : ceilDiv(L.O, bo);
  int64_t width = dw ? B : bo;           // output channels per output block
  int64_t perOb = dw ? taps : taps * CB; // weight blocks per output block
  int64_t k = L.rq.add ? 3 : 2;
  int64_t inpBudget = cfg.inpDepth / slots;

  // Weights: resident in WGT for the whole layer when they all fit; else
  // groups of output blocks alternate between the WGT halves; else one
  // output block at a time with its reduction (input blocks x taps) in
  // chunks, a chunk per step.
  bool resident = OB * perOb <= int64_t(cfg.wgtDepth);
  int64_t wslot = resident ? cfg.wgtDepth : cfg.wgtDepth / slots;
  int64_t OBg = resident ? OB : wslot / perOb;
  int64_t cbPerChunk = dw ? 1 : CB, tapsPerChunk = taps;
  if (OBg == 0) {
    OBg = 1;
    if (!dw && wslot >= taps)
      cbPerChunk = wslot / taps;
    else
      cbPerChunk = 1, tapsPerChunk = std::min(taps, wslot);
  }
  // The tile: the largest block of output pixels whose input window fits
  // half of INP and whose accumulators (residual, pooled codes) fit half of
  // what the group's constant rows (bias, requantization) leave of ACC;
  // fewer input blocks per chunk when the window does not fit, fewer output
  // blocks per group when the rows do not.
  int64_t stepH = L.poolH ? L.poolH : 1, stepW = L.poolW ? L.poolW : 1;
  int64_t rowsPerOb = (L.rq.add ? 2 : 1) + (L.poolH ? 1 : 0);
  int64_t constRows, accBudget;
  TileShape ts;
  while (true) {
    constRows = OBg * (1 + k);
    accBudget = constRows < int64_t(cfg.accDepth)
                    ? (cfg.accDepth - constRows) / slots
                    : 0;
    int64_t inpBlocks = dw ? OBg : cbPerChunk;
    ts = chooseTile(L, inpBlocks, inpBudget, OBg * rowsPerOb, accBudget, stepH,
                    stepW);
    if (ts.th)
      break;
    int64_t R = (stepH - 1) * L.sh + (L.KH - 1) * L.dh + 1;
    int64_t Cw = (stepW - 1) * L.sw + (L.KW - 1) * L.dw + 1;
    bool inpOk = inpBlocks * R * Cw <= inpBudget;
    if (!inpOk && !dw && cbPerChunk > 1) {
      cbPerChunk = cbPerChunk / 2;
      continue;
    }
    if (OBg > 1 && (inpOk || dw)) {
      OBg = OBg / 2;
      continue;
    }
    return L.op->emitError()
           << "cannot run on the NPU: the input window of " << stepH * stepW
           << " output pixel(s) (" << L.KH << "x" << L.KW
           << " taps of one input block, " << R * Cw
           << " INP entries) or the ACC rows of one output block (" << 1 + k
           << " constant rows, " << rowsPerOb * stepH * stepW
           << " per tile) exceed " << (slots == 2 ? "half of " : "") << "INP ("
           << inpBudget << " entries) or ACC (acc_depth " << cfg.accDepth
           << ")";
  }
  int64_t constBase = cfg.accDepth - constRows;
  // Chunks of the reduction: (first input block, blocks, first tap, taps).
  struct Chunk {
    int64_t cb0, ncb, t0, nt;
  };
  SmallVector<Chunk> chunks;
  if (dw)
    for (int64_t t0 = 0; t0 < taps; t0 += tapsPerChunk)
      chunks.push_back({0, 1, t0, std::min(tapsPerChunk, taps - t0)});
  else
    for (int64_t cb0 = 0; cb0 < CB; cb0 += cbPerChunk)
      for (int64_t t0 = 0; t0 < taps; t0 += tapsPerChunk)
        chunks.push_back({cb0, std::min(cbPerChunk, CB - cb0), t0,
                          std::min(tapsPerChunk, taps - t0)});
  int64_t nChunks = chunks.size();
  bool perStepWeights = !resident && nChunks > 1;

  int64_t groups = ceilDiv(OB, OBg);
  int64_t tilesY = ceilDiv(L.Ho, ts.th), tilesX = ceilDiv(L.Wo, ts.tw);
  int64_t T = groups * L.N * tilesY * tilesX;
  beginLayer(true, T, T * nChunks);
  int64_t blockBytes = bi * bo;
  int64_t inAddr = addrOf(L.in), outAddr = addrOf(L.out);
  int64_t resAddr = L.rq.add ? addrOf(L.rq.residual) : 0;
  int64_t t = 0, step = 0;
  for (int64_t g = 0; g < groups; ++g) {
    int64_t ob0 = g * OBg, nOb = std::min(OBg, OB - ob0);
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t ty = 0; ty < tilesY; ++ty)
        for (int64_t tx = 0; tx < tilesX; ++tx, ++t) {
          int64_t oy0 = ty * ts.th, ox0 = tx * ts.tw;
          int64_t oh = std::min(ts.th, L.Ho - oy0);
          int64_t ow = std::min(ts.tw, L.Wo - ox0);
          int64_t P = oh * ow;
          int64_t R = (oh - 1) * L.sh + (L.KH - 1) * L.dh + 1;
          int64_t Cw = (ow - 1) * L.sw + (L.KW - 1) * L.dw + 1;
          int64_t accSlot = (t % slots) * accBudget;
          int64_t iy0 = oy0 * L.sh - L.padTop, ix0 = ox0 * L.sw - L.padLeft;
          int64_t yPad0 = std::clamp<int64_t>(-iy0, 0, R);
          int64_t yPad1 = std::clamp<int64_t>(iy0 + R - L.H, 0, R - yPad0);
          int64_t xPad0 = std::clamp<int64_t>(-ix0, 0, Cw);
          int64_t xPad1 = std::clamp<int64_t>(ix0 + Cw - L.W, 0, Cw - xPad0);
          int64_t ySize = R - yPad0 - yPad1, xSize = Cw - xPad0 - xPad1;
          int64_t resRows = accSlot + nOb * P;
          int64_t outPix = ((n * L.Ho + oy0) * L.Wo + ox0) * L.O;
          for (auto [ci, ch] : llvm::enumerate(chunks)) {
            bool first = ci == 0, last = int64_t(ci) == nChunks - 1;
            int64_t inSlot = (step % slots) * inpBudget;
            // Weights of this step (WGT entry of block (ob, cb, tap) below).
            int64_t wBase;
            int64_t chunkStart = ch.cb0 * taps + ch.t0;
            if (resident) {
              wBase = ob0 * perOb + chunkStart;
              if (step == 0)
                loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, 0,
                            L.weightAddr, OB * perOb, blockBytes);
            } else if (perStepWeights) {
              wBase = (step % slots) * wslot;
              loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, wBase,
                          L.weightAddr +
                              (ob0 * perOb + chunkStart) * blockBytes,
                          ch.ncb * ch.nt, blockBytes);
            } else {
              wBase = (g % slots) * wslot + chunkStart;
              if (tx == 0 && ty == 0 && n == 0 && first)
                loadEntries(loadQ, npu::Buffer::Wgt, npu::DType::I8, wBase,
                            L.weightAddr + ob0 * perOb * blockBytes,
                            nOb * perOb, blockBytes);
            }
            // The input window, one LOAD per input block, padding included.
            int64_t inBlocks = dw ? nOb : ch.ncb;
            for (int64_t c = 0; c < inBlocks; ++c) {
              int64_t cb = dw ? (ob0 + c) / L.M : ch.cb0 + c;
              int64_t cw = dw ? B : bi;
              int64_t lanes = std::min(cw, L.C - cb * cw);
              int64_t dram = inAddr +
                             ((n * L.H + std::max<int64_t>(iy0, 0)) * L.W +
                              std::max<int64_t>(ix0, 0)) *
                                 L.C +
                             cb * cw;
              Insn ld = load(npu::Buffer::Inp, npu::DType::I8,
                             inSlot + c * R * Cw, dram, ySize, L.W * L.C, xSize,
                             L.C, lanes == bi ? 0 : lanes);
              ld.insn.yPad0 = uint8_t(yPad0), ld.insn.yPad1 = uint8_t(yPad1);
              ld.insn.xPad0 = uint8_t(xPad0), ld.insn.xPad1 = uint8_t(xPad1);
              ld.insn.padValue = L.inZp;
              loadQ.push_back(ld);
            }
            if (first && tx == 0 && ty == 0 && n == 0) {
              // The group's bias rows and requantization rows, at the top
              // of ACC: compute-module loads that need no token (only the
              // compute module touches these rows, in program order).
              loadEntries(stream, npu::Buffer::Acc, npu::DType::I32, constBase,
                          L.constAddr + ob0 * bo * 4, nOb, bo * 4);
              loadEntries(
                  stream, npu::Buffer::Acc, npu::DType::I32, constBase + OBg,
                  L.constAddr + (OB + ob0 * k) * bo * 4, nOb * k, bo * 4);
            }
            if (first) {
              // Residual codes into ACC after the accumulators.
              if (L.rq.add) {
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  computeQ.push_back(
                      load(npu::Buffer::Acc, npu::DType::I8, resRows + o * P,
                           resAddr + outPix + ch0, oh, L.Wo * L.O, ow, L.O,
                           lanes == bo ? 0 : lanes));
                }
                if (L.rq.zr)
                  addImm(resRows, nOb * P, -L.rq.zr);
              }
              // Accumulators start at the bias.
              SmallVector<npu::MicroOp> biasUops;
              for (int64_t o = 0; o < nOb; ++o)
                biasUops.push_back({uint32_t(o * P), uint32_t(o), 0});
              computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, 1, P,
                                      biasUops, accSlot, 0, 1, constBase, 0, 0,
                                      0, 0, 0));
            }
            // The micro-kernel of one output pixel: the chunk's input blocks
            // and taps, WGT entries in the chunk's order.
            SmallVector<npu::MicroOp> kernel;
            for (int64_t c = 0; c < ch.ncb; ++c)
              for (int64_t tap = ch.t0; tap < ch.t0 + ch.nt; ++tap) {
                int64_t ky = tap / L.KW, kx = tap % L.KW;
                kernel.push_back({0,
                                  uint32_t((dw ? 0 : c * R * Cw) +
                                           ky * L.dh * Cw + kx * L.dw),
                                  uint32_t(c * ch.nt + tap - ch.t0)});
              }
            for (int64_t o = 0; o < nOb; ++o)
              computeQ.push_back(
                  loop(npu::Opcode::Gemm, npu::AluOp::Mov, oh, ow, kernel,
                       accSlot + o * P, ow, 1, inSlot + (dw ? o * R * Cw : 0),
                       L.sh * Cw, L.sw,
                       wBase + (perStepWeights ? 0 : o * perOb), 0, 0));
            if (last) {
              // Requantization in place.
              SmallVector<npu::MicroOp> rqUops;
              for (int64_t o = 0; o < nOb; ++o)
                rqUops.push_back({uint32_t(o * P),
                                  uint32_t((L.rq.add ? nOb * P : 0) + o * P),
                                  uint32_t(o * k)});
              Insn rq = loop(
                  npu::Opcode::Alu,
                  L.rq.add ? npu::AluOp::RescaleAdd : npu::AluOp::Rescale, 1, P,
                  rqUops, accSlot, 0, 1, accSlot, 0, 1, constBase + OBg, 0, 0);
              rq.insn.imm0 = L.rq.zo, rq.insn.imm1 = L.rq.qmin,
              rq.insn.imm2 = L.rq.qmax;
              computeQ.push_back(rq);
              if (L.poolH) {
                // The fused max pool: MOV of each window's first code, MAX
                // of the others, into the pooled rows after the residual.
                int64_t kh = L.poolH, kw = L.poolW;
                int64_t ph = oh / kh, pw = ow / kw, Pp = ph * pw;
                int64_t pooledRows = accSlot + (L.rq.add ? 2 : 1) * nOb * P;
                SmallVector<npu::MicroOp> first, rest;
                for (int64_t o = 0; o < nOb; ++o)
                  for (int64_t y = 0; y < kh; ++y)
                    for (int64_t x = 0; x < kw; ++x)
                      (y == 0 && x == 0 ? first : rest)
                          .push_back({uint32_t(o * Pp),
                                      uint32_t(o * P + y * ow + x), 0});
                computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, ph,
                                        pw, first, pooledRows, pw, 1, accSlot,
                                        kh * ow, kw, 0, 0, 0));
                if (!rest.empty())
                  computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Max, ph,
                                          pw, rest, pooledRows, pw, 1, accSlot,
                                          kh * ow, kw, 0, 0, 0));
                int64_t Hp = L.Ho / kh, Wp = L.Wo / kw;
                int64_t pooledPix = ((n * Hp + oy0 / kh) * Wp + ox0 / kw) * L.O;
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  storeQ.push_back(
                      store(pooledRows + o * Pp, outAddr + pooledPix + ch0, ph,
                            Wp * L.O, pw, L.O, lanes == bo ? 0 : lanes));
                }
              } else {
                for (int64_t o = 0; o < nOb; ++o) {
                  int64_t ch0 = (ob0 + o) * width;
                  int64_t lanes = std::min(width, L.O - ch0);
                  storeQ.push_back(store(accSlot + o * P,
                                         outAddr + outPix + ch0, oh, L.Wo * L.O,
                                         ow, L.O, lanes == bo ? 0 : lanes));
                }
              }
            }
            endStep(step++, t, first, last);
          }
        }
  }
  return success();
}

LogicalResult CodeGen::emitMaxPool(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t CB = ceilDiv(L.C, bo);
  int64_t accBudget = cfg.accDepth / slots;
  // ACC holds the input window and the output of each block of the tile.
  int64_t CBt = CB;
  TileShape ts;
  while (true) {
    auto fits = [&](int64_t th, int64_t tw) {
      int64_t R = (th - 1) * L.sh + L.KH, Cw = (tw - 1) * L.sw + L.KW;
      return CBt * (R * Cw + th * tw) <= accBudget && R * Cw <= 65535;
    };
    ts = {};
    for (int64_t th = L.Ho; th >= 1 && !ts.th; --th)
      if (fits(th, L.Wo))
        ts = {th, L.Wo};
    for (int64_t tw = L.Wo; tw >= 1 && !ts.th; --tw)
      if (fits(1, tw))
        ts = {1, tw};
    if (ts.th || CBt == 1)
      break;
    --CBt;
  }
  if (!ts.th)
    return L.op->emitError()
           << "cannot run on the NPU: one " << L.KH << "x" << L.KW
           << " pooling window exceeds " << (slots == 2 ? "half of " : "")
           << "ACC (" << accBudget << " entries)";
  ts.th = ceilDiv(L.Ho, ceilDiv(L.Ho, ts.th));
  ts.tw = ceilDiv(L.Wo, ceilDiv(L.Wo, ts.tw));
  int64_t groups = ceilDiv(CB, CBt);
  int64_t tilesY = ceilDiv(L.Ho, ts.th), tilesX = ceilDiv(L.Wo, ts.tw);
  int64_t T = groups * L.N * tilesY * tilesX;
  beginLayer(false, T);
  int64_t inAddr = addrOf(L.in), outAddr = addrOf(L.out);
  int64_t t = 0;
  for (int64_t g = 0; g < groups; ++g) {
    int64_t cb0 = g * CBt, nCb = std::min(CBt, CB - cb0);
    for (int64_t n = 0; n < L.N; ++n)
      for (int64_t ty = 0; ty < tilesY; ++ty)
        for (int64_t tx = 0; tx < tilesX; ++tx, ++t) {
          int64_t oy0 = ty * ts.th, ox0 = tx * ts.tw;
          int64_t oh = std::min(ts.th, L.Ho - oy0);
          int64_t ow = std::min(ts.tw, L.Wo - ox0);
          int64_t P = oh * ow;
          int64_t R = (oh - 1) * L.sh + L.KH, Cw = (ow - 1) * L.sw + L.KW;
          int64_t accSlot = (t % slots) * accBudget;
          int64_t outRows = accSlot + nCb * R * Cw;
          int64_t iy0 = oy0 * L.sh - L.padTop, ix0 = ox0 * L.sw - L.padLeft;
          int64_t yPad0 = std::clamp<int64_t>(-iy0, 0, R);
          int64_t yPad1 = std::clamp<int64_t>(iy0 + R - L.H, 0, R - yPad0);
          int64_t xPad0 = std::clamp<int64_t>(-ix0, 0, Cw);
          int64_t xPad1 = std::clamp<int64_t>(ix0 + Cw - L.W, 0, Cw - xPad0);
          for (int64_t c = 0; c < nCb; ++c) {
            int64_t cb = cb0 + c;
            int64_t lanes = std::min(bo, L.C - cb * bo);
            int64_t dram = inAddr +
                           ((n * L.H + std::max<int64_t>(iy0, 0)) * L.W +
                            std::max<int64_t>(ix0, 0)) *
                               L.C +
                           cb * bo;
            Insn ld =
                load(npu::Buffer::Acc, npu::DType::I8, accSlot + c * R * Cw,
                     dram, R - yPad0 - yPad1, L.W * L.C, Cw - xPad0 - xPad1,
                     L.C, lanes == bo ? 0 : lanes);
            ld.insn.yPad0 = uint8_t(yPad0), ld.insn.yPad1 = uint8_t(yPad1);
            ld.insn.xPad0 = uint8_t(xPad0), ld.insn.xPad1 = uint8_t(xPad1);
            // Below every code: padding never wins a maximum (TOSA ignores
            // it), and a window always holds a real element.
            ld.insn.padValue = -128;
            computeQ.push_back(ld);
          }
          SmallVector<npu::MicroOp> first, rest;
          for (int64_t c = 0; c < nCb; ++c)
            for (int64_t ky = 0; ky < L.KH; ++ky)
              for (int64_t kx = 0; kx < L.KW; ++kx)
                (ky == 0 && kx == 0 ? first : rest)
                    .push_back({uint32_t(c * P),
                                uint32_t(c * R * Cw + ky * Cw + kx), 0});
          computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Mov, oh, ow,
                                  first, outRows, ow, 1, accSlot, L.sh * Cw,
                                  L.sw, 0, 0, 0));
          if (!rest.empty())
            computeQ.push_back(loop(npu::Opcode::Alu, npu::AluOp::Max, oh, ow,
                                    rest, outRows, ow, 1, accSlot, L.sh * Cw,
                                    L.sw, 0, 0, 0));
          int64_t outPix = ((n * L.Ho + oy0) * L.Wo + ox0) * L.C;
          for (int64_t c = 0; c < nCb; ++c) {
            int64_t cb = cb0 + c;
            int64_t lanes = std::min(bo, L.C - cb * bo);
            storeQ.push_back(store(outRows + c * P, outAddr + outPix + cb * bo,
                                   oh, L.Wo * L.C, ow, L.C,
                                   lanes == bo ? 0 : lanes));
          }
          endTile(t);
        }
  }
  return success();
}

LogicalResult CodeGen::emitAdd(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t elements = a.storages[L.out.storage].bytes;
  int64_t entries = ceilDiv(elements, bo);
  int64_t constBase = cfg.accDepth - 3;
  int64_t accBudget = (cfg.accDepth - 3) / slots;
  int64_t perTile = std::min<int64_t>({accBudget / 2, 65535, entries});
  if (perTile < 1)
    return L.op->emitError("cannot run on the NPU: ACC is too small for an "
                           "add (acc_depth ")
           << cfg.accDepth << ")";
  int64_t T = ceilDiv(entries, perTile);
  beginLayer(false, T);
  loadEntries(stream, npu::Buffer::Acc, npu::DType::I32, constBase, L.constAddr,
              3, bo * 4);
  int64_t aAddr = addrOf(L.in), bAddr = addrOf(L.in2), outAddr = addrOf(L.out);
  for (int64_t t = 0; t < T; ++t) {
    int64_t e0 = t * perTile, ne = std::min(perTile, entries - e0);
    int64_t first = e0 * bo, count = std::min(ne * bo, elements - first);
    int64_t accSlot = (t % slots) * accBudget;
    loadFlat(accSlot, aAddr + first, count);
    loadFlat(accSlot + perTile, bAddr + first, count);
    if (L.rq.zl)
      addImm(accSlot, ne, -L.rq.zl);
    if (L.rq.zr)
      addImm(accSlot + perTile, ne, -L.rq.zr);
    Insn rq = loop(npu::Opcode::Alu, npu::AluOp::RescaleAdd, 1, ne,
                   {{0, uint32_t(perTile), 0}}, accSlot, 0, 1, accSlot, 0, 1,
                   constBase, 0, 0);
    rq.insn.imm0 = L.rq.zo, rq.insn.imm1 = L.rq.qmin, rq.insn.imm2 = L.rq.qmax;
    computeQ.push_back(rq);
    storeFlat(accSlot, outAddr + first, count);
    endTile(t);
  }
  return success();
}

/// Concat: each input, seen as [outer, inner] rows (inner = the product of
/// the dimensions from the axis on), is copied through ACC into its columns
/// of the output: one LOAD and one STORE per tile of rows, a row per (y, x)
/// step with `lanes` = the row's elements (docs/NPU.md: a step fills
/// ceil(lanes / block_out) entries).
LogicalResult CodeGen::emitConcat(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t accBudget = cfg.accDepth / slots;
  ArrayRef<int64_t> outShape = L.out.shape;
  int64_t outer = 1, innerTot = 1;
  for (int64_t d = 0; d < int64_t(outShape.size()); ++d)
    (d < L.axis ? outer : innerTot) *= outShape[d];
  struct Piece {
    int64_t src, dst, width, rows, srcStride;
  };
  SmallVector<Piece> pieces;
  int64_t offset = 0;
  for (const TensorRef &in : L.ins) {
    int64_t inner = 1;
    for (int64_t d = L.axis; d < int64_t(in.shape.size()); ++d)
      inner *= in.shape[d];
    // Columns per piece: one step of at most 65535 lanes, within ACC.
    int64_t chunk = std::min<int64_t>({inner, 65535, accBudget * bo});
    for (int64_t c0 = 0; c0 < inner; c0 += chunk) {
      int64_t w = std::min(chunk, inner - c0);
      int64_t rowsPerTile =
          std::min<int64_t>({outer, 65535, accBudget / ceilDiv(w, bo)});
      for (int64_t r0 = 0; r0 < outer; r0 += rowsPerTile)
        pieces.push_back({addrOf(in) + r0 * inner + c0,
                          addrOf(L.out) + r0 * innerTot + offset + c0, w,
                          std::min(rowsPerTile, outer - r0), inner});
    }
    offset += inner;
  }
  beginLayer(false, pieces.size());
  for (auto [t, p] : llvm::enumerate(pieces)) {
    int64_t accSlot = (t % slots) * accBudget;
    computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                            p.rows, p.srcStride, 1, 0,
                            p.width == bo ? 0 : p.width));
    storeQ.push_back(store(accSlot, p.dst, p.rows, innerTot, 1, 0,
                           p.width == bo ? 0 : p.width));
    endTile(t);
  }
  return success();
}

/// Transpose: the output's two innermost dimensions are the (y, x) steps of
/// one LOAD into ACC (reading the input with the strides of the dimensions
/// they come from; a whole row per step when the innermost output dimension
/// is the input's innermost, else one element per step) and one STORE of
/// dense rows; the outer output dimensions are instructions.
LogicalResult CodeGen::emitTranspose(Layer &L, int id) {
  layerId = id;
  int64_t bo = cfg.blockOut;
  int64_t accBudget = cfg.accDepth / slots;
  int64_t rank = L.in.shape.size();
  SmallVector<int64_t> inStride(rank, 1);
  for (int64_t d = rank - 2; d >= 0; --d)
    inStride[d] = inStride[d + 1] * L.in.shape[d + 1];
  ArrayRef<int64_t> out = L.out.shape;
  // Output dims as (outer..., y, x); rank 1 cannot permute.
  int64_t X = out[rank - 1], Y = rank >= 2 ? out[rank - 2] : 1;
  int64_t xs = inStride[L.perms[rank - 1]];
  int64_t ys = rank >= 2 ? inStride[L.perms[rank - 2]] : 0;
  bool rows = xs == 1; // a whole output row is contiguous in the input
  int64_t lanesPerStep = rows ? X : 1;
  int64_t entriesPerStep = ceilDiv(lanesPerStep, bo);
  if (lanesPerStep > 65535 || (!rows && X > 65535) ||
      entriesPerStep * (rows ? 1 : X) > accBudget)
    return L.op->emitError() << "cannot run on the NPU: a transposed row of "
                             << X << " codes does not fit one DMA of ACC ("
                             << accBudget << " entries)";
  int64_t rowEntries = entriesPerStep * (rows ? 1 : X);
  int64_t rowsPerTile = std::min<int64_t>({Y, 65535, accBudget / rowEntries});
  SmallVector<int64_t> outer(out.begin(),
                             out.end() - std::min<int64_t>(rank, 2));
  int64_t nOuter = 1;
  for (int64_t d : outer)
    nOuter *= d;
  struct Piece {
    int64_t src, dst, nrows;
  };
  SmallVector<Piece> pieces;
  for (int64_t o = 0; o < nOuter; ++o) {
    // The input offset of outer index o.
    int64_t rem = o, src = addrOf(L.in);
    for (int64_t d = int64_t(outer.size()) - 1; d >= 0; --d) {
      src += (rem % outer[d]) * inStride[L.perms[d]];
      rem /= outer[d];
    }
    for (int64_t y0 = 0; y0 < Y; y0 += rowsPerTile)
      pieces.push_back({src + y0 * ys, addrOf(L.out) + (o * Y + y0) * X,
                        std::min(rowsPerTile, Y - y0)});
  }
  beginLayer(false, pieces.size());
  for (auto [t, p] : llvm::enumerate(pieces)) {
    int64_t accSlot = (t % slots) * accBudget;
    if (rows) {
      computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                              p.nrows, ys, 1, 0, X == bo ? 0 : X));
      storeQ.push_back(
          store(accSlot, p.dst, p.nrows, X, 1, 0, X == bo ? 0 : X));
    } else {
      computeQ.push_back(load(npu::Buffer::Acc, npu::DType::I8, accSlot, p.src,
                              p.nrows, ys, X, xs, 1));
      storeQ.push_back(store(accSlot, p.dst, p.nrows, X, X, 1, 1));
    }
    endTile(t);
  }
  return success();
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
  auto program = npuir::ProgramOp::create(
      b, loc, name, npuir::ConfigAttr::get(ctx, cfg), dramSize);
  OpBuilder body = OpBuilder::atBlockEnd(&program.getBodyBlock());
  auto tensor = [&](const LayerGraph::IO &io, npuir::TensorRole role) {
    npuir::TensorOp::create(
        body, loc, npuir::TensorRoleAttr::get(ctx, role),
        body.getStringAttr(io.name),
        TypeAttr::get(RankedTensorType::get(io.ref.shape, body.getI8Type())),
        body.getI64IntegerAttr(addrOf(io.ref)), body.getF32FloatAttr(io.scale),
        body.getI32IntegerAttr(io.zeroPoint));
  };
  for (const LayerGraph::IO &io : a.inputs)
    tensor(io, npuir::TensorRole::input);
  for (const LayerGraph::IO &io : a.outputs)
    tensor(io, npuir::TensorRole::output);
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
    npuir::DataOp::create(body, loc, d.name, d.addr, value);
  }
  for (auto [id, L] : llvm::enumerate(a.layers))
    npuir::LayerOp::create(body, L.op->getLoc(), id, L.name, L.macs);
  for (const Insn &i : stream) {
    Location l = i.insn.layer != npu::kNoLayer
                     ? a.layers[i.insn.layer].op->getLoc()
                     : loc;
    npuir::createInstructionOp(body, l, i.insn, i.uops);
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
