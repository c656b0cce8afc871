//===- PackAMXWeights.cpp - qat-pack-amx-weights --------------------------===//
//
// The constant weights of qat.packed_conv2d (blocks of 16 output x 4 input
// channels) rewritten into the tile layout of the AMX kernels: the groups of
// 4 input channels of each kernel row (each tap with dilation) padded with
// zeros to runs of 16, one 16 x 64-byte B tile per run and block. Layout:
// AMXTiles.h; semantics: QATOps.td.
//
//===----------------------------------------------------------------------===//

#include "AMXTiles.h"

#include "qat/Conversion/Passes.h"
#include "qat/Dialect/QAT/IR/QATOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/IR/Matchers.h"

namespace mlir::qat {
#define GEN_PASS_DEF_PACKAMXWEIGHTSPASS
#include "qat/Conversion/Passes.h.inc"
} // namespace mlir::qat

using namespace mlir;
using namespace mlir::qat;

namespace {

struct PackAMXWeightsPass
    : qat::impl::PackAMXWeightsPassBase<PackAMXWeightsPass> {
  using Base::Base;
  void runOnOperation() override {
    SmallVector<PackedConv2DOp> ops;
    getOperation()->walk([&](PackedConv2DOp op) {
      if (op.getNumResults() == 1 && !op.hasTileWeights())
        ops.push_back(op);
    });
    for (PackedConv2DOp op : ops) {
      auto out = cast<RankedTensorType>(op.getInit().getType());
      int64_t pixels =
          out.getDimSize(0) * out.getDimSize(1) * out.getDimSize(2);
      if (auto pad = op.getOutputPad())
        pixels = out.getDimSize(0) *
                 (out.getDimSize(1) - (*pad)[0] - (*pad)[1]) *
                 (out.getDimSize(2) - (*pad)[2] - (*pad)[3]);
      if (pixels < minPixels)
        continue;
      DenseIntElementsAttr weights;
      if (!matchPattern(op.getWeights(), m_Constant(&weights)))
        continue;
      auto wType = cast<RankedTensorType>(weights.getType());
      int64_t nb = wType.getDimSize(0), kh = wType.getDimSize(1),
              kw = wType.getDimSize(2), c4 = wType.getDimSize(3);
      packed::TileLayout layout(kw, c4, op.getDilation()[1]);
      SmallVector<int8_t> vnni(weights.getValues<int8_t>());
      SmallVector<int8_t> tiled(nb * kh * layout.groups * 64, 0);
      // Each 64-byte group of 16 output x 4 input channels moves whole.
      for (int64_t blk = 0; blk < nb; ++blk)
        for (int64_t y = 0; y < kh; ++y)
          for (int64_t x = 0; x < kw; ++x)
            for (int64_t g = 0; g < c4; ++g) {
              int64_t from = (((blk * kh + y) * kw + x) * c4 + g) * 64;
              int64_t to =
                  ((blk * kh + y) * layout.groups + layout.group(x, g)) * 64;
              std::copy_n(vnni.begin() + from, 64, tiled.begin() + to);
            }
      OpBuilder b(op);
      auto type = RankedTensorType::get({nb, kh, layout.groups, 16, 4},
                                        wType.getElementType());
      Value w = arith::ConstantOp::create(
          b, op.getLoc(), DenseElementsAttr::get(type, ArrayRef(tiled)));
      op.getWeightsMutable().assign(w);
      op.setKernelWidth(kw);
      ++numTiled;
    }
  }
};

} // namespace
