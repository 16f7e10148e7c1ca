/* Monotonic seconds: deadlines must not jump with the wall clock. */
#ifndef OMH_CLOCK_H
#define OMH_CLOCK_H

#include <time.h>

static inline double omh_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
