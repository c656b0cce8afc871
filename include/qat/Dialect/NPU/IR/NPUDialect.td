//===- NPUDialect.td - the npu dialect ---------------------*- tablegen -*-===//
//
// The `npu` dialect: the instruction stream of the open BPU-style int8 NPU
// of docs/NPU.md, one op per instruction, inside an `npu.program` that also
// holds the program's DRAM layout (constant data, input and output tensors)
// and its layer table.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_DIALECT_NPU_IR_NPUDIALECT_TD
#define QAT_DIALECT_NPU_IR_NPUDIALECT_TD

include "mlir/IR/OpBase.td"

def NPU_Dialect : Dialect {
  let name = "npu";
  // Not ::mlir::qat::npu: that namespace is the machine library's
  // (include/qat/NPU: npu::Instruction, npu::AluOp, npu::Config, ...).
  let cppNamespace = "::mlir::qat::npu::ir";
  let summary = "Instruction stream of the BPU-style int8 NPU (docs/NPU.md)";
  let description = [{
    The `npu` dialect writes a program for the NPU that docs/NPU.md
    specifies: an int8 GEMM core with int32 accumulators, a vector ALU on
    the accumulator buffer, on-chip buffers (INP, WGT, ACC, UOP) fed by a
    2-D strided DMA, and three modules (load, compute, store) that run
    concurrently and synchronise through dependency tokens.

    An `npu.program` holds, in order: its input and output tensors
    (`npu.tensor`), its constant DRAM data (`npu.data`), its layer table
    (`npu.layer`), then the instructions (`npu.load`, `npu.gemm`,
    `npu.alu`, `npu.store`) and one `npu.finish`. Each instruction op has
    the fields of the instruction it encodes, with the same names and the
    same meaning as docs/NPU.md section 4; its verifier applies that
    section's static rules against the program's `#npu.config` (the check
    is the machine library's `npu::verify`, so the IR and the binary obey
    one rule book). The one difference from the binary: a GEMM or ALU op
    carries its micro-ops, and `qat-translate --npu-binary` places them in
    the UOP buffer (identical micro-kernels once).

    `qat-lower-to-npu` writes this dialect from a `bpu` integer model;
    `qat-translate --npu-binary` writes the binary that `qat-npu-sim` runs.
  }];
  let useDefaultAttributePrinterParser = 1;
}

class NPU_Op<string mnemonic, list<Trait> traits = []>
    : Op<NPU_Dialect, mnemonic, traits>;

#endif // QAT_DIALECT_NPU_IR_NPUDIALECT_TD
