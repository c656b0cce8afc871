//===- WindowEmitter.cpp - what every packed-kernel emitter shares --------===//
//
// Loop nests, 1-D views and the window geometry of the int8, AMX and f32
// kernel emitters (WindowEmitter.h).
//
//===----------------------------------------------------------------------===//

#include "WindowEmitter.h"

#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"

using namespace mlir;
using namespace mlir::qat;

void WindowEmitter::loopNest(ArrayRef<int64_t> ubs, ArrayRef<int64_t> steps,
                             function_ref<void(ValueRange)> body, bool par) {
  OpBuilder::InsertionGuard g(b);
  SmallVector<Value> lbs, ubv, stv;
  for (auto [ub, step] : llvm::zip(ubs, steps)) {
    lbs.push_back(idx(0));
    ubv.push_back(idx(ub));
    stv.push_back(idx(step));
  }
  if (par) {
    auto loop = scf::ParallelOp::create(b, loc, lbs, ubv, stv);
    b.setInsertionPointToStart(loop.getBody());
    body(loop.getInductionVars());
    return;
  }
  SmallVector<Value> ivs;
  for (auto [lb, ub, step] : llvm::zip(lbs, ubv, stv)) {
    auto loop = scf::ForOp::create(b, loc, lb, ub, step);
    b.setInsertionPointToStart(loop.getBody());
    ivs.push_back(loop.getInductionVar());
  }
  body(ivs);
}

Value WindowEmitter::flatten(Value memref) {
  auto type = cast<MemRefType>(memref.getType());
  if (type.getRank() == 1)
    return memref;
  ReassociationIndices all;
  for (int64_t i = 0; i < type.getRank(); ++i)
    all.push_back(i);
  return memref::CollapseShapeOp::create(b, loc, memref,
                                         ArrayRef<ReassociationIndices>{all});
}

void WindowEmitter::readWindow(Value input, Value output, ArrayRef<int64_t> st,
                               ArrayRef<int64_t> dl, ArrayRef<int64_t> pd,
                               ArrayRef<int64_t> outPad) {
  auto in = cast<MemRefType>(input.getType());
  auto out = cast<MemRefType>(output.getType());
  n = in.getDimSize(0);
  h = in.getDimSize(1);
  wIn = in.getDimSize(2);
  c = in.getDimSize(3);
  ho = out.getDimSize(1) - (outPad.empty() ? 0 : outPad[0] + outPad[1]);
  wo = out.getDimSize(2) - (outPad.empty() ? 0 : outPad[2] + outPad[3]);
  co = out.getDimSize(3);
  stride.assign(st.begin(), st.end());
  dilation.assign(dl.begin(), dl.end());
  pad.assign(pd.begin(), pd.end());
  hp = h + pad[0] + pad[1];
  wp = wIn + pad[2] + pad[3];
}
