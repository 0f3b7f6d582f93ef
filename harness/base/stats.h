// Per-thread counters and the fault-latency histogram.
//
// Each harness thread owns one ThreadStats and is its only writer (relaxed
// atomic increments: no contention, no lock); the progress line and the final
// summary read them concurrently and sum.
#ifndef PAGERACE_HARNESS_BASE_STATS_H_
#define PAGERACE_HARNESS_BASE_STATS_H_

#include <atomic>
#include <cstdint>
#include <vector>

#include "harness/base/thread_registry.h"

namespace pagerace {

enum class Stat : int {
  kOps,            // worker operations (one load+store, or one pwrite)
  kFaults,         // user faults handled
  kFaultsWp,       // write faults on a read-only pte (do_wp_page)
  kFaultsNopage,   // faults on a not-present pte (__do_fault, read or write)
  kFaultRetries,   // faults that installed nothing (pte changed, mapping gone)
  kMkwriteCalls,   // ->page_mkwrite calls
  kWritebacks,     // ->writepage calls
  kPwrites,        // pwrite-path writes
  kEvictions,      // pages reclaimed
  kReadbacks,      // ledger read-back checks
  kRefused,        // faults failed with SIGBUS (failed ->page_mkwrite, past EOF)
  kWritableDuringWriteback,  // 5.15-era faults that made a pte writable while
                             // PG_writeback was set, on a filesystem without
                             // stable writes: the store lands during the I/O
  kGupPins,        // get_user_pages / pin_user_pages references taken
  kGupRefused,     // FOLL_LONGTERM write pins refused (v6.5)
  kPinnedSkipped,  // writeback passes over a pinned page (--pin-writeback=skip)
  kPinnedBounced,  // bounce copies written of a pinned page (--pin-writeback=bounce)
  kPinnedKept,     // reclaim kept a pinned page (--pin-writeback=v6.4)
  kNumStats
};
const char* StatName(Stat s);

// Log-linear histogram of nanoseconds: 8 sub-buckets per power of two.
class LatencyHistogram {
 public:
  static constexpr int kSub = 8;
  static constexpr int kBuckets = 64 * kSub;
  void Add(uint64_t ns) { buckets_[Bucket(ns)].fetch_add(1, std::memory_order_relaxed); }
  void MergeInto(std::vector<uint64_t>* sums) const;
  // Quantile q in [0,1] of merged bucket counts, as the bucket's upper bound.
  static uint64_t Quantile(const std::vector<uint64_t>& sums, double q);

 private:
  static int Bucket(uint64_t ns);
  static uint64_t UpperBound(int bucket);
  std::atomic<uint64_t> buckets_[kBuckets] = {};
};

struct ThreadStats {
  std::atomic<uint64_t> v[static_cast<int>(Stat::kNumStats)] = {};
  LatencyHistogram fault_latency;
};

// Counts on the calling thread's stats block, if it has one.
inline void CountStat(Stat s, uint64_t n = 1) {
  if (ThreadStats* st = current_thread().stats) {
    st->v[static_cast<int>(s)].fetch_add(n, std::memory_order_relaxed);
  }
}

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_BASE_STATS_H_
