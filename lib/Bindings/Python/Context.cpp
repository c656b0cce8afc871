//===- Context.cpp - the context and its diagnostics ----------------------===//
//
// Part of qat_mlir's native extension; Native.h describes the files.
//
//===----------------------------------------------------------------------===//

#include "Native.h"

#include "mlir-c/BuiltinAttributes.h"

using namespace qat_native;

namespace {

/// "model.mlir":3:5 for loc("model.mlir":3:5); NameLoc and CallSiteLoc keep
/// their MLIR spelling without the loc(...) around it.
std::string locationString(MlirLocation loc) {
  std::string s;
  mlirLocationPrint(loc, appendString, &s);
  if (s.rfind("loc(", 0) == 0 && s.size() > 5 && s.back() == ')')
    s = s.substr(4, s.size() - 5);
  return s;
}

/// The line of `text` a file location points at, cut to 160 columns around
/// the column, with a caret under it (as the tools print parse errors).
std::string sourceExcerpt(MlirLocation loc, const std::string *text,
                          const std::string &name) {
  if (!text || !mlirLocationIsAFileLineColRange(loc) ||
      str(mlirIdentifierStr(mlirLocationFileLineColRangeGetFilename(loc))) !=
          name)
    return "";
  int line = mlirLocationFileLineColRangeGetStartLine(loc);
  int col = mlirLocationFileLineColRangeGetStartColumn(loc);
  size_t begin = 0;
  for (int l = 1; l < line && begin != std::string::npos; ++l) {
    begin = text->find('\n', begin);
    if (begin != std::string::npos)
      ++begin;
  }
  if (begin == std::string::npos || col < 1)
    return "";
  size_t end = text->find('\n', begin);
  std::string lineText = text->substr(
      begin, end == std::string::npos ? std::string::npos : end - begin);
  size_t caret = col - 1, from = caret > 80 ? caret - 80 : 0;
  lineText = lineText.substr(from, 160);
  return lineText + "\n" + std::string(caret - from, ' ') + "^\n";
}

} // namespace

void qat_native::formatDiagnostic(MlirDiagnostic d, std::string &out,
                                  const std::string *text,
                                  const std::string &name) {
  const char *severity = "error";
  switch (mlirDiagnosticGetSeverity(d)) {
  case MlirDiagnosticWarning:
    severity = "warning";
    break;
  case MlirDiagnosticNote:
    severity = "note";
    break;
  case MlirDiagnosticRemark:
    severity = "remark";
    break;
  default:
    break;
  }
  MlirLocation loc = mlirDiagnosticGetLocation(d);
  out += locationString(loc) + ": " + severity + ": ";
  mlirDiagnosticPrint(d, appendString, &out);
  out += "\n" + sourceExcerpt(loc, text, name);
  for (intptr_t i = 0, e = mlirDiagnosticGetNumNotes(d); i < e; ++i)
    formatDiagnostic(mlirDiagnosticGetNote(d, i), out, text, name);
}

Context &Context::get() {
  static Context *context = new Context(); // lives as long as the process
  return *context;
}

Context::Context() {
  qatRegisterAllPasses();
  context = qatContextCreate();
  qatContextSetPrintOpOnDiagnostic(context, false);
  mlirContextAttachDiagnosticHandler(context, &Context::handle, this, nullptr);
}

MlirLogicalResult Context::handle(MlirDiagnostic d, void *userData) {
  auto *self = static_cast<Context *>(userData);
  formatDiagnostic(d, self->diagnostics, self->parsing, self->parsingName);
  return mlirLogicalResultSuccess();
}
