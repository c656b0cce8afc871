// LLVM dialect debug-info and loop attributes (the llvm dialect's own bytecode
// encoding, with lists): bytecode.test.
#file = #llvm.di_file<"foo.mlir" in "/test/">
#cu = #llvm.di_compile_unit<id = distinct[0]<>, sourceLanguage = DW_LANG_C, file = #file, producer = "MLIR", isOptimized = true, emissionKind = Full>
#int = #llvm.di_basic_type<tag = DW_TAG_base_type, name = "int", sizeInBits = 32, encoding = DW_ATE_signed>
#member = #llvm.di_derived_type<tag = DW_TAG_member, name = "x", baseType = #int, sizeInBits = 32>
#comp = #llvm.di_composite_type<tag = DW_TAG_structure_type, name = "S", file = #file, line = 3, sizeInBits = 64, elements = #member, #member>
#sub_ty = #llvm.di_subroutine_type<callingConvention = DW_CC_normal, types = #int, #int, #comp>
#sp = #llvm.di_subprogram<id = distinct[1]<>, compileUnit = #cu, scope = #file, name = "f", file = #file, line = 1, scopeLine = 1, subprogramFlags = Definition, type = #sub_ty>
#var = #llvm.di_local_variable<scope = #sp, name = "v", file = #file, line = 2, type = #int>
#expr = #llvm.di_expression<[DW_OP_LLVM_fragment(0, 16), DW_OP_deref]>
#ms = #llvm.di_module<file = #file, scope = #file, name = "m", configMacros = "", includePath = "", apinotes = "", line = 0, isDecl = false>
#ie = #llvm.di_imported_entity<tag = DW_TAG_imported_module, scope = #sp, entity = #ms, file = #file, line = 1, name = "n", elements = #member>
#la = #llvm.loop_annotation<disableNonforced = true, mustProgress = true>
module {
  llvm.func @f(%a: i32) attributes {a = #expr, b = #ie, c = #la, d = #var} {
    llvm.return
  } loc(fused<#sp>["foo.mlir":1:1])
}
