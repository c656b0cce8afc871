// Not dense arrays of index: a comment array<index: 1>, a string, an alias
// of i64, a tensor of index and an index constant.
!t = i64
func.func @f(%arg0: index) -> tensor<2xindex> attributes {a = array<!t: 1, 2>, b = array<i64: 3>, c = "array<index: 1>", d = array<i1>} {
  %c = arith.constant dense<[1, 2]> : tensor<2xindex>
  return %c : tensor<2xindex>
}
