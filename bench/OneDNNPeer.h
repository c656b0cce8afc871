//===- OneDNNPeer.h - oneDNN int8 primitives timed as the peer --*- C++ -*-===//
//
// Times the oneDNN int8 inference primitive of a benchmark Layer the way
// bench/README.md describes the peer: batch 1, u8 NHWC source, s8 weights in
// oneDNN's preferred layout, s32 bias, u8 destination, per-output-channel
// scales and a ReLU post-op, on the calling thread only.
//
//===----------------------------------------------------------------------===//

#ifndef QAT_BENCH_ONEDNNPEER_H
#define QAT_BENCH_ONEDNNPEER_H

#include "Layers.h"

#include <cstdint>
#include <string>

namespace qat::bench {

/// Seconds per call of one primitive.
struct Timing {
  double median = 0, min = 0;
  int64_t calls = 0;
  /// oneDNN implementation name (primitive_desc::impl_info_str()).
  std::string impl;
  /// Sampled outputs compared with a scalar reference before timing, and how
  /// many of them differ by more than one code.
  int64_t checked = 0, mismatches = 0;
};

/// Creates the primitive of `l` with random data (fixed seeds), checks a
/// sample of its outputs against a scalar reference, warms up, then times
/// calls until at least `minSeconds` have elapsed and at least 10 calls were
/// made. Throws dnnl::error when oneDNN rejects the problem.
Timing timeOneDNN(const Layer &l, double minSeconds = 0.3);

/// Restricts oneDNN to the calling thread and returns the number of threads
/// it will use (1 on success; -1 if the threading runtime is not handled).
/// Debian's libdnnl is built with OpenMP (libgomp reads OMP_NUM_THREADS when
/// it is loaded, before main), so this calls omp_set_num_threads(1).
/// timeOneDNN calls it itself.
int limitOneDNNToOneThread();

/// The ISA oneDNN dispatches to in this process, e.g. "avx512_core_vnni";
/// honours DNNL_MAX_CPU_ISA, which oneDNN reads once per process.
std::string oneDNNCpuIsa();

/// "2.6.3" and "omp"/"seq"/... of the linked library.
std::string oneDNNVersion();

} // namespace qat::bench

#endif // QAT_BENCH_ONEDNNPEER_H
