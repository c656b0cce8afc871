//===- ConstantBytes.h - constant arrays as bytes before codegen -*- C++
//-*-===//
//
// LLVM's AsmPrinter writes a constant array of i8 with one call
// (ConstantDataSequential::isString), but a float or wider-integer array
// element by element: an APFloat, a bit cast and a call to the streamer per
// f32. A float model's weights (ResNet-50: 25.6 million f32) then cost about
// a second of code generation. The JIT (Executable) and the ahead-of-time
// compiler (AOT) call this after LLVM's optimizer, before code generation.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_RUNTIME_CONSTANTBYTES_H
#define QAT_RUNTIME_CONSTANTBYTES_H

namespace llvm {
class Module;
} // namespace llvm

namespace mlir::qat::runtime {

/// Replaces each constant global of `module` initialized by a flat array of
/// non-i8 elements of at least 4 KiB by a global of the same name, linkage,
/// section and alignment (the alignment code generation would have given
/// the original: its explicit one or the data layout's preferred one),
/// holding the same bytes as an array of i8. Loads read the same memory:
/// what the program computes does not change. Nothing happens when the
/// target's byte order is not the host's (the raw data is in host order).
void storeConstantArraysAsBytes(llvm::Module &module);

} // namespace mlir::qat::runtime

#endif // QAT_RUNTIME_CONSTANTBYTES_H
