// Regions of every kind for the bytecode round trip: isolated (func.func,
// in a section of their own), not isolated (scf.for, scf.if, linalg.generic),
// several blocks with arguments and successors (cf), results used across.
func.func @f(%x: tensor<4xf32>, %n: index, %c: i1) -> tensor<4xf32> {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %r = scf.for %i = %c0 to %n step %c1 iter_args(%acc = %x) -> tensor<4xf32> {
    %y = scf.if %c -> tensor<4xf32> {
      %e = tensor.empty() : tensor<4xf32>
      %g = linalg.generic {indexing_maps = [affine_map<(d0) -> (d0)>, affine_map<(d0) -> (d0)>],
                           iterator_types = ["parallel"]}
          ins(%acc : tensor<4xf32>) outs(%e : tensor<4xf32>) {
      ^bb0(%a: f32, %b: f32):
        %s = arith.addf %a, %a : f32
        linalg.yield %s : f32
      } -> tensor<4xf32>
      scf.yield %g : tensor<4xf32>
    } else {
      scf.yield %acc : tensor<4xf32>
    }
    scf.yield %y : tensor<4xf32>
  }
  cf.cond_br %c, ^bb1(%r : tensor<4xf32>), ^bb2
^bb1(%v: tensor<4xf32>):
  return %v : tensor<4xf32>
^bb2:
  return %x : tensor<4xf32>
}

func.func private @g(i32) -> i32
