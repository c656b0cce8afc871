// RUN: qat-opt %s --qat-lower-amx=emulate --verify-diagnostics

// The emulation covers the int8 tile ops only.
// expected-error @+1 {{qat-lower-amx{emulate}: amx.tile_mulf is not emulated}}
module {
  func.func @mulf(%a: memref<16x32xbf16>, %c: memref<16x16xf32>) {
    %c0 = arith.constant 0 : index
    %ta = amx.tile_load %a[%c0, %c0] : memref<16x32xbf16> into !amx.tile<16x32xbf16>
    %z = amx.tile_zero : !amx.tile<16x16xf32>
    %n = amx.tile_mulf %ta, %ta, %z : !amx.tile<16x32xbf16>, !amx.tile<16x32xbf16>, !amx.tile<16x16xf32>
    amx.tile_store %c[%c0, %c0], %n : memref<16x16xf32>, !amx.tile<16x16xf32>
    return
  }
}
