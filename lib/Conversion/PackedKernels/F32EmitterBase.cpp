//===- F32EmitterBase.cpp - shared parts of the f32 kernel emitters -------===//
//
// The stride phases of data gradients, the zero-padded input copy, the fused
// epilogue and its stores, and the two register-tile loop nests
// (F32Emitters.h).
//
//===----------------------------------------------------------------------===//

#include "F32Emitters.h"

#include "mlir/IR/IRMapping.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::f32;

Value F32EmitterBase::source(Value input, int64_t cp, bool par, int64_t slack) {
  auto type = cast<MemRefType>(input.getType());
  if (llvm::all_of(pad, [](int64_t p) { return p == 0; }) && cp == c &&
      type.getLayout().isIdentity() && !slack)
    return flatten(input);
  int64_t total = n * hp * wp * cp;
  auto bufType = MemRefType::get({total + slack}, b.getF32Type());
  Value buf = memref::AllocOp::create(b, loc, bufType, b.getI64IntegerAttr(64));
  copiedSource = buf;
  Value zero = splat(0.0f);
  for (int64_t i = 0; i < slack; i += 16)
    vector::MaskedStoreOp::create(b, loc, buf, ValueRange{idx(total + i)},
                                  mask(std::min<int64_t>(16, slack - i)), zero);
  // Zeros: `len` floats from `start`, whole vectors and a masked one.
  auto fill = [&](Value start, int64_t len) {
    int64_t whole = len / 16;
    if (whole > 4) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
      OpBuilder::InsertionGuard g(b);
      b.setInsertionPointToStart(loop.getBody());
      vector::StoreOp::create(b, loc, zero, buf,
                              ValueRange{add(start, loop.getInductionVar())});
    } else {
      for (int64_t i = 0; i < whole; ++i)
        vector::StoreOp::create(b, loc, zero, buf,
                                ValueRange{add(start, i * 16)});
    }
    if (len % 16)
      vector::MaskedStoreOp::create(b, loc, buf,
                                    ValueRange{add(start, whole * 16)},
                                    mask(len % 16), zero);
  };
  int64_t rowLen = wp * cp;
  if (pad[0] || pad[1])
    loopNest(
        {n}, {1},
        [&](ValueRange iv) {
          Value base = mul(iv[0], hp * rowLen);
          fill(base, pad[0] * rowLen);
          fill(add(base, (pad[0] + h) * rowLen), pad[1] * rowLen);
        },
        par);
  loopNest(
      {n * h}, {1},
      [&](ValueRange iv) {
        Value y = arith::RemUIOp::create(b, loc, iv[0], idx(h));
        Value img = arith::DivUIOp::create(b, loc, iv[0], idx(h));
        Value rowStart = mul(add(mul(img, hp), add(y, pad[0])), rowLen);
        fill(rowStart, pad[2] * cp);
        fill(add(rowStart, (pad[2] + wIn) * cp), pad[3] * cp);
        Value dst0 = add(rowStart, pad[2] * cp);
        if (cp == c && type.getLayout().isIdentity()) {
          // The row is contiguous in the input: copy it in vectors.
          Value flatIn = flatten(input);
          Value src0 = mul(add(mul(img, h), y), wIn * c);
          int64_t len = wIn * c, whole = len / 16;
          if (whole) {
            auto loop =
                scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
            OpBuilder::InsertionGuard g(b);
            b.setInsertionPointToStart(loop.getBody());
            Value i = loop.getInductionVar();
            Value v = vector::LoadOp::create(b, loc, vecType(), flatIn,
                                             ValueRange{add(src0, i)});
            vector::StoreOp::create(b, loc, v, buf, ValueRange{add(dst0, i)});
          }
          if (len % 16) {
            Value v = vector::MaskedLoadOp::create(
                b, loc, vecType(), flatIn, ValueRange{add(src0, whole * 16)},
                mask(len % 16), zero);
            vector::MaskedStoreOp::create(b, loc, buf,
                                          ValueRange{add(dst0, whole * 16)},
                                          mask(len % 16), v);
          }
          return;
        }
        // Pixel by pixel, 16 channels at a time (channels beyond C: 0).
        auto loop = scf::ForOp::create(b, loc, idx(0), idx(wIn), idx(1));
        OpBuilder::InsertionGuard g(b);
        b.setInsertionPointToStart(loop.getBody());
        Value x = loop.getInductionVar();
        Value dst = add(dst0, mul(x, cp));
        for (int64_t c0 = 0; c0 < cp; c0 += 16) {
          int64_t loadLen = std::clamp<int64_t>(c - c0, 0, 16);
          int64_t storeLen = std::min<int64_t>(16, cp - c0);
          SmallVector<Value, 4> from{img, y, x, idx(c0)};
          Value v = zero;
          if (loadLen == 16)
            v = vector::LoadOp::create(b, loc, vecType(), input, from);
          else if (loadLen > 0)
            v = vector::MaskedLoadOp::create(b, loc, vecType(), input, from,
                                             mask(loadLen), zero);
          if (storeLen == 16)
            vector::StoreOp::create(b, loc, v, buf, ValueRange{add(dst, c0)});
          else
            vector::MaskedStoreOp::create(b, loc, buf, ValueRange{add(dst, c0)},
                                          mask(storeLen), v);
        }
      },
      par);
  return buf;
}

Value F32EmitterBase::loadEpilogueInput(Value in, ArrayRef<Value> at,
                                        int64_t tail) {
  auto t = cast<MemRefType>(in.getType());
  SmallVector<Value, 4> idxs;
  for (int64_t d = 0; d < t.getRank(); ++d)
    idxs.push_back(t.getDimSize(d) == 1 ? idx(0) : at[d]);
  auto vt = VectorType::get({16}, t.getElementType());
  if (t.getDimSize(t.getRank() - 1) == 1)
    return vector::BroadcastOp::create(
        b, loc, vt, memref::LoadOp::create(b, loc, in, idxs));
  if (tail) {
    Value pass = arith::ConstantOp::create(
        b, loc, DenseElementsAttr::get(vt, b.getZeroAttr(t.getElementType())));
    return vector::MaskedLoadOp::create(b, loc, vt, in, idxs, mask(tail), pass);
  }
  return vector::LoadOp::create(b, loc, vt, in, idxs);
}

Value F32EmitterBase::applyEpilogue(Region &region, ArrayRef<Value> inputs,
                                    Value acc) {
  if (region.empty())
    return acc;
  Block &block = region.front();
  IRMapping mapping;
  mapping.map(block.getArgument(0), acc);
  for (auto [i, in] : llvm::enumerate(inputs))
    mapping.map(block.getArgument(i + 1), in);
  // The region's scalar ops on vector<16x...>: constants become splats,
  // values from outside the region broadcasts.
  auto vectorOf = [&](Value s) -> Value {
    if (Value m = mapping.lookupOrNull(s))
      return m;
    Value bc = vector::BroadcastOp::create(
        b, loc, VectorType::get({16}, s.getType()), s);
    mapping.map(s, bc);
    return bc;
  };
  for (Operation &op : block.without_terminator()) {
    if (auto cst = dyn_cast<arith::ConstantOp>(op)) {
      auto vt = VectorType::get({16}, cst.getType());
      mapping.map(cst.getResult(),
                  arith::ConstantOp::create(
                      b, loc, DenseElementsAttr::get(vt, cst.getValue())));
      continue;
    }
    OperationState state(loc, op.getName());
    for (Value operand : op.getOperands())
      state.operands.push_back(vectorOf(operand));
    for (Type t : op.getResultTypes())
      state.types.push_back(VectorType::get({16}, t));
    state.addAttributes(op.getAttrs());
    Operation *vop = b.create(state);
    mapping.map(op.getResult(0), vop->getResult(0));
  }
  return vectorOf(cast<YieldOp>(block.getTerminator()).getValues()[0]);
}

void F32EmitterBase::epilogueAndStore(Region &region, ValueRange inputs,
                                      Value out, Value acc, Value img, Value oy,
                                      Value ox, Value c0, int64_t tail) {
  SmallVector<Value> vectors;
  if (!region.empty())
    for (Value in : inputs)
      vectors.push_back(loadEpilogueInput(in, {img, oy, ox, c0}, tail));
  Value v = applyEpilogue(region, vectors, acc);
  SmallVector<Value, 4> at{img, oy, ox, c0};
  if (tail)
    vector::MaskedStoreOp::create(b, loc, out, at, mask(tail), v);
  else
    vector::StoreOp::create(b, loc, v, out, at);
}

/// The kernel positions of stride phase `p` along one dimension (dilation
/// 1): the k with (p + padLo - k) divisible by s, by descending k (ascending
/// dy index (p + padLo - k) / s), the first dy index in `first`.
SmallVector<int64_t> mlir::qat::f32::phaseTaps(int64_t p, int64_t k, int64_t s,
                                               int64_t padLo, int64_t &first) {
  SmallVector<int64_t> taps;
  for (int64_t kk = k - 1; kk >= 0; --kk)
    if ((p + padLo - kk) % s == 0)
      taps.push_back(kk);
  first = taps.empty() ? 0 : (p + padLo - taps.front()) / s;
  return taps;
}

SmallVector<StridePhase> F32EmitterBase::stridePhases(Value gradOutput,
                                                      Value init, int64_t kh,
                                                      int64_t kw,
                                                      ArrayRef<int64_t> st,
                                                      ArrayRef<int64_t> pd) {
  auto dyType = cast<MemRefType>(gradOutput.getType());
  auto dxType = cast<MemRefType>(init.getType());
  int64_t hIn = dxType.getDimSize(1), wInput = dxType.getDimSize(2);
  int64_t hOut = dyType.getDimSize(1), wOut = dyType.getDimSize(2);
  int64_t sh = st[0], sw = st[1];
  // The phases, and the zero border dy needs so that every read of every
  // phase is inside the copy.
  SmallVector<StridePhase> phases;
  int64_t padT = 0, padB = 0, padL = 0, padR = 0;
  for (int64_t py = 0; py < std::min(sh, hIn); ++py)
    for (int64_t px = 0; px < std::min(sw, wInput); ++px) {
      StridePhase ph;
      ph.py = py;
      ph.px = px;
      ph.ys = (hIn - py + sh - 1) / sh;
      ph.xs = (wInput - px + sw - 1) / sw;
      ph.ty = phaseTaps(py, kh, sh, pd[0], ph.cy);
      ph.tx = phaseTaps(px, kw, sw, pd[2], ph.cx);
      if (!ph.ty.empty() && !ph.tx.empty()) {
        padT = std::max(padT, -ph.cy);
        padB = std::max<int64_t>(
            padB, ph.ys - 1 + ph.cy + int64_t(ph.ty.size()) - 1 - (hOut - 1));
        padL = std::max(padL, -ph.cx);
        padR = std::max<int64_t>(
            padR, ph.xs - 1 + ph.cx + int64_t(ph.tx.size()) - 1 - (wOut - 1));
      }
      phases.push_back(std::move(ph));
    }
  // dy as the source, padded: the base class's geometry is dy's.
  n = dyType.getDimSize(0);
  h = hOut;
  wIn = wOut;
  c = dyType.getDimSize(3);
  pad = {padT, padB, padL, padR};
  hp = h + padT + padB;
  wp = wIn + padL + padR;
  return phases;
}

/// Pixels per register tile for `blocks` blocks: the R (accumulators R x
/// blocks, plus the blocks' weights and a broadcast, within the 32 vector
/// registers) whose tiles, the last one partial, cost the fewest
/// multiply-add slots, counting a tile of fewer than 8 accumulators as 8 (the
/// fma latency it cannot hide); the larger R on a tie.
static int64_t defaultRows(int64_t pixels, int64_t blocks) {
  int64_t best = 1, bestCost = INT64_MAX;
  for (int64_t rows = 1; rows * blocks <= 28 && rows * blocks + blocks < 32;
       ++rows) {
    auto cost = [&](int64_t r) { return std::max<int64_t>(r * blocks, 8); };
    int64_t c =
        pixels / rows * cost(rows) + (pixels % rows ? cost(pixels % rows) : 0);
    if (c <= bestCost) {
      best = rows;
      bestCost = c;
    }
  }
  return best;
}

void GemmTileEmitter::emitTile(const TileGeometry &g, Value pixel, int64_t rows,
                               Value block, int64_t blocks, bool partialLast) {
  SmallVector<Value> img(rows), oy(rows), ox(rows), base(rows);
  // The block index in the weights and bias, and the first output channel.
  int64_t nbg = llvm::divideCeil(outChannels, 16);
  Value groupBlock = group ? mul(group, nbg) : Value();
  auto wBlock = [&](int64_t j) {
    Value k = add(block, j);
    return groupBlock ? add(groupBlock, k) : k;
  };
  Value groupSrc = group ? mul(group, groupInChannels) : Value();
  Value groupOut = group ? mul(group, outChannels) : Value();
  for (int64_t i = 0; i < rows; ++i) {
    Value p = add(pixel, i);
    Value x = arith::RemUIOp::create(b, loc, p, idx(g.xs));
    Value rest = arith::DivUIOp::create(b, loc, p, idx(g.xs));
    Value y = arith::RemUIOp::create(b, loc, rest, idx(g.ys));
    img[i] = arith::DivUIOp::create(b, loc, rest, idx(g.ys));
    base[i] = add(add(add(mul(img[i], g.imgStride), mul(y, g.rowStride)),
                      mul(x, g.colStride)),
                  g.srcOffset);
    if (groupSrc)
      base[i] = add(base[i], groupSrc);
    oy[i] = add(mul(y, g.outYStep), g.outY0);
    ox[i] = add(mul(x, g.outXStep), g.outX0);
  }
  // Accumulators start at the bias of their block (or 0.0).
  SmallVector<Value> biasV(blocks), init;
  for (int64_t j = 0; j < blocks; ++j)
    biasV[j] =
        bias ? Value(vector::LoadOp::create(b, loc, vecType(), bias,
                                            ValueRange{mul(wBlock(j), 16)}))
             : splat(0.0f);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < blocks; ++j)
      init.push_back(biasV[j]);
  SmallVector<Value> wBase(blocks);
  for (int64_t j = 0; j < blocks; ++j)
    wBase[j] = add(mul(wBlock(j), g.wBlockStride), g.wOffset);
  auto loopKy = scf::ForOp::create(b, loc, idx(0), idx(g.taps), idx(1), init);
  {
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loopKy.getBody());
    Value ky = loopKy.getInductionVar();
    Value rowOff = mul(ky, g.tapStride);
    Value wRow = mul(ky, g.runs * g.runLen * 16);
    auto loopKx = scf::ForOp::create(b, loc, idx(0), idx(g.runs), idx(1),
                                     loopKy.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard g1(b);
      b.setInsertionPointToStart(loopKx.getBody());
      Value kx = loopKx.getInductionVar();
      Value aRun = add(rowOff, mul(kx, g.runStride));
      Value wRun = add(wRow, mul(kx, g.runLen * 16));
      auto loopJ = scf::ForOp::create(b, loc, idx(0), idx(g.runLen), idx(1),
                                      loopKx.getRegionIterArgs());
      {
        OpBuilder::InsertionGuard g2(b);
        b.setInsertionPointToStart(loopJ.getBody());
        Value j = loopJ.getInductionVar();
        SmallVector<Value> accs(loopJ.getRegionIterArgs());
        Value aOff = add(aRun, j);
        Value wOff = add(wRun, mul(j, 16));
        SmallVector<Value> wv(blocks);
        for (int64_t k = 0; k < blocks; ++k)
          wv[k] = vector::LoadOp::create(b, loc, vecType(), weights,
                                         ValueRange{add(wBase[k], wOff)});
        for (int64_t i = 0; i < rows; ++i) {
          Value a = memref::LoadOp::create(b, loc, src,
                                           ValueRange{add(base[i], aOff)});
          Value av = vector::BroadcastOp::create(b, loc, vecType(), a);
          for (int64_t k = 0; k < blocks; ++k) {
            Value &acc = accs[i * blocks + k];
            acc = madd(av, wv[k], acc);
          }
        }
        scf::YieldOp::create(b, loc, accs);
      }
      scf::YieldOp::create(b, loc, loopJ.getResults());
    }
    scf::YieldOp::create(b, loc, loopKx.getResults());
  }
  for (int64_t k = 0; k < blocks; ++k) {
    Value c0 = mul(add(block, k), 16);
    if (groupOut)
      c0 = add(c0, groupOut);
    int64_t tail = partialLast && k == blocks - 1 ? outChannels % 16 : 0;
    for (int64_t i = 0; i < rows; ++i)
      epilogueAndStore(*epilogue, epilogueInputs, out,
                       loopKy.getResult(i * blocks + k), img[i], oy[i], ox[i],
                       c0, tail);
  }
}

void GemmTileEmitter::emitAll(const TileGeometry &g) {
  int64_t nb = llvm::divideCeil(outChannels, 16);
  int64_t pixels = batch * g.ys * g.xs;
  if (!pixels)
    return;
  // A GEMV (one pixel) takes 8 blocks per tile: 8 independent accumulators
  // cover the fma latency (one block would wait on it).
  int64_t blocksPerTile =
      blocksOpt ? blocksOpt : std::min<int64_t>(pixels == 1 ? 8 : 4, nb);
  int64_t rowsPerTile = rowsOpt ? rowsOpt : defaultRows(pixels, blocksPerTile);
  int64_t loopBlocks = outChannels % 16 ? nb - 1 : nb;
  int64_t full = loopBlocks / blocksPerTile * blocksPerTile;
  int64_t rest = nb - full;
  // The loop nest over tiles, the groups (if more than one) outermost.
  auto nest = [&](SmallVector<int64_t> ubs, SmallVector<int64_t> steps,
                  function_ref<void(ValueRange)> body) {
    if (groups == 1)
      return loopNest(ubs, steps, body);
    ubs.insert(ubs.begin(), groups);
    steps.insert(steps.begin(), 1);
    loopNest(ubs, steps, [&](ValueRange iv) {
      group = iv[0];
      body(iv.drop_front());
      group = Value();
    });
  };
  auto pixelTiles = [&](Value block, int64_t blocks, bool partialLast,
                        int64_t tileGroups, int64_t rows) {
    int64_t fullPixels = pixels / rows * rows;
    // Split by pixels when a group does not fill whole 64-byte lines of a
    // pixel's output (threads would share the lines).
    bool pixelsOuter = outChannels % 64 || blocks * 16 % 64;
    if (fullPixels && tileGroups) {
      if (pixelsOuter)
        nest({fullPixels, tileGroups * blocks}, {rows, blocks},
             [&](ValueRange iv) {
               emitTile(g, iv[0], rows, block ? block : iv[1], blocks,
                        partialLast);
             });
      else
        nest({tileGroups * blocks, fullPixels}, {blocks, rows},
             [&](ValueRange iv) {
               emitTile(g, iv[1], rows, block ? block : iv[0], blocks,
                        partialLast);
             });
    }
    if (pixels > fullPixels && tileGroups)
      nest({tileGroups * blocks}, {blocks}, [&](ValueRange iv) {
        emitTile(g, idx(fullPixels), pixels - fullPixels, block ? block : iv[0],
                 blocks, partialLast);
      });
  };
  if (full)
    pixelTiles(Value(), blocksPerTile, false, full / blocksPerTile,
               rowsPerTile);
  if (rest)
    pixelTiles(idx(full), rest, outChannels % 16 != 0, 1,
               rowsOpt ? rowsOpt : defaultRows(pixels, rest));
}

void DepthwiseTileEmitter::emitTile(const DepthwiseGeometry &g, Value img,
                                    Value y, Value x0, int64_t cols) {
  // Offset of (img, y * rowStep, x0 * colStep, 0) in the source.
  Value rowBase = mul(add(mul(img, srcH), mul(y, g.rowStep)), srcW * cp);
  Value tileBase = add(rowBase, mul(mul(x0, g.colStep), cp));
  Value oy = add(mul(y, g.outYStep), g.outY0);
  int64_t maxCol = 0;
  for (int64_t c : g.tapCols)
    maxCol = std::max(maxCol, c);
  int64_t span = (cols - 1) * g.colStep + maxCol + 1;
  auto blockLoop = [&](Value c0, int64_t tail) {
    // The sum starts at 0 and the bias is added after it (the op's
    // contract, TOSA's order).
    SmallVector<Value> accs(cols, splat(0.0f));
    for (auto [t, tapRow] : llvm::enumerate(g.tapRows)) {
      Value rowOff = add(add(tileBase, tapRow * srcW * cp), c0);
      // Each input column once, shared by the pixels whose windows hold it.
      SmallVector<Value> colV(span);
      auto column = [&](int64_t xcol) {
        if (!colV[xcol])
          colV[xcol] = vector::LoadOp::create(
              b, loc, vecType(), src, ValueRange{add(rowOff, xcol * cp)});
        return colV[xcol];
      };
      for (auto [u, tapCol] : llvm::enumerate(g.tapCols)) {
        Value wv = vector::LoadOp::create(
            b, loc, vecType(), weights,
            ValueRange{add(c0, (g.wRows[t] * kw + g.wCols[u]) * cp)});
        for (int64_t i = 0; i < cols; ++i)
          accs[i] = madd(column(i * g.colStep + tapCol), wv, accs[i]);
      }
    }
    Value bv = bias ? Value(vector::LoadOp::create(b, loc, vecType(), bias,
                                                   ValueRange{c0}))
                    : Value();
    for (int64_t i = 0; i < cols; ++i) {
      Value acc =
          bv ? Value(arith::AddFOp::create(b, loc, bv, accs[i])) : accs[i];
      Value ox = add(mul(add(x0, i), g.outXStep), g.outX0);
      epilogueAndStore(*epilogue, epilogueInputs, out, acc, img, oy, ox, c0,
                       tail);
    }
  };
  int64_t whole = channels / 16;
  if (whole) {
    auto loop = scf::ForOp::create(b, loc, idx(0), idx(whole * 16), idx(16));
    OpBuilder::InsertionGuard g0(b);
    b.setInsertionPointToStart(loop.getBody());
    blockLoop(loop.getInductionVar(), 0);
  }
  if (channels % 16)
    blockLoop(idx(whole * 16), channels % 16);
}

void DepthwiseTileEmitter::emitAll(const DepthwiseGeometry &g) {
  if (!g.ys || !g.xs)
    return;
  int64_t tiles = g.xs / tileCols;
  loopNest({batch * g.ys}, {1}, [&](ValueRange iv) {
    Value y = arith::RemUIOp::create(b, loc, iv[0], idx(g.ys));
    Value img = arith::DivUIOp::create(b, loc, iv[0], idx(g.ys));
    if (tiles) {
      auto loop = scf::ForOp::create(b, loc, idx(0), idx(tiles * tileCols),
                                     idx(tileCols));
      OpBuilder::InsertionGuard g0(b);
      b.setInsertionPointToStart(loop.getBody());
      emitTile(g, img, y, loop.getInductionVar(), tileCols);
    }
    if (g.xs % tileCols)
      emitTile(g, img, y, idx(tiles * tileCols), g.xs % tileCols);
  });
}
