// Race reports (DESIGN §8).
//
// An oracle that sees a broken invariant calls Oracle::Report() from wherever
// it is — the fault path inside the SIGSEGV handler included — so reporting
// is allocation-free: the page's trace is copied into a fixed table of report
// groups.  Reports with the same signature (race_signature.h: kind,
// invariant, data_losing and the page's recent event sequence) are counted,
// not repeated.
//
// Thread-safety: safe for concurrent access.
#ifndef PAGERACE_HARNESS_CHECK_ORACLE_H_
#define PAGERACE_HARNESS_CHECK_ORACLE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/check/race_kind.h"
#include "harness/check/trace.h"

namespace pagerace {

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
  uint32_t cause;     // packed RootCause (root_cause.h)
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

  // Records a broken invariant on page `page`.  Whether it is data-losing
  // follows from its kind (RaceKindLosesData: lost data or a modeled BUG).
  // Allocation-free; callable from the SIGSEGV handler.
  void Report(RaceKind kind, Invariant inv, uint64_t page, uint64_t expected = 0,
              uint64_t found = 0, const char* detail = nullptr);

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
  // Every report's root cause, counted (root_cause.h).
  const CauseTracker& causes() const { return tracer_->causes(); }

 private:
  const Tracer* const tracer_;
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> losing_{0};
  std::atomic<uint64_t> ungrouped_{0};
  std::atomic<uint64_t> by_kind_[kNumRaceKinds] = {};
  std::atomic<uint64_t> by_invariant_[kNumInvariants] = {};

  mutable FutexMutex mu_{LockClass::kOracle, "oracle table"};
  // State below is protected by mu_.
  int ngroups_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<RaceGroup[]> groups_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<uint64_t[]> signatures_ ABSL_GUARDED_BY(mu_);
};

}  // namespace pagerace

#endif  // PAGERACE_HARNESS_CHECK_ORACLE_H_
