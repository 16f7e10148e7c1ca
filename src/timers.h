/* A binary min-heap of deadlines: O(log n) arm/disarm, O(1) next deadline,
 * so 10,000 sleeping jobs cost nothing while nothing is due. */
#ifndef OMH_TIMERS_H
#define OMH_TIMERS_H

#include <stddef.h>

typedef struct omh_timer {
  double when; /* monotonic seconds */
  size_t slot; /* index in the heap + 1; 0 = not armed */
} omh_timer;

typedef struct omh_timers {
  omh_timer **heap;
  size_t n, cap;
} omh_timers;

int omh_timers_arm(omh_timers *t, omh_timer *tm, double when); /* 0 or -1 (no memory) */
void omh_timers_disarm(omh_timers *t, omh_timer *tm);
omh_timer *omh_timers_peek(const omh_timers *t); /* earliest or NULL */
void omh_timers_free(omh_timers *t);

#endif
