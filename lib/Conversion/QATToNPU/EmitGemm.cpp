//===- EmitGemm.cpp - NPU GEMM layers -------------------------------------===//
//
// The instructions of a convolution, depthwise convolution or fully
// connected layer on the NPU's GEMM core (CodeGen::emitGemm): tiles, the
// reduction in steps, requantization and residual on the ALU.
//
//===----------------------------------------------------------------------===//

#include "CodeGen.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

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
