/* Calls the depthwise model of test/Pipelines/Inputs/depthwise-int8.mlir on
   a fixed input and prints its 576 output codes, 16 per line. */
#include <stdio.h>

#include "dw.h"

int main(void) {
  int8_t x[6 * 6 * 16], y[6 * 6 * 16];
  for (int i = 0; i < 6 * 6 * 16; ++i)
    x[i] = (int8_t)((i * 37 + 11) % 256 - 128);
  qat_dw(x, y);
  for (int i = 0; i < 6 * 6 * 16; ++i)
    printf("%d%c", y[i], i % 16 == 15 ? '\n' : ' ');
  return 0;
}
