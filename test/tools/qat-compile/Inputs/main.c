/* Calls the compiled @fq through its generated header. */
#include <stdio.h>

#include "fq.h"

int main(void) {
  float x[2][4] = {{0.2f, 0.3f, 0.76f, 1.25f}, {-1.0f, 9.0f, 2.5f, 3.49f}};
  float scale = 0.5f;
  int32_t zero_point = 1;
  float y[2][4];
  qat_fq(&x[0][0], &scale, &zero_point, &y[0][0]);
  for (int i = 0; i < 2; ++i)
    printf("%g %g %g %g\n", y[i][0], y[i][1], y[i][2], y[i][3]);
  return 0;
}
