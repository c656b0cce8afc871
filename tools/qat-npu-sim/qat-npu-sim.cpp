//===- qat-npu-sim.cpp - disassemble and run NPU programs -----------------===//
//
//   qat-npu-sim PROGRAM.qnpu --disassemble
//   qat-npu-sim PROGRAM.qnpu --input a.npy ... --output y.npy ...
//               [--config FILE] [--report] [--report-json FILE] [--split]
//               [--no-race-check] [--max-cycles N] [--trace]
//
// Runs a program on the simulator of docs/NPU.md: inputs are .npy arrays of
// the program's input tensors (dtype int8 or int32 and shape as the tensor
// descriptors say), outputs are written in output order. With --split the
// inputs hold several batches along dimension 0: one run per batch, outputs
// concatenated (timing is data-independent, so the report is one run's).
// --config gives the machine (key=value or JSON, docs/NPU.md section 1);
// its architectural parameters must equal the program's. Exit code 1 on any
// error, with a message saying why.
//
//===----------------------------------------------------------------------===//

#include "qat/NPU/Binary.h"
#include "qat/NPU/Simulator.h"
#include "qat/Support/Batches.h"
#include "qat/Support/CommandLine.h"
#include "qat/Support/Npy.h"

#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>

using namespace mlir::qat;
namespace cl = llvm::cl;

static cl::opt<std::string> programFile(cl::Positional,
                                        cl::desc("<program.qnpu>"),
                                        cl::Required,
                                        cl::cat(getToolCategory()));
static cl::opt<bool>
    disassembleOnly("disassemble",
                    cl::desc("print the program as text and exit"),
                    cl::cat(getToolCategory()));
static cl::list<std::string> inputs("input",
                                    cl::desc("an .npy input, in order"),
                                    cl::cat(getToolCategory()));
static cl::list<std::string> outputs("output",
                                     cl::desc("an .npy output file, in order"),
                                     cl::cat(getToolCategory()));
static cl::opt<std::string>
    configFile("config",
               cl::desc("machine configuration file (default: the "
                        "program's, with default timing)"),
               cl::cat(getToolCategory()));
static cl::opt<bool> printReport("report",
                                 cl::desc("print cycles, DMA bytes and GEMM "
                                          "utilization per layer"),
                                 cl::cat(getToolCategory()));
static cl::opt<bool> quiet("quiet",
                           cl::desc("no summary line when nothing else is "
                                    "printed or written"),
                           cl::cat(getToolCategory()));
static cl::opt<std::string> reportJson("report-json",
                                       cl::desc("write the report as JSON"),
                                       cl::cat(getToolCategory()));
static cl::opt<bool>
    splitInputs("split",
                cl::desc("inputs hold several batches along dimension 0: one "
                         "run per batch, outputs concatenated"),
                cl::cat(getToolCategory()));
static cl::opt<bool>
    noRaceCheck("no-race-check",
                cl::desc("do not check that modules are synchronised (faster)"),
                cl::cat(getToolCategory()));
static cl::opt<bool>
    printTrace("trace",
               cl::desc("print when each instruction ran (index, module, "
                        "start, end, cycles), first batch"),
               cl::cat(getToolCategory()));
static cl::opt<uint64_t> maxCycles("max-cycles",
                                   cl::desc("stop past N cycles (0: none)"),
                                   cl::init(0), cl::cat(getToolCategory()));

static int fail(const llvm::Twine &message) {
  return toolError("qat-npu-sim", message);
}

static std::string shapeString(const std::vector<uint32_t> &shape) {
  std::string s = "(";
  for (size_t k = 0; k < shape.size(); ++k)
    s += (k ? ", " : "") + std::to_string(shape[k]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

int main(int argc, char **argv) {
  llvm::InitLLVM initLLVM(argc, argv);
  parseToolCommandLine(argc, argv, "qat-npu-sim: the NPU simulator\n");

  npu::Program program;
  std::string e = npu::readProgramFile(programFile, program);
  if (!e.empty())
    return fail(e);
  if (disassembleOnly) {
    llvm::outs() << npu::disassemble(program);
    return 0;
  }

  npu::SimOptions options;
  options.config = program.config;
  if (!configFile.empty()) {
    npu::Config machine; // defaults, then the file
    e = npu::loadConfigFile(configFile, machine);
    if (!e.empty())
      return fail(e);
    options.config = machine;
  }
  options.checkRaces = !noRaceCheck;
  options.maxCycles = maxCycles;
  options.recordTrace = printTrace;

  std::vector<size_t> inputIdx, outputIdx;
  for (size_t t = 0; t < program.tensors.size(); ++t)
    (program.tensors[t].isOutput ? outputIdx : inputIdx).push_back(t);
  if (inputs.size() != inputIdx.size())
    return fail("the program has " + std::to_string(inputIdx.size()) +
                " inputs, " + std::to_string(inputs.size()) + " given");
  if (!outputs.empty() && outputs.size() != outputIdx.size())
    return fail("the program has " + std::to_string(outputIdx.size()) +
                " outputs, " + std::to_string(outputs.size()) + " given");

  // Read inputs and find the number of batches.
  std::vector<NpyArray> arrays;
  int64_t batches = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto a = readNpy(inputs[k]);
    if (!a)
      return fail(llvm::toString(a.takeError()));
    const npu::TensorDesc &t = program.tensors[inputIdx[k]];
    ElementKind want =
        t.dtype == npu::DType::I8 ? ElementKind::I8 : ElementKind::I32;
    if (a->kind != want)
      return fail("input '" + inputs[k] + "': dtype " +
                  getElementKindName(a->kind).str() + ", the program's '" +
                  t.name + "' is " + getElementKindName(want).str());
    bool ok = a->shape.size() == t.shape.size();
    int64_t b = 1;
    for (size_t d = 0; ok && d < t.shape.size(); ++d) {
      if (d == 0 && splitInputs && t.shape[0] && a->shape[0] % t.shape[0] == 0)
        b = a->shape[0] / t.shape[0];
      else
        ok = a->shape[d] == int64_t(t.shape[d]);
    }
    if (!ok)
      return fail("input '" + inputs[k] + "': shape " + a->getShapeString() +
                  ", the program's '" + t.name + "' is " +
                  shapeString(t.shape) +
                  (splitInputs ? " (or a multiple along dimension 0)" : ""));
    if (batches >= 0 && b != batches)
      return fail("inputs hold different numbers of batches");
    batches = b;
    arrays.push_back(std::move(*a));
  }
  if (batches < 0)
    batches = 1;

  std::vector<NpyArray> results(outputIdx.size());
  for (size_t k = 0; k < outputIdx.size(); ++k) {
    const npu::TensorDesc &t = program.tensors[outputIdx[k]];
    results[k].kind =
        t.dtype == npu::DType::I8 ? ElementKind::I8 : ElementKind::I32;
    for (uint32_t d : t.shape)
      results[k].shape.push_back(d);
    if (!results[k].shape.empty())
      results[k].shape[0] *= batches;
  }

  npu::Simulator sim(options);
  npu::SimReport report;
  std::string firstTrace;
  for (int64_t b = 0; b < batches; ++b) {
    e = sim.load(program);
    if (!e.empty())
      return fail(e);
    for (size_t k = 0; k < inputIdx.size(); ++k) {
      e = sim.setInput(inputIdx[k],
                       batches == 1 ? arrays[k].bytes
                                    : sliceBatch(arrays[k], b, batches).bytes);
      if (!e.empty())
        return fail(e);
    }
    e = sim.run(report);
    if (!e.empty())
      return fail(e);
    if (b == 0)
      firstTrace = report.formatTrace();
    for (size_t k = 0; k < outputIdx.size(); ++k) {
      std::vector<uint8_t> out = sim.getTensor(outputIdx[k]);
      results[k].bytes.insert(results[k].bytes.end(), out.begin(), out.end());
    }
  }

  for (size_t k = 0; k < outputs.size(); ++k)
    if (llvm::Error err = writeNpy(outputs[k], results[k]))
      return fail(llvm::toString(std::move(err)));
  if (printTrace)
    llvm::outs() << "  insn module       start        end   cycles\n"
                 << firstTrace;
  if (printReport)
    llvm::outs() << report.format();
  if (!reportJson.empty()) {
    std::ofstream out(reportJson);
    out << report.toJson() << "\n";
    if (!out)
      return fail("cannot write '" + reportJson + "'");
  }
  if (outputs.empty() && !printReport && reportJson.empty() && !quiet)
    llvm::outs() << "ran " << batches << " batch(es) in " << report.totalCycles
                 << " cycles each\n";
  return 0;
}
