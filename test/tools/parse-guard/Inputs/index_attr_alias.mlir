// An attribute alias, with a comment between the tokens.
#x = array< // element type on the next line
  index>
func.func @f() attributes {a = #x} {
  return
}
