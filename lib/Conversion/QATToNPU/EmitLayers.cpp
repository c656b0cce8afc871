//===- EmitLayers.cpp - the other NPU layers ------------------------------===//
//
// The instructions of the layers that are not GEMMs: max pool and add on the
// ALU, concat and transpose as copies through ACC.
//
//===----------------------------------------------------------------------===//

#include "CodeGen.h"

#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::tonpu;

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
