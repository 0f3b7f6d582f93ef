// Race reports (DESIGN §8).
//
// An oracle that sees a broken invariant calls Oracle::Report() from wherever
// it is — the fault path inside the SIGSEGV handler included — so reporting
// is allocation-free: the page's trace is copied into a fixed table of report
// groups.  Reports with the same signature (kind, invariant, data_losing and
// the page's recent event sequence) are counted, not repeated.
//
// Thread-safety: safe for concurrent access.
#ifndef PAGERACE_HARNESS_CHECK_ORACLE_H_
#define PAGERACE_HARNESS_CHECK_ORACLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/futex.h"
#include "harness/check/trace.h"

namespace pagerace {

// What went wrong, as users name it.
enum class RaceKind : uint8_t {
  kLostDirty,                 // I0: a clean page whose bytes differ from the store
  kWritableNotDirty,          // I1: a writable pte on a page nobody will mark dirty
  kDirtyWithoutMetadata,      // I2: PG_dirty / writable pte without fs metadata
  kWritepageWithoutMetadata,  // I3: writepage entered on a dirty page without metadata
  kLostWrite,                 // data ledger: a store is not where it must be
  kStoreDuringWriteback,      // I7: a pte made writable while PG_writeback is set
  kStoreAfterFailedMkwrite,   // I6: a store can land although ->page_mkwrite failed
  kPteAfterTruncate,          // I5: a pte installed for a page already truncated
  kDeadlock,                  // watchdog: no progress while threads wait on locks
  kLockOrderInversion,        // fs-level lock and page lock taken in both orders
  kCounterDrift,              // I4: an adapter counter differs from the pages it counts
  kSnapcOrder,                // ceph: a page dirtied in a newer snap context than it holds
  kNumKinds
};
const char* RaceKindName(RaceKind k);

// Invariant numbers as in DESIGN §8; kLedger for the data ledger.
// kFs: an adapter's own invariant other than I4 (named in its header).
enum class Invariant : uint8_t { kI0, kI1, kI2, kI3, kI4, kI5, kI6, kI7, kLedger, kWatchdog,
                                 kLockOrder, kFs };
const char* InvariantName(Invariant i);

struct RaceRecord {
  static constexpr int kMaxTrace = Tracer::kRing;
  RaceKind kind;
  Invariant invariant;
  bool data_losing;
  uint64_t page;
  int64_t t_ns;      // since the run's start
  uint32_t tid;      // detecting thread
  uint64_t expected; // ledger: stamp expected; else 0
  uint64_t found;    // ledger: stamp found; else 0
  int trace_len;
  TraceEntry trace[kMaxTrace];
  char detail[512];  // free text (deadlock: who waits for whom); "" if none
};

struct RaceGroup {
  RaceRecord first;   // the first report of this signature
  uint64_t count = 0;
};

class Oracle {
 public:
  static constexpr int kMaxGroups = 256;

  explicit Oracle(const Tracer* tracer);

  // Records a broken invariant on page `page`.  Allocation-free; callable
  // from the SIGSEGV handler.
  void Report(RaceKind kind, Invariant inv, uint64_t page, bool data_losing,
              uint64_t expected = 0, uint64_t found = 0, const char* detail = nullptr);

  uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  uint64_t data_losing_total() const { return losing_.load(std::memory_order_relaxed); }
  uint64_t count(RaceKind k) const {
    return by_kind_[static_cast<int>(k)].load(std::memory_order_relaxed);
  }
  uint64_t count(Invariant i) const {
    return by_invariant_[static_cast<int>(i)].load(std::memory_order_relaxed);
  }
  // Reports whose signature did not fit in the group table (still in total()).
  uint64_t ungrouped() const { return ungrouped_.load(std::memory_order_relaxed); }
  // The groups, in order of first detection.
  std::vector<RaceGroup> Groups() const;
  int64_t t0_ns() const { return tracer_->t0_ns(); }

 private:
  const Tracer* const tracer_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> losing_{0};
  std::atomic<uint64_t> ungrouped_{0};
  std::atomic<uint64_t> by_kind_[static_cast<int>(RaceKind::kNumKinds)] = {};
  std::atomic<uint64_t> by_invariant_[static_cast<int>(Invariant::kFs) + 1] = {};

  mutable FutexMutex mu_;
  // State below is protected by mu_.
  int ngroups_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<RaceGroup[]> groups_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<uint64_t[]> signatures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_ORACLE_H_
