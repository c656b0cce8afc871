//===- VnniPeak.h - measured per-core peaks of the SIMD units ---*- C++ -*-===//
//
// Instruction loops that measure what one core can issue: AVX-512 VNNI
// vpdpbusd (u8 x s8 -> s32) and fp32 FMA. Benchmarks state their results as
// a fraction of these, measured in the same run.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_BENCH_VNNIPEAK_H
#define QAT_BENCH_VNNIPEAK_H

namespace qat::bench {

/// int8 operations per second of one core issuing independent
/// `vpdpbusd zmm` (64 multiply-accumulates = 128 operations each), the best
/// of repeated runs over about `seconds`. 0 if the CPU lacks AVX-512 VNNI.
double measureVnniPeakOps(double seconds = 0.3);

/// int8 operations per second of one core issuing `tdpbusd` on AMX tiles
/// (16 x 16 x 64 multiply-accumulates each, 4 independent accumulator tiles
/// from 2 A and 2 B tiles: all 8 registers), the best of repeated runs over
/// about `seconds`. The caller must have made sure the CPU has AMX and the
/// OS granted the process the tiles' data (qat::hostHasAMX()); 0 if the
/// CPU lacks AMX.
double measureAMXPeakOps(double seconds = 0.3);

/// fp32 flops per second of one core issuing independent `vfmadd231ps zmm`
/// (16 FMAs = 32 flops each). 0 if the CPU lacks AVX-512F.
double measureFp32FmaPeakFlops(double seconds = 0.3);

} // namespace qat::bench

#endif // QAT_BENCH_VNNIPEAK_H
