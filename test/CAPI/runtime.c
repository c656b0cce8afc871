/* The C API of libQATCAPI.so from C: parse, a pass pipeline, two functions
   compiled once and called on caller-owned buffers, the checks of a call,
   and ahead-of-time compilation. Prints what it sees for FileCheck. */
#include "qat-c/Runtime.h"
#include "qat-c/Dialects.h"

#include "mlir-c/Pass.h"

#include <stdio.h>
#include <string.h>

static void printError(MlirStringRef s, void *user) {
  printf("%s: %.*s\n", (const char *)user, (int)s.length, s.data);
}
static void printText(MlirStringRef s, void *user) {
  fwrite(s.data, 1, s.length, stdout);
}
static MlirStringRef str(const char *s) {
  return mlirStringRefCreateFromCString(s);
}

static const char *kText =
    "func.func @add(%a: tensor<2x3xf32>, %b: tensor<2x3xf32>) -> "
    "tensor<2x3xf32> {\n"
    "  %0 = tosa.add %a, %b : (tensor<2x3xf32>, tensor<2x3xf32>) -> "
    "tensor<2x3xf32>\n"
    "  return %0 : tensor<2x3xf32>\n"
    "}\n"
    "func.func @relu(%a: tensor<2x3xf32>) -> tensor<2x3xf32> {\n"
    "  %0 = tosa.clamp %a {max_val = 3.40282347E+38 : f32, min_val = 0.0 : "
    "f32} : (tensor<2x3xf32>) -> tensor<2x3xf32>\n"
    "  return %0 : tensor<2x3xf32>\n"
    "}\n";

int main(int argc, char **argv) {
  qatRegisterAllPasses();
  MlirContext ctx = qatContextCreate();
  qatContextSetPrintOpOnDiagnostic(ctx, false);
  MlirModule module = qatModuleCreateParse(ctx, str(kText), str("model.mlir"));
  if (mlirModuleIsNull(module))
    return 1;

  MlirStringRef entries[] = {str("add"), str("relu")};
  QatCompileOptions options = qatCompileOptionsCreate();
  qatCompileOptionsSetOptLevel(options, 2);
  QatExecutable exe =
      qatExecutableCreate(module, 2, entries, options, printError, "create");
  if (qatExecutableIsNull(exe))
    return 1;
  // CHECK: functions 2: add relu, lookup relu 1, nope -1
  printf("functions %d: %s %s, lookup relu %d, nope %d\n",
         (int)qatExecutableGetNumFunctions(exe),
         qatExecutableGetFunctionName(exe, 0).data,
         qatExecutableGetFunctionName(exe, 1).data,
         (int)qatExecutableLookupFunction(exe, str("relu")),
         (int)qatExecutableLookupFunction(exe, str("nope")));
  // CHECK: add: 2 arguments, 1 result; argument 1: f32 rank 2 sizes 2x3
  MlirStringRef name =
      qatElementTypeGetName(qatExecutableGetArgumentElementType(exe, 0, 1));
  const int64_t *sizes = qatExecutableGetArgumentSizes(exe, 0, 1);
  printf("add: %d arguments, %d result; argument 1: %.*s rank %d sizes "
         "%dx%d\n",
         (int)qatExecutableGetNumArguments(exe, 0),
         (int)qatExecutableGetNumResults(exe, 0), (int)name.length, name.data,
         (int)qatExecutableGetArgumentRank(exe, 0, 1), (int)sizes[0],
         (int)sizes[1]);

  float a[6] = {-1, 2, -3, 4, -5, 6}, b[6] = {0.5f, 0.5f, 0.5f, 1, 1, 1};
  float y[6];
  int64_t shape[2] = {2, 3};
  QatBuffer args[2] = {{a, QatElementTypeF32, 2, shape, NULL},
                       {b, QatElementTypeF32, 2, shape, NULL}};
  QatBuffer out = {y, QatElementTypeF32, 2, shape, NULL};
  if (mlirLogicalResultIsFailure(
          qatExecutableCall(exe, 0, 2, args, 1, &out, printError, "call")))
    return 1;
  // CHECK: add: -0.5 2.5 -2.5 5 -4 7
  printf("add: %g %g %g %g %g %g\n", y[0], y[1], y[2], y[3], y[4], y[5]);
  qatExecutableCall(exe, 1, 1, args, 1, &out, printError, "call");
  // CHECK: relu: 0 2 0 4 0 6
  printf("relu: %g %g %g %g %g %g\n", y[0], y[1], y[2], y[3], y[4], y[5]);

  // Checked calls.
  // CHECK: call: input #1 has shape (3, 2) but @add argument #1 is
  // tensor<2x3xf32>
  int64_t wrong[2] = {3, 2};
  QatBuffer bad = {b, QatElementTypeF32, 2, wrong, NULL};
  QatBuffer args2[2] = {args[0], bad};
  qatExecutableCall(exe, 0, 2, args2, 1, &out, printError, "call");
  // CHECK: call: input #0 has element type int32 but @relu argument #0 is
  // tensor<2x3xf32> (float32)
  QatBuffer ints = {a, QatElementTypeI32, 2, shape, NULL};
  qatExecutableCall(exe, 1, 1, &ints, 1, &out, printError, "call");
  // CHECK: call: input #0 is not contiguous in row-major (C) order
  int64_t transposed[2] = {1, 2};
  QatBuffer strided = {a, QatElementTypeF32, 2, shape, transposed};
  qatExecutableCall(exe, 1, 1, &strided, 1, &out, printError, "call");
  // CHECK: call: @add takes 2 argument(s) and 1 result buffer(s), got 1 and 1
  qatExecutableCall(exe, 0, 1, args, 1, &out, printError, "call");
  // CHECK: call: no function #5 (2 compiled)
  qatExecutableCall(exe, 5, 1, args, 1, &out, printError, "call");
  // CHECK: create: no function @nope in the module (it defines @add, @relu)
  MlirStringRef nope = str("nope");
  QatExecutable none =
      qatExecutableCreate(module, 1, &nope, options, printError, "create");
  printf("null: %d\n", qatExecutableIsNull(none));
  // CHECK-NEXT: null: 1
  qatExecutableDestroy(exe);

  // Ahead of time: the object and the header of qat-compile.
  // CHECK: aot: 1
  if (argc > 1) {
    char object[4096], header[4096];
    snprintf(object, sizeof object, "%s/relu.o", argv[1]);
    snprintf(header, sizeof header, "%s/relu.h", argv[1]);
    printf("aot: %d\n", mlirLogicalResultIsSuccess(qatCompileToObject(
                            module, str("relu"), str(object), str(header),
                            options, printError, "aot")));
  }
  qatCompileOptionsDestroy(options);

  // A pipeline through upstream's pass manager C API.
  MlirPassManager pm = mlirPassManagerCreate(ctx);
  if (mlirLogicalResultIsFailure(
          mlirParsePassPipeline(mlirPassManagerGetAsOpPassManager(pm),
                                str("builtin.module(qat-prepare{target=x86})"),
                                printError, "pipeline")))
    return 1;
  if (mlirLogicalResultIsFailure(
          mlirPassManagerRunOnOp(pm, mlirModuleGetOperation(module))))
    return 1;
  mlirPassManagerDestroy(pm);
  // CHECK: module attributes {qat.target = "x86"}
  // CHECK: qat.fake_quant
  mlirOperationPrint(mlirModuleGetOperation(module), printText, NULL);
  mlirModuleDestroy(module);
  mlirContextDestroy(ctx);
  return 0;
}
