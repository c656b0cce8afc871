//===- QATSanitizerCompat.h - force-included in sanitizer builds -*- C++
//-*-===//
//
// Included before every source file when -DQAT_SANITIZE contains `address`
// (CMakeLists.txt). Debian's libLLVM and libMLIR are not instrumented, so
// their copies of LLVM's allocators (BumpPtrAllocator, the StorageUniquer of
// MLIRContext) never poison nor unpoison memory. Our instrumented code inlines
// the same allocators from the headers with LLVM_ADDRESS_SANITIZER_BUILD set:
// a slab that our code starts is poisoned whole, then libMLIR hands out pieces
// of it without unpoisoning them, and ASan reports a use-after-poison on the
// next memcpy of, say, an attribute dictionary (issue 14; found by
// qat-fuzz-npu-binary; test: unittests/NPU/ImportTest.cpp). The annotations
// are turned off in our code too, so both sides agree; the memory itself is
// still checked by ASan as heap (bounds, use after free).
//
//===----------------------------------------------------------------------===//
#ifndef QAT_CMAKE_QATSANITIZERCOMPAT_H
#define QAT_CMAKE_QATSANITIZERCOMPAT_H

#if defined(__has_include)
#if __has_include(<sanitizer/asan_interface.h>)
// Declares the functions; llvm/Support/Compiler.h includes it again (guarded)
// and, in an ASan build, defines no macros of these names itself.
#include <sanitizer/asan_interface.h>
#define __asan_poison_memory_region(p, size) ((void)(p), (void)(size))
#define __asan_unpoison_memory_region(p, size) ((void)(p), (void)(size))
#endif
#endif

#endif // QAT_CMAKE_QATSANITIZERCOMPAT_H
