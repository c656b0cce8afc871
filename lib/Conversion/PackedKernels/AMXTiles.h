//===- AMXTiles.h - the tile layout of the AMX kernels ----------*- C++ -*-===//
//
// What qat-pack-amx-weights (PackAMXWeights.cpp) writes and the AMX emitter
// (AMXEmitter.cpp) reads: the K dimension of a convolution, per kernel row,
// as runs of groups of 4 input channels padded to whole B tiles.
//
// An AMX tile here is always the full palette-1 shape, 16 rows of 64 bytes:
//   A (tdpbusd's u8 operand): 16 pixels x 64 input bytes (16 groups of 4);
//   B (its s8 operand): 16 groups of 4 input channels x 16 output channels,
//     each row 64 bytes = (output channel, 4 inputs), as vpdpbusd's layout;
//   C: 16 pixels x 16 output channels of int32.
// One configuration serves every tile of every kernel.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_LIB_CONVERSION_PACKEDKERNELS_AMXTILES_H
#define QAT_LIB_CONVERSION_PACKEDKERNELS_AMXTILES_H

#include "llvm/Support/MathExtras.h"

#include <cstdint>

namespace mlir::qat::packed {

/// Rows of an AMX tile, bytes of a row, groups of 4 bytes per row.
constexpr int64_t kTileRows = 16, kTileBytes = 64, kTileGroups = 16;

/// The groups of 4 input channels of one kernel row in the tile layout.
/// With dilation[1] == 1 the KW pixels of a window row are adjacent in the
/// (padded) input, so the row is one run of KW * C4 groups, read as one
/// stretch of bytes; with dilation, each tap is a run of C4 groups. Each run
/// is padded with zero weights to whole tiles of 16 groups.
struct TileLayout {
  TileLayout(int64_t kw, int64_t c4, int64_t dilationW)
      : c4(c4), rows(dilationW == 1), runs(rows ? 1 : kw),
        run(rows ? kw * c4 : c4),
        paddedRun(kTileGroups * llvm::divideCeil(run, kTileGroups)),
        tilesPerRun(paddedRun / kTileGroups), groups(runs * paddedRun) {}

  /// Index of group g (input channels 4g..4g+3) of kernel column x in its
  /// kernel row.
  int64_t group(int64_t x, int64_t g) const {
    return rows ? x * c4 + g : x * paddedRun + g;
  }

  int64_t c4;
  bool rows;
  int64_t runs, run, paddedRun, tilesPerRun, groups;
};

} // namespace mlir::qat::packed

#endif // QAT_LIB_CONVERSION_PACKEDKERNELS_AMXTILES_H
