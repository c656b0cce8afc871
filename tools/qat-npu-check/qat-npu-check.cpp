//===- qat-npu-check.cpp - the NPU target's consistency check -------------===//
//
//   qat-npu-check MODEL.mlir --input x.npy ... [--entry NAME] [--split]
//       [--config machine.cfg] [--no-double-buffer] [--no-race-check]
//       [--output y.npy ...] [--emit-binary prog.qnpu] [--report-json F]
//
// Compiles the bpu integer model MODEL.mlir for the NPU (qat-lower-to-npu),
// runs the program in the simulator on the inputs, runs the same integer
// model on the CPU (the JIT of qat-run), and reports, per output, the
// elements whose codes differ and the largest difference, then the
// simulator's per-layer cycles, DMA bytes and GEMM utilization. Exit code 0
// only when every output matches bit for bit. --output writes what the NPU
// computed (dequantized like the model's results).
//
//===----------------------------------------------------------------------===//

#include "qat/Runtime/NPUCheck.h"
#include "qat/Support/CommandLine.h"
#include "qat/Support/Error.h"
#include "qat/Tools/ToolSupport.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::Required,
                                      cl::desc("<bpu integer model .mlir>"),
                                      cl::cat(getToolCategory()));
static cl::opt<std::string> entryName("entry",
                                      cl::desc("function to compile (default: "
                                               "the module's only function)"),
                                      cl::init(""), cl::cat(getToolCategory()));
static cl::list<std::string> inputs("input",
                                    cl::desc("argument .npy file, in order"),
                                    cl::cat(getToolCategory()));
static cl::list<std::string>
    outputs("output", cl::desc("write the NPU's result #i (.npy), in order"),
            cl::cat(getToolCategory()));
static cl::opt<bool>
    splitInputs("split",
                cl::desc("inputs hold several batches along dimension 0"),
                cl::cat(getToolCategory()));
static cl::opt<std::string>
    configFile("config",
               cl::desc("NPU configuration file (docs/NPU.md section 1)"),
               cl::init(""), cl::cat(getToolCategory()));
static cl::opt<bool> noDoubleBuffer(
    "no-double-buffer",
    cl::desc("compile without double buffering (to compare the timing)"),
    cl::cat(getToolCategory()));
static cl::opt<bool> noRaceCheck("no-race-check",
                                 cl::desc("skip the simulator's race check"),
                                 cl::cat(getToolCategory()));
static cl::opt<std::string> emitBinary("emit-binary",
                                       cl::desc("write the NPU binary here"),
                                       cl::init(""),
                                       cl::cat(getToolCategory()));
static cl::opt<std::string>
    reportJson("report-json", cl::desc("write the simulator's report as JSON"),
               cl::init(""), cl::cat(getToolCategory()));
static cl::opt<bool>
    printReport("report",
                cl::desc("print the per-layer table (default; --report=false "
                         "or --quiet for the summary only)"),
                cl::init(true), cl::cat(getToolCategory()));
static cl::opt<bool> quiet("quiet",
                           cl::desc("no per-layer table (the summary only)"),
                           cl::cat(getToolCategory()));

static int fail(const llvm::Twine &msg) {
  return toolError("qat-npu-check", msg, 2);
}

static llvm::Error writeFile(StringRef path, StringRef text) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec, llvm::sys::fs::OF_None);
  if (ec)
    return makeError("cannot write '" + path + "': " + ec.message());
  os << text;
  return llvm::Error::success();
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  parseToolCommandLine(
      argc, argv,
      "qat-npu-check: compile a bpu integer model for the NPU, simulate it "
      "and compare with the CPU integer model\n");
  ToolInput input;
  auto module = input.parse(inputFile);
  if (!module)
    return fail(llvm::toString(module.takeError()));

  NPUCheckOptions options;
  options.entry = entryName;
  options.split = splitInputs;
  options.doubleBuffer = !noDoubleBuffer;
  options.checkRaces = !noRaceCheck;
  if (!configFile.empty()) {
    std::string why = npu::loadConfigFile(configFile, options.config);
    if (!why.empty())
      return fail(why);
  }
  auto args = readNpyFiles(inputs);
  if (!args)
    return fail(llvm::toString(args.takeError()));

  auto result = checkOnNPU(**module, *args, options);
  if (!result)
    return fail(llvm::toString(result.takeError()));
  const npu::Program &p = result->program;
  const npu::Config &c = p.config;
  auto &os = llvm::outs();
  os << "compiled for the NPU (blocks " << c.blockIn << "x" << c.blockOut
     << ", INP " << c.inpDepth << ", WGT " << c.wgtDepth << ", ACC "
     << c.accDepth << " entries"
     << (options.doubleBuffer ? "" : ", single-buffered")
     << "): " << p.layers.size() << " layers, " << p.instructions.size()
     << " instructions, " << p.microOps.size() << " micro-ops, "
     << p.data.size() << " bytes of constant data, " << p.dramSize
     << " bytes of DRAM\n";
  os << "ran " << result->batches << " batch(es) on the CPU (JIT, "
     << llvm::format("%.2f", result->cpuSeconds) << " s) and in the simulator ("
     << llvm::format("%.2f", result->simSeconds) << " s)\n";
  bool ok = true;
  for (auto [i, o] : llvm::enumerate(result->outputs)) {
    os << "output #" << i << " '" << o.name << "' (" << o.type
       << "): " << o.mismatches << " of " << o.elements
       << " elements differ, largest difference " << o.maxDifference
       << " LSB\n";
    ok &= o.mismatches == 0;
  }
  if (printReport && !quiet)
    os << "\nper-layer report (batch 0; cycles, module busy cycles, DRAM "
          "bytes, GEMM busy % of the span, MAC utilization %):\n"
       << result->report.format();
  os << (ok ? "OK: the NPU computes the integer model bit for bit\n"
            : "MISMATCH: the NPU and the CPU integer model differ\n");

  if (!outputs.empty() && outputs.size() != result->npuResults.size())
    return fail(llvm::Twine(outputs.size()) + " --output file(s) for " +
                llvm::Twine(result->npuResults.size()) + " output(s)");
  for (auto [i, path] : llvm::enumerate(outputs))
    if (auto err = writeNpy(path, result->npuResults[i]))
      return fail(llvm::toString(std::move(err)));
  if (!emitBinary.empty()) {
    std::string why = npu::writeProgramFile(p, emitBinary);
    if (!why.empty())
      return fail(why);
  }
  if (!reportJson.empty())
    if (auto err = writeFile(reportJson, result->report.toJson()))
      return fail(llvm::toString(std::move(err)));
  return ok ? 0 : 1;
}
