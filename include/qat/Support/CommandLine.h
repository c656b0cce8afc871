//===- CommandLine.h - the command lines of the qat tools -------*- C++ -*-===//
//
// Every qat tool declares its options in getToolCategory(); --help then
// lists those first and alone, and the options of LLVM and MLIR that the
// libraries register (hundreds of code generation flags) only with
// --help-hidden or --help-list-hidden. Part of QATSupport: no MLIR
// dependency.
//
//===----------------------------------------------------------------------===//
#ifndef QAT_SUPPORT_COMMANDLINE_H
#define QAT_SUPPORT_COMMANDLINE_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/CommandLine.h"

#include <functional>

namespace mlir::qat {

/// The category of a tool's own options (`cl::cat(getToolCategory())`).
llvm::cl::OptionCategory &getToolCategory();

/// Hides from --help every registered option that is not in
/// getToolCategory() and is not --help/--version itself; --help-hidden and
/// --help-list-hidden still list them. Called before parsing; options
/// registered later (MLIR's pass and driver options in qat-opt) stay shown.
void hideForeignOptions();

/// hideForeignOptions, then llvm::cl::ParseCommandLineOptions.
void parseToolCommandLine(int argc, char **argv, llvm::StringRef overview);

/// Prints "<tool>: error: <msg>" to stderr and returns `exitCode`.
int toolError(llvm::StringRef tool, const llvm::Twine &msg, int exitCode = 1);

/// The tools' convention for what they print besides results and errors:
/// `--quiet` drops progress and per-layer tables, `--progress` asks for
/// progress. Compilation progress is shown with --progress, or without
/// --quiet for an input file over 4 MB (a large model compiles for tens of
/// seconds); the same threshold as qat_mlir.compile.
bool showCompileProgress(bool quiet, bool progress, llvm::StringRef inputPath);

/// Prints each step as it starts on stderr: "<tool>: [  2.1 s] <what>".
std::function<void(llvm::StringRef, double)>
printProgress(llvm::StringRef tool);

} // namespace mlir::qat

#endif // QAT_SUPPORT_COMMANDLINE_H
