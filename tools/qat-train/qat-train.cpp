//===- qat-train.cpp - QAT training of a model on .npy data ---------------===//
//
//   qat-train MODEL.mlir --data X.npy --labels Y.npy [--test-data XT.npy
//             --test-labels YT.npy] --target x86 --epochs 1 --lr 0.01 ...
//             [--checkpoint DIR [--resume]] [--history FILE]
//             [--numerics fake-quant|deployed] [--test-output Y.npy]
//             -o TRAINED.mlir
//
// MODEL is a float TOSA model (prepared here for --target) or, with
// --prepared, a prepared and calibrated one. --numerics deployed (a
// prepared, calibrated model) freezes its quantization parameters and
// trains on the target's integer arithmetic (docs/Deployed.md): the eval
// entry then computes what the int8 model of -o computes, bit for bit. The
// training step (forward with fake quantizers and observers, backward,
// optimizer update) is compiled once (qat/Runtime/Training.h) and called once
// per batch of the model's batch size, in an order shuffled by --seed. Every
// --print-every steps a progress line (loss, accuracy, images/s) goes to
// stderr; after each epoch a line of the history (CSV) and a checkpoint
// (DIR/<global>.npy, written to DIR.tmp and renamed, so the last complete
// checkpoint survives a crash). --test-output writes the eval entry's outputs
// on --test-data after the last epoch. -o writes the trained model
// (qat-finish-training: ready for qat-freeze-qparams and
// qat-convert-to-integer).
//
//===----------------------------------------------------------------------===//

#include "qat/InitQAT.h"
#include "qat/Runtime/Training.h"
#include "qat/Support/CommandLine.h"
#include "qat/Support/Error.h"
#include "qat/Tools/ToolSupport.h"

#include "mlir/IR/AsmState.h"
#include "mlir/Support/FileUtilities.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/ToolOutputFile.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <optional>
#include <random>

using namespace mlir;
using namespace mlir::qat;
using namespace mlir::qat::runtime;
namespace cl = llvm::cl;

static cl::opt<std::string> inputFile(cl::Positional, cl::desc("<model.mlir>"),
                                      cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string>
    dataFile("data", cl::desc("training inputs: N x <model input> (.npy, f32)"),
             cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string> labelFile(
    "labels",
    cl::desc("training labels: N class indices (any integer type) or N x "
             "<output> targets with --loss mse (.npy)"),
    cl::Required, cl::cat(getToolCategory()));
static cl::opt<std::string> testDataFile("test-data",
                                         cl::desc("test inputs (.npy)"),
                                         cl::cat(getToolCategory()));
static cl::opt<std::string> testLabelFile("test-labels",
                                          cl::desc("test labels (.npy)"),
                                          cl::cat(getToolCategory()));
static cl::opt<std::string> target("target",
                                   cl::desc("target of qat-prepare"),
                                   cl::init("x86"), cl::cat(getToolCategory()));
static cl::opt<bool> prepared("prepared",
                              cl::desc("the model is already prepared"),
                              cl::cat(getToolCategory()));
static cl::opt<std::string>
    bnMode("bn-mode",
           cl::desc("batch norm: fold (folded before training) or train "
                    "(PyTorch's ConvBn2d: batch statistics, running "
                    "statistics updated)"),
           cl::init("fold"), cl::cat(getToolCategory()));
static cl::opt<std::string> numerics(
    "numerics",
    cl::desc("fake-quant (fake quantizers and observers) or deployed (with "
             "--prepared: quantization parameters frozen, the step trains on "
             "the target's integer arithmetic, docs/Deployed.md)"),
    cl::init("fake-quant"), cl::cat(getToolCategory()));
static cl::opt<std::string>
    testOutputFile("test-output",
                   cl::desc("the eval entry's outputs on --test-data after "
                            "training (.npy, f32)"),
                   cl::cat(getToolCategory()));
static cl::opt<std::string>
    entryName("entry",
              cl::desc("forward function to train (default: the module's "
                       "only function)"),
              cl::init(""), cl::cat(getToolCategory()));
static cl::opt<bool> quiet("quiet",
                           cl::desc("no progress on stderr (the step, epoch "
                                    "and resume lines); errors still print"),
                           cl::cat(getToolCategory()));
static cl::opt<unsigned> epochs("epochs", cl::desc("epochs to train"),
                                cl::init(1), cl::cat(getToolCategory()));
static cl::opt<double> lr("lr", cl::desc("learning rate"), cl::init(0.01),
                          cl::cat(getToolCategory()));
static cl::opt<std::string> optimizer("optimizer", cl::desc("sgd or adam"),
                                      cl::init("sgd"),
                                      cl::cat(getToolCategory()));
static cl::opt<double> momentum("momentum", cl::desc("SGD momentum"),
                                cl::init(0.0), cl::cat(getToolCategory()));
static cl::opt<double> weightDecay("weight-decay", cl::desc("weight decay"),
                                   cl::init(0.0), cl::cat(getToolCategory()));
static cl::opt<std::string> lossName("loss", cl::desc("cross-entropy or mse"),
                                     cl::init("cross-entropy"),
                                     cl::cat(getToolCategory()));
static cl::opt<unsigned> seed("seed", cl::desc("seed of the shuffle"),
                              cl::init(0), cl::cat(getToolCategory()));
static cl::opt<bool> shuffle(
    "shuffle",
    cl::desc("shuffle the training data every epoch (default; "
             "--shuffle=false takes the batches in file order)"),
    cl::init(true), cl::cat(getToolCategory()));
static cl::opt<int64_t> freezeObservers(
    "disable-observers-after",
    cl::desc("freeze every observer from this step on (-1: never)"),
    cl::init(-1), cl::cat(getToolCategory()));
static cl::opt<int64_t> freezeBNStats(
    "freeze-bn-stats-after",
    cl::desc("--bn-mode train: batch norm on the running statistics, which "
             "stop updating, from this step on (PyTorch's freeze_bn_stats; "
             "-1: never)"),
    cl::init(-1), cl::cat(getToolCategory()));
static cl::opt<std::string>
    checkpointDir("checkpoint", cl::desc("checkpoint directory"),
                  cl::cat(getToolCategory()));
static cl::opt<bool> resume("resume",
                            cl::desc("continue from --checkpoint"),
                            cl::cat(getToolCategory()));
static cl::opt<std::string> historyFile("history",
                                        cl::desc("per-epoch history (CSV)"),
                                        cl::cat(getToolCategory()));
static cl::opt<unsigned> printEvery("print-every",
                                    cl::desc("progress every N steps (0: "
                                             "only per epoch)"),
                                    cl::init(200), cl::cat(getToolCategory()));
static cl::opt<unsigned> threads("num-threads",
                                 cl::desc("threads of the int8 kernels (as qat-run)"),
                                 cl::init(1), cl::cat(getToolCategory()));
static cl::opt<std::string> outputFile("o",
                                       cl::desc("the trained model (MLIR)"),
                                       cl::value_desc("file"),
                                       cl::cat(getToolCategory()));

static int fail(const llvm::Twine &msg) { return toolError("qat-train", msg); }

/// Labels as i32 class indices (any integer .npy), checked against the
/// class count; or f32 targets of the output's shape.
static llvm::Expected<std::vector<uint8_t>>
readLabels(const NpyArray &a, const TrainingSession &s, int64_t count,
           llvm::StringRef file) {
  if (a.shape.empty() || a.shape[0] != count)
    return makeError("'" + file + "' holds " +
                     (a.shape.empty() ? std::string("a scalar")
                                      : std::to_string(a.shape[0])) +
                     " labels for " + std::to_string(count) + " inputs");
  std::vector<uint8_t> out;
  if (!s.hasClassLabels()) {
    const TensorSpec &o = s.getOutputSpec();
    llvm::ArrayRef<int64_t> row(o.shape);
    if (a.kind != ElementKind::F32 ||
        llvm::ArrayRef<int64_t>(a.shape).drop_front() != row.drop_front())
      return makeError("'" + file + "' is " +
                       getElementKindName(a.kind).str() + " " +
                       a.getShapeString() + "; mse targets are float32 N x " +
                       o.str());
    return a.bytes;
  }
  if (a.shape.size() != 1)
    return makeError("'" + file + "' has shape " + a.getShapeString() +
                     "; class labels are one integer per input");
  int64_t classes = s.getOutputSpec().shape.back();
  out.resize(count * 4);
  auto *dst = reinterpret_cast<int32_t *>(out.data());
  for (int64_t i = 0; i < count; ++i) {
    int64_t v;
    const uint8_t *p = a.bytes.data();
    switch (a.kind) {
    case ElementKind::I8:
      v = reinterpret_cast<const int8_t *>(p)[i];
      break;
    case ElementKind::U8:
      v = p[i];
      break;
    case ElementKind::I16:
      v = reinterpret_cast<const int16_t *>(p)[i];
      break;
    case ElementKind::I32:
      v = reinterpret_cast<const int32_t *>(p)[i];
      break;
    case ElementKind::I64:
      v = reinterpret_cast<const int64_t *>(p)[i];
      break;
    default:
      return makeError("'" + file + "' holds " +
                       getElementKindName(a.kind).str() +
                       "; class labels must be integers");
    }
    if (v < 0 || v >= classes)
      return makeError("label " + std::to_string(v) + " at index " +
                       std::to_string(i) + " of '" + file +
                       "' is out of range: the model has " +
                       std::to_string(classes) + " classes (0.." +
                       std::to_string(classes - 1) + ")");
    dst[i] = static_cast<int32_t>(v);
  }
  return out;
}

/// Inputs: f32 (f64 is converted), N x <model input without its batch>.
static llvm::Error checkInputs(NpyArray &a, const TrainingSession &s,
                               llvm::StringRef file) {
  llvm::ArrayRef<int64_t> sample =
      llvm::ArrayRef(s.getInputSpec().shape).drop_front();
  if (a.kind == ElementKind::F64) {
    std::vector<uint8_t> bytes(a.getNumElements() * 4);
    auto *src = reinterpret_cast<const double *>(a.bytes.data());
    auto *dst = reinterpret_cast<float *>(bytes.data());
    for (int64_t i = 0, e = a.getNumElements(); i < e; ++i)
      dst[i] = static_cast<float>(src[i]);
    a.bytes = std::move(bytes);
    a.kind = ElementKind::F32;
  }
  if (a.kind != ElementKind::F32 || a.shape.size() != sample.size() + 1 ||
      llvm::ArrayRef<int64_t>(a.shape).drop_front() != sample)
    return makeError("'" + file + "' is " + getElementKindName(a.kind).str() +
                     " " + a.getShapeString() +
                     "; the model takes float32 N x " +
                     s.getInputSpec().str() + " without its batch");
  return llvm::Error::success();
}

/// The checkpoint of every state tensor, written to DIR.tmp and renamed to
/// DIR once complete (the previous one survives any failure before).
static llvm::Error writeCheckpoint(TrainingSession &s, llvm::StringRef dir,
                                   unsigned epoch, int64_t step) {
  auto state = s.getState();
  if (!state)
    return state.takeError();
  std::string tmp = (dir + ".tmp").str();
  llvm::sys::fs::remove_directories(tmp);
  if (auto ec = llvm::sys::fs::create_directories(tmp))
    return makeError("cannot create '" + tmp + "': " + ec.message());
  for (auto [name, array] : llvm::zip(s.getStateNames(), *state)) {
    llvm::SmallString<256> path(tmp);
    llvm::sys::path::append(path, name + ".npy");
    if (auto err = writeNpy(path, array))
      return err;
  }
  {
    llvm::SmallString<256> path(tmp);
    llvm::sys::path::append(path, "progress.txt");
    std::error_code ec;
    llvm::raw_fd_ostream os(path, ec);
    if (ec)
      return makeError("cannot write '" + path + "': " + ec.message());
    os << "epoch " << epoch << "\nstep " << step << "\n";
  }
  std::string old = (dir + ".old").str();
  llvm::sys::fs::remove_directories(old);
  if (llvm::sys::fs::exists(dir))
    if (auto ec = llvm::sys::fs::rename(dir, old))
      return makeError("cannot move '" + dir + "': " + ec.message());
  if (auto ec = llvm::sys::fs::rename(tmp, dir))
    return makeError("cannot rename '" + tmp + "': " + ec.message());
  llvm::sys::fs::remove_directories(old);
  return llvm::Error::success();
}

static llvm::Error readCheckpoint(TrainingSession &s, llvm::StringRef dir,
                                  unsigned &epoch, int64_t &step) {
  llvm::SmallVector<NpyArray> state;
  for (const std::string &name : s.getStateNames()) {
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, name + ".npy");
    auto a = readNpy(path);
    if (!a)
      return a.takeError();
    state.push_back(std::move(*a));
  }
  llvm::SmallString<256> path(dir);
  llvm::sys::path::append(path, "progress.txt");
  auto text = llvm::MemoryBuffer::getFile(path);
  if (!text)
    return makeError("cannot read '" + path + "'");
  if (sscanf((*text)->getBufferStart(), "epoch %u\nstep %ld", &epoch,
             &step) != 2)
    return makeError("'" + path + "' is not a qat-train progress file");
  return s.setState(state);
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  registerAsmPrinterCLOptions();
  registerMLIRContextCLOptions();
  registerQATPasses();
  parseToolCommandLine(argc, argv,
                       "qat-train: quantization-aware training of a model "
                       "on .npy data, compiled once\n");
  if (resume && checkpointDir.empty())
    return fail("--resume needs --checkpoint DIR");
  if (testDataFile.empty() != testLabelFile.empty())
    return fail("give both --test-data and --test-labels, or neither");
  if (!testOutputFile.empty() && testDataFile.empty())
    return fail("--test-output needs --test-data and --test-labels");
  if (numerics != "fake-quant" && numerics != "deployed")
    return fail("--numerics " + numerics + ": fake-quant or deployed");
  if (numerics == "deployed" && !prepared)
    return fail("--numerics deployed trains on the integer model of frozen "
                "quantization parameters: give a prepared and calibrated "
                "model (qat-prepare, qat-calibrate) with --prepared");
  if (freezeBNStats >= 0 && bnMode != "train")
    return fail("--freeze-bn-stats-after needs --bn-mode train (batch norm "
                "on batch statistics)");
  if (numerics == "deployed" && freezeObservers >= 0)
    return fail("--disable-observers-after: --numerics deployed has no "
                "observers (its quantization parameters are frozen)");

  ToolInput input;
  auto model = input.parse(inputFile);
  if (!model)
    return fail(llvm::toString(model.takeError()));

  // --entry: given, or the module's only function (the tools' convention).
  auto entry = resolveEntry(**model, entryName);
  if (!entry)
    return fail(llvm::toString(entry.takeError()));
  if (!(*model)->lookupSymbol<func::FuncOp>(*entry)) {
    std::string names;
    for (auto f : (*model)->getOps<func::FuncOp>())
      if (!f.isExternal())
        names += (names.empty() ? "@" : ", @") + f.getSymName().str();
    return fail("--entry " + *entry + ": '" + inputFile +
                "' has no function @" + *entry + " (it defines " +
                (names.empty() ? std::string("none") : names) + ")");
  }

  TrainingOptions options;
  options.target = target;
  options.prepared = prepared;
  options.entry = *entry;
  options.bnMode = bnMode;
  options.numerics = numerics;
  // Doubles printed to round-trip (formatv's default keeps 2 decimals).
  auto g17 = [](double v) {
    char buf[40];
    snprintf(buf, sizeof(buf), "%.17g", v);
    return std::string(buf);
  };
  options.trainStepOptions = "loss=" + lossName + " optimizer=" + optimizer +
                             " momentum=" + g17(momentum) +
                             " weight-decay=" + g17(weightDecay);
  options.lowering.threads = threads;
  auto session = TrainingSession::create(**model, options);
  if (!session)
    return fail(llvm::toString(session.takeError()));
  TrainingSession &s = **session;

  // Data.
  auto x = readNpy(dataFile);
  if (!x)
    return fail(llvm::toString(x.takeError()));
  if (auto err = checkInputs(*x, s, dataFile))
    return fail(llvm::toString(std::move(err)));
  int64_t count = x->shape[0];
  auto yArray = readNpy(labelFile);
  if (!yArray)
    return fail(llvm::toString(yArray.takeError()));
  auto y = readLabels(*yArray, s, count, labelFile);
  if (!y)
    return fail(llvm::toString(y.takeError()));
  std::optional<NpyArray> xt;
  std::vector<uint8_t> yt;
  int64_t testCount = 0;
  if (!testDataFile.empty()) {
    auto a = readNpy(testDataFile);
    if (!a)
      return fail(llvm::toString(a.takeError()));
    if (auto err = checkInputs(*a, s, testDataFile))
      return fail(llvm::toString(std::move(err)));
    testCount = a->shape[0];
    auto b = readNpy(testLabelFile);
    if (!b)
      return fail(llvm::toString(b.takeError()));
    auto labels = readLabels(*b, s, testCount, testLabelFile);
    if (!labels)
      return fail(llvm::toString(labels.takeError()));
    xt = std::move(*a);
    yt = std::move(*labels);
  }

  const int64_t batch = s.getInputSpec().shape[0];
  const int64_t sampleBytes =
      s.getInputSpec().getNumElements() / batch * 4;
  const int64_t labelBytes = s.hasClassLabels()
                                 ? 4
                                 : s.getOutputSpec().getNumElements() / batch *
                                       4;
  const int64_t stepsPerEpoch = count / batch;
  if (stepsPerEpoch == 0)
    return fail("'" + dataFile + "' holds " + std::to_string(count) +
                " inputs, fewer than one batch of " + std::to_string(batch));

  unsigned startEpoch = 0;
  int64_t step = 0;
  if (resume) {
    if (auto err = readCheckpoint(s, checkpointDir, startEpoch, step))
      return fail("cannot resume from '" + checkpointDir +
                  "': " + llvm::toString(std::move(err)));
    if (!quiet)
      llvm::errs() << "qat-train: resumed from '" << checkpointDir
                   << "' after epoch " << startEpoch << " (step " << step
                   << ")\n";
  }

  std::unique_ptr<llvm::raw_fd_ostream> history;
  if (!historyFile.empty()) {
    std::error_code ec;
    history = std::make_unique<llvm::raw_fd_ostream>(
        historyFile, ec,
        resume ? llvm::sys::fs::OF_Append : llvm::sys::fs::OF_None);
    if (ec)
      return fail("cannot write '" + historyFile + "': " + ec.message());
    if (!resume)
      *history << "epoch,steps,loss,train_accuracy,test_accuracy,images_per_"
                  "second,seconds\n";
  }

  // Test accuracy: the eval entry on whole batches, the last one padded.
  // `outputs`, if given, receives every test input's output row.
  auto evaluate = [&](std::vector<float> *outputs =
                          nullptr) -> llvm::Expected<double> {
    std::vector<uint8_t> in(batch * sampleBytes);
    std::vector<float> out(s.getOutputSpec().getNumElements());
    int64_t classes = s.getOutputSpec().shape.back(), right = 0;
    int64_t rowSize = s.getOutputSpec().getNumElements() / batch;
    auto *labels = reinterpret_cast<const int32_t *>(yt.data());
    for (int64_t i = 0; i < testCount; i += batch) {
      int64_t n = std::min(batch, testCount - i);
      std::fill(in.begin(), in.end(), 0);
      std::memcpy(in.data(), xt->bytes.data() + i * sampleBytes,
                  n * sampleBytes);
      if (auto err = s.evaluate(in.data(), out.data()))
        return std::move(err);
      if (outputs)
        outputs->insert(outputs->end(), out.begin(), out.begin() + n * rowSize);
      for (int64_t r = 0; r < n; ++r) {
        const float *row = out.data() + r * classes;
        right += std::max_element(row, row + classes) - row == labels[i + r];
      }
    }
    return 100.0 * right / testCount;
  };

  std::vector<int64_t> order(count);
  std::vector<uint8_t> xb(batch * sampleBytes), yb(batch * labelBytes);
  for (unsigned epoch = startEpoch; epoch < epochs; ++epoch) {
    // The order of an epoch depends on the seed and the epoch only, so a
    // resumed run takes the batches an uninterrupted one would.
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(seed * 1000003ull + epoch);
    if (shuffle)
      std::shuffle(order.begin(), order.end(), rng);
    auto start = std::chrono::steady_clock::now();
    double lossSum = 0;
    int64_t right = 0, seen = 0;
    for (int64_t b = 0; b < stepsPerEpoch; ++b, ++step) {
      if (freezeObservers >= 0 && step == freezeObservers)
        if (auto err = s.setObservers(false))
          return fail(llvm::toString(std::move(err)));
      if (freezeBNStats >= 0 && step == freezeBNStats)
        if (auto err = s.setBatchNormStatsFrozen(true))
          return fail(llvm::toString(std::move(err)));
      for (int64_t r = 0; r < batch; ++r) {
        int64_t i = order[b * batch + r];
        std::memcpy(xb.data() + r * sampleBytes,
                    x->bytes.data() + i * sampleBytes, sampleBytes);
        std::memcpy(yb.data() + r * labelBytes, y->data() + i * labelBytes,
                    labelBytes);
      }
      auto result = s.step(xb.data(), yb.data(), lr);
      if (!result)
        return fail(llvm::toString(result.takeError()));
      if (!std::isfinite(result->first))
        return fail(llvm::formatv("the loss is {0} at epoch {1}, step {2} "
                                  "(batch {3} of the epoch); stopped{4}",
                                  result->first, epoch + 1, step, b,
                                  checkpointDir.empty()
                                      ? std::string()
                                      : "; the last checkpoint in '" +
                                            checkpointDir + "' is kept")
                        .str());
      lossSum += result->first;
      right += result->second;
      seen += batch;
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      if (!quiet && printEvery && (b + 1) % printEvery == 0)
        llvm::errs() << llvm::formatv(
            "qat-train: epoch {0} step {1}/{2}: loss {3:f4}, accuracy "
            "{4:f2}%, {5:f0} images/s\n",
            epoch + 1, b + 1, stepsPerEpoch, lossSum / (b + 1),
            s.hasClassLabels() ? 100.0 * right / seen : 0.0, seen / seconds);
    }
    double seconds = std::chrono::duration<double>(
                         std::chrono::steady_clock::now() - start)
                         .count();
    double testAccuracy = -1;
    if (testCount) {
      auto acc = evaluate();
      if (!acc)
        return fail(llvm::toString(acc.takeError()));
      testAccuracy = *acc;
    }
    if (!quiet)
      llvm::errs() << llvm::formatv(
          "qat-train: epoch {0}: loss {1:f4}, train accuracy {2:f2}%, test "
          "accuracy {3}, {4:f0} images/s, {5:f1} s\n",
          epoch + 1, lossSum / stepsPerEpoch,
          s.hasClassLabels() ? 100.0 * right / seen : 0.0,
          testCount ? llvm::formatv("{0:f2}%", testAccuracy).str() : "-",
          seen / seconds, seconds);
    if (history)
      *history << llvm::formatv("{0},{1},{2:f6},{3:f4},{4},{5:f1},{6:f2}\n",
                                epoch + 1, step, lossSum / stepsPerEpoch,
                                s.hasClassLabels() ? 100.0 * right / seen
                                                   : 0.0,
                                testCount
                                    ? llvm::formatv("{0:f4}", testAccuracy)
                                          .str()
                                    : "",
                                seen / seconds, seconds);
    if (!checkpointDir.empty())
      if (auto err = writeCheckpoint(s, checkpointDir, epoch + 1, step))
        return fail("cannot write the checkpoint: " +
                    llvm::toString(std::move(err)));
  }

  if (!testOutputFile.empty()) {
    std::vector<float> outputs;
    if (auto acc = evaluate(&outputs); !acc)
      return fail(llvm::toString(acc.takeError()));
    NpyArray a;
    a.kind = ElementKind::F32;
    a.shape.assign(s.getOutputSpec().shape.begin(),
                   s.getOutputSpec().shape.end());
    a.shape[0] = testCount;
    a.bytes.resize(outputs.size() * sizeof(float));
    std::memcpy(a.bytes.data(), outputs.data(), a.bytes.size());
    if (auto err = writeNpy(testOutputFile, a))
      return fail(llvm::toString(std::move(err)));
  }

  if (!outputFile.empty()) {
    auto trained = s.getTrainedModule();
    if (!trained)
      return fail(llvm::toString(trained.takeError()));
    std::string errorMessage;
    auto output = openOutputFile(outputFile, &errorMessage);
    if (!output)
      return fail("cannot write '" + outputFile + "': " + errorMessage);
    (*trained)->print(output->os());
    output->os() << "\n";
    output->keep();
  }
  return 0;
}
