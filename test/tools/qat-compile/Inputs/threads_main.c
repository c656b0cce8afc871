/* Calls the model of chain-int8.mlir from several threads at once and
   checks every result against the same call made alone beforehand. The
   function keeps its temporary buffers in one arena; a call that finds it
   in use must take memory of its own, or calls would overwrite each
   other's buffers. Prints the number of calls and of wrong results. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "chain.h"

enum { kThreads = 4, kCalls = 400, kInputs = 8, kSize = 6 * 6 * 16 };

static int8_t inputs[kInputs][kSize], expected[kInputs][kSize];
static int wrong[kThreads];

static void *worker(void *arg) {
  int t = (int)(long)arg;
  int8_t y[kSize];
  for (int i = 0; i < kCalls; ++i) {
    int k = (i + t) % kInputs;
    qat_chain(inputs[k], y);
    if (memcmp(y, expected[k], sizeof y) != 0)
      ++wrong[t];
  }
  return NULL;
}

int main(void) {
  for (int k = 0; k < kInputs; ++k) {
    for (int i = 0; i < kSize; ++i)
      inputs[k][i] = (int8_t)((i * (37 + 2 * k) + 11 * k) % 256 - 128);
    qat_chain(inputs[k], expected[k]);
  }
  pthread_t threads[kThreads];
  for (long t = 0; t < kThreads; ++t)
    pthread_create(&threads[t], NULL, worker, (void *)t);
  int total = 0;
  for (int t = 0; t < kThreads; ++t) {
    pthread_join(threads[t], NULL);
    total += wrong[t];
  }
  /* The inputs differ enough for the results to differ. */
  int distinct = memcmp(expected[0], expected[1], kSize) != 0;
  printf("calls %d wrong %d distinct %d\n", kThreads * kCalls, total, distinct);
  return total != 0;
}
