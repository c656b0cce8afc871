// The element type reaches index through two type aliases.
!a = !b
!b = index
func.func @f() attributes {a = array<!a: 1, 2>} {
  return
}
