// The smallest program: no data, one FINISH.
npu.program @empty config #npu.config<> dram_size 0 {
  npu.finish
}
