/* Calls the two-convolution model of test/Pipelines/Inputs/conv-chain-int8.mlir
   on a fixed input and prints its 200 output codes, 8 per line. */
#include <stdio.h>

#include "chain.h"

int main(void) {
  int8_t x[5 * 5 * 8], y[5 * 5 * 8];
  for (int i = 0; i < 5 * 5 * 8; ++i)
    x[i] = (int8_t)((i * 37 + 11) % 256 - 128);
  qat_f(x, y);
  for (int i = 0; i < 5 * 5 * 8; ++i)
    printf("%d%c", y[i], i % 8 == 7 ? '\n' : ' ');
  return 0;
}
