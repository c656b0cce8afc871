// RUN: qat-opt %s --qat-convert-to-integer=target=x86 | FileCheck %s
// RUN: qat-opt %s --qat-convert-to-integer="target=x86 simulate=true" | FileCheck %s --check-prefix=SIM
// RUN: qat-opt %s --qat-convert-to-integer=target=x86 --remarks-filter=qat-convert-to-integer 2>&1 >/dev/null | FileCheck %s --check-prefix=REMARK

// A frozen sigmoid between quantizers becomes one tosa.table on the i8
// codes (u8 shifted by -128: table index = stored code + 128);
// integration_test/convert/tables.py checks the entries against NumPy.
// CHECK-LABEL: func.func @sigmoid
// CHECK:         %[[Q:.*]] = qat.quantize {{.*}} -> tensor<1x8xi8>
// CHECK:         %[[T:.*]] = "tosa.const"() <{values = dense<"0x{{[0-9A-F]+}}"> : tensor<256xi8>}>
// CHECK:         %[[Y:.*]] = tosa.table %[[Q]], %[[T]] : (tensor<1x8xi8>, tensor<256xi8>) -> tensor<1x8xi8>
// CHECK:         qat.dequantize %[[Y]]
// CHECK-NOT:     tosa.sigmoid
// SIM-LABEL: func.func @sigmoid
// SIM:         %[[Q:.*]] = qat.quantize {{.*}} -> tensor<1x8xf32>
// SIM:         %[[C:.*]] = tosa.cast %[[Q]] : (tensor<1x8xf32>) -> tensor<1x8xi8>
// SIM:         %[[Y:.*]] = tosa.table %[[C]], %{{.*}} : (tensor<1x8xi8>, tensor<256xi8>) -> tensor<1x8xi8>
// SIM:         tosa.cast %[[Y]] : (tensor<1x8xi8>) -> tensor<1x8xf32>
// REMARK: remark: [Passed] Table | Category:qat-convert-to-integer | Remark="element-wise function tosa.sigmoid(x) converted to a 256-entry lookup table (tosa.table)"
module attributes {qat.target = "x86"} {
  func.func @sigmoid(%x: tensor<1x8xf32>) -> tensor<1x8xf32> {
    %s = arith.constant dense<0.5> : tensor<f32>
    %z = arith.constant dense<128> : tensor<i32>
    %so = arith.constant dense<0.00392156886> : tensor<f32>
    %zo = arith.constant dense<0> : tensor<i32>
    %xq = qat.fake_quant %x, %s, %z {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x8xf32>, tensor<f32>, tensor<i32>
    %y = tosa.sigmoid %xq : (tensor<1x8xf32>) -> tensor<1x8xf32>
    %yq = qat.fake_quant %y, %so, %zo {quant_min = 0 : i64, quant_max = 255 : i64} : tensor<1x8xf32>, tensor<f32>, tensor<i32>
    return %yq : tensor<1x8xf32>
  }
}
