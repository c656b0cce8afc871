//===- Passes.td - qat conversion passes -------------------*- tablegen -*-===//

#ifndef QAT_CONVERSION_PASSES_TD
#define QAT_CONVERSION_PASSES_TD

include "mlir/Pass/PassBase.td"

def ConvertQATToLinalgPass : Pass<"convert-qat-to-linalg"> {
  let summary = "Lower every qat op, forward and backward, to linalg on tensors";
  let description = [{
    Rewrites each qat op into `linalg.generic` ops on tensors whose bodies
    compute the op's documented formula with `arith` and `math` ops, one f32
    operation per operation of the formula (no fast-math flags, so nothing
    may be contracted or reassociated). Per-tensor parameters are broadcast
    with a rank-0 indexing map, per-axis ones with `(d0, ..., dn) -> (d_axis)`.
    Reductions (observers, the LSQ scale and zero-point gradients) are
    `linalg.generic` reductions; the LSQ sums accumulate in f64.

    Before:

    ```mlir
    %y = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64}
        : tensor<4xf32>, tensor<f32>, tensor<i32>
    ```

    After (abridged):

    ```mlir
    %e = tensor.empty() : tensor<4xf32>
    %y = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>,
            affine_map<(d0) -> ()>, affine_map<(d0) -> ()>, affine_map<(d0) -> (d0)>],
            iterator_types = ["parallel"]}
         ins(%x, %s, %z : tensor<4xf32>, tensor<f32>, tensor<i32>) outs(%e : tensor<4xf32>) {
    ^bb0(%xi: f32, %si: f32, %zi: i32, %o: f32):
      %inv = arith.divf %one, %si : f32
      %r = math.roundeven (arith.mulf %xi, %inv) ...
    }
    ```

    Every qat op is illegal after this pass; it fails if one remains.
  }];
  let dependentDialects = [
    "::mlir::arith::ArithDialect",
    "::mlir::linalg::LinalgDialect",
    "::mlir::math::MathDialect",
    "::mlir::tensor::TensorDialect",
  ];
}

#endif // QAT_CONVERSION_PASSES_TD
