// The deadlock watchdog (DESIGN §8, oracle 3): no progress for a configured
// time while threads wait on locks is a deadlock.  A driver feeds it a
// progress count (ops + faults + writebacks, say) from its monitoring loop;
// the lock waits come from harness/base/lock_wait.h.
//
// Thread-safety: one Watchdog belongs to one monitoring thread.
#ifndef PAGERACE_HARNESS_CHECK_WATCHDOG_H_
#define PAGERACE_HARNESS_CHECK_WATCHDOG_H_

#include <cstdint>
#include <string>

#include "absl/functional/function_ref.h"

namespace pagerace {

class Watchdog {
 public:
  explicit Watchdog(int64_t limit_ns) : limit_ns_(limit_ns) {}
  // Whether the run is stuck: `progress` has not moved for the limit while
  // some thread waits on a lock.
  bool Stuck(uint64_t progress, int64_t now_ns);

 private:
  const int64_t limit_ns_;
  bool started_ = false;
  uint64_t mark_ = 0;
  int64_t mark_at_ = 0;
};

// "mmap0 waits for the lock of page 12 held by writeback; writeback waits for
// journal held by mmap0".  `page_lock_owner` gives the tid holding a page's
// lock (0: unknown); `first_page` receives the first page waited on (0 when
// none).
std::string DescribeLockWaits(absl::FunctionRef<uint32_t(uint64_t page)> page_lock_owner,
                              uint64_t* first_page);

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_WATCHDOG_H_
