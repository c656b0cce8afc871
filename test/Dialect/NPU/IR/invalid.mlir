// RUN: qat-opt %s -split-input-file -verify-diagnostics
// One case per verifier message of the npu dialect.

// expected-error @+1 {{invalid NPU configuration: config: 'block_in' = 0 violates 1 <= block_in <= 64}}
npu.program @bad_config config #npu.config<block_in = 0> dram_size 0 {
  npu.finish
}

// -----

npu.program @field_width config #npu.config<> dram_size 4096 {
  // expected-error @+1 {{'npu.load' op field 'pad[0]' = 256 does not fit its encoding [0, 255]}}
  npu.load inp[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 16 pad [256, 0, 0, 0]
  npu.finish
}

// -----

npu.program @pad_size config #npu.config<> dram_size 4096 {
  // expected-error @+1 {{'npu.load' op 'pad' must have 4 elements, got 2}}
  npu.load inp[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 16 pad [1, 1]
  npu.finish
}

// -----

npu.program @dtype config #npu.config<> dram_size 4096 {
  // expected-error @+1 {{'npu.load' op dtype must be i8 or i32, got 'f32'}}
  npu.load acc[0], f32 from dram[0] rows 1 stride 0 cols 1 stride 16
  npu.finish
}

// -----

npu.program @store_dtype config #npu.config<> dram_size 4096 {
  // expected-error @+1 {{'npu.store' op dtype must be i8 or i32, got 'i16'}}
  npu.store acc[0], i16 to dram[0] rows 1 stride 0 cols 1 stride 16
  npu.finish
}

// -----

npu.program @machine_rule config #npu.config<> dram_size 4096 {
  // expected-error @+1 {{'npu.load' op breaks a rule of the NPU (docs/NPU.md): LOAD: pad_value 200 is not an int8 (INP/WGT)}}
  npu.load inp[0], i8 from dram[0] rows 1 stride 0 cols 1 stride 16 pad [1, 0, 0, 0] value 200
  npu.finish
}

// -----

npu.program @out_of_buffer config #npu.config<inp_depth = 8> dram_size 4096 {
  // expected-error @+1 {{'npu.load' op breaks a rule of the NPU (docs/NPU.md): LOAD: INP entries [0, 9) out of bounds (depth 8)}}
  npu.load inp[0], i8 from dram[0] rows 3 stride 48 cols 3 stride 16
  npu.finish
}

// -----

npu.program @imm_rescale config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.alu' op breaks a rule of the NPU (docs/NPU.md): ALU RESCALE: use_imm is only allowed with MOV..SHR}}
  npu.alu rescale use_imm loops [1, 1] uops [(0, 0, 0)] dst 0 [0, 0] src 0 [0, 0] param 0 [0, 0] imm [0, 0, 0]
  npu.finish
}

// -----

npu.program @clamp_bounds config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.alu' op breaks a rule of the NPU (docs/NPU.md): ALU CLAMP: clamp bounds imm1 = 5 > imm2 = 4}}
  npu.alu clamp loops [1, 1] uops [(0, 0, 0)] dst 0 [0, 0] src 0 [0, 0] param 0 [0, 0] imm [0, 5, 4]
  npu.finish
}

// -----

npu.program @imm_size config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.alu' op 'imm' must have 3 elements, got 1}}
  npu.alu max loops [1, 1] uops [(0, 0, 0)] dst 0 [0, 0] src 0 [0, 0] param 0 [0, 0] imm [0]
  npu.finish
}

// -----

npu.program @loops_size config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.gemm' op 'loops' must have 2 elements, got 3}}
  npu.gemm loops [1, 1, 1] uops [] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0]
  npu.finish
}

// -----

npu.program @factor_width config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.gemm' op field 'inp factors' = 4294967296 does not fit its encoding [-2147483648, 2147483647]}}
  npu.gemm loops [1, 1] uops [] acc 0 [0, 0] inp 0 [4294967296, 0] wgt 0 [0, 0]
  npu.finish
}

// -----

npu.program @uop_triples config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.gemm' op micro-ops must be (d, s, w) triples}}
  "npu.gemm"() <{loops = array<i64: 1, 1>, uops = array<i64: 0, 0>, acc_base = 0 : i64, acc_factors = array<i64: 0, 0>, inp_base = 0 : i64, inp_factors = array<i64: 0, 0>, wgt_base = 0 : i64, wgt_factors = array<i64: 0, 0>}> : () -> ()
  npu.finish
}

// -----

npu.program @reserved_layer config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.gemm' op layer id 65535 is reserved for 'no layer'}}
  npu.gemm loops [0, 0] uops [] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0] layer 65535
  npu.finish
}

// -----

npu.program @tensor_type config #npu.config<> dram_size 64 {
  // expected-error @+1 {{'npu.tensor' op element type must be i8 or i32, got 'f32'}}
  npu.tensor input "x" : tensor<4xf32> at 0 scale 1.0 zero_point 0
  npu.finish
}

// -----

npu.program @tensor_rank config #npu.config<> dram_size 64 {
  // expected-error @+1 {{'npu.tensor' op rank 7 exceeds 6}}
  npu.tensor input "x" : tensor<1x1x1x1x1x1x1xi8> at 0 scale 1.0 zero_point 0
  npu.finish
}

// -----

npu.program @tensor_dynamic config #npu.config<> dram_size 64 {
  // expected-error @+1 {{'npu.tensor' op shape must be static}}
  npu.tensor input "x" : tensor<?xi8> at 0 scale 1.0 zero_point 0
  npu.finish
}

// -----

npu.program @data_type config #npu.config<> dram_size 64 {
  // expected-error @+1 {{'npu.data' op value must be a rank-1 tensor of i8 or i32, got 'tensor<2x2xi8>'}}
  npu.data "w" at 0 = dense<1> : tensor<2x2xi8>
  npu.finish
}

// -----

npu.program @stray_op config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'arith.constant' op is not allowed in an 'npu.program' (only npu.tensor, npu.data, npu.layer and instructions)}}
  %c = arith.constant 0 : i32
  npu.finish
}

// -----

npu.program @order config #npu.config<> dram_size 64 {
  npu.data "w" at 0 = dense<1> : tensor<4xi8>
  // expected-error @+1 {{'npu.tensor' op out of order: a program lists its tensors, then its data, then its layers, then its instructions}}
  npu.tensor input "x" : tensor<4xi8> at 16 scale 1.0 zero_point 0
  npu.finish
}

// -----

npu.program @after_finish config #npu.config<> dram_size 0 {
  npu.finish
  // expected-error @+1 {{'npu.finish' op follows 'npu.finish', which must be the last instruction}}
  npu.finish
}

// -----

// expected-error @+1 {{'npu.program' op has no 'npu.finish' (the last instruction of every program)}}
npu.program @no_finish config #npu.config<> dram_size 0 {
}

// -----

npu.program @layer_sequence config #npu.config<> dram_size 0 {
  // expected-error @+1 {{'npu.layer' op layer id 1 out of sequence (expected 0)}}
  npu.layer 1 "conv" macs 0
  npu.finish
}

// -----

npu.program @unknown_layer config #npu.config<> dram_size 0 {
  npu.layer 0 "conv" macs 0
  // expected-error @+1 {{'npu.gemm' op layer 1 is not in the layer table (1 layers)}}
  npu.gemm loops [0, 0] uops [] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0] layer 1
  npu.finish
}

// -----

// expected-error @+1 {{'npu.program' op queue compute->store gets 1 tokens but 0 are taken; every token must be taken}}
npu.program @tokens config #npu.config<> dram_size 0 {
  npu.gemm loops [0, 0] uops [] acc 0 [0, 0] inp 0 [0, 0] wgt 0 [0, 0] deps push_next
  npu.finish
}

// -----

npu.program @outside_dram config #npu.config<> dram_size 64 {
  // expected-error @+1 {{'npu.tensor' op DRAM bytes [32, 96) outside dram_size 64}}
  npu.tensor output "y" : tensor<64xi8> at 32 scale 1.0 zero_point 0
  npu.finish
}

// -----

npu.program @overlap config #npu.config<> dram_size 128 {
  npu.tensor input "x" : tensor<64xi8> at 0 scale 1.0 zero_point 0
  // expected-error @+1 {{'npu.data' op DRAM bytes [32, 36) overlap those of the npu.tensor at [0, 64)}}
  npu.data "w" at 32 = dense<1> : tensor<4xi8>
  npu.finish
}

// -----

// expected-error @+1 {{'npu.program' op dram_size 2147483648 outside [0, 1073741824]}}
npu.program @big config #npu.config<> dram_size 2147483648 {
  npu.finish
}

// -----

npu.program @deps_keyword config #npu.config<> dram_size 0 {
  // expected-error @+1 {{unknown dependency flag 'pop_later' (pop_prev, pop_next, push_prev, push_next)}}
  npu.finish deps pop_later
}
