// Monotonic time for traces, latency and progress.
#ifndef PAGERACE_HARNESS_BASE_CLOCK_H_
#define PAGERACE_HARNESS_BASE_CLOCK_H_

#include <time.h>

#include <cstdint>

namespace pagerace {

// CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall, async-signal-safe).
inline int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_CLOCK_H_
