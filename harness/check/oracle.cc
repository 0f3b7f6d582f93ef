#include "harness/check/oracle.h"

#include "harness/base/clock.h"
#include "harness/base/thread_registry.h"

namespace pagerace {

const char* RaceKindName(RaceKind k) {
  switch (k) {
    case RaceKind::kLostDirty: return "lost_dirty";
    case RaceKind::kWritableNotDirty: return "writable_pte_not_dirty";
    case RaceKind::kDirtyWithoutMetadata: return "dirty_without_metadata";
    case RaceKind::kWritepageWithoutMetadata: return "writepage_without_metadata";
    case RaceKind::kLostWrite: return "lost_write";
    case RaceKind::kStoreDuringWriteback: return "store_during_writeback";
    case RaceKind::kStoreAfterFailedMkwrite: return "store_after_failed_mkwrite";
    case RaceKind::kPteAfterTruncate: return "pte_after_truncate";
    case RaceKind::kDeadlock: return "deadlock";
    case RaceKind::kLockOrderInversion: return "lock_order_inversion";
    case RaceKind::kCounterDrift: return "counter_drift";
    case RaceKind::kSnapcOrder: return "dirty_in_newer_snapc";
    case RaceKind::kNumKinds: break;
  }
  return "?";
}

const char* InvariantName(Invariant i) {
  static constexpr const char* kNames[] = {"I0", "I1", "I2", "I3",     "I4",     "I5",
                                           "I6", "I7", "ledger", "watchdog", "lockdep", "fs"};
  return kNames[static_cast<int>(i)];
}

Oracle::Oracle(const Tracer* tracer)
    : tracer_(tracer), groups_(new RaceGroup[kMaxGroups]), signatures_(new uint64_t[kMaxGroups]) {}

void Oracle::Report(RaceKind kind, Invariant inv, uint64_t page, bool data_losing,
                    uint64_t expected, uint64_t found, const char* detail) {
  total_.fetch_add(1, std::memory_order_relaxed);
  if (data_losing) losing_.fetch_add(1, std::memory_order_relaxed);
  by_kind_[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  by_invariant_[static_cast<int>(inv)].fetch_add(1, std::memory_order_relaxed);

  TraceEntry trace[RaceRecord::kMaxTrace];
  int n = tracer_->Snapshot(page, trace, RaceRecord::kMaxTrace);
  // Signature: what broke, and the shape of the last few events on the page
  // (event names only: times, threads and page numbers differ per instance).
  uint64_t sig = 1469598103934665603ULL;
  auto mix = [&sig](uint64_t v) { sig = (sig ^ v) * 1099511628211ULL; };
  mix(static_cast<uint64_t>(kind));
  mix(static_cast<uint64_t>(inv));
  mix(data_losing);
  for (int i = n > 6 ? n - 6 : 0; i < n; ++i) mix(static_cast<uint64_t>(trace[i].event));

  FutexLock l(&mu_);
  for (int g = 0; g < ngroups_; ++g) {
    if (signatures_[g] == sig) {
      ++groups_[g].count;
      return;
    }
  }
  if (ngroups_ == kMaxGroups) {
    ungrouped_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  RaceGroup& g = groups_[ngroups_];
  signatures_[ngroups_] = sig;
  ++ngroups_;
  g.count = 1;
  RaceRecord& r = g.first;
  r.kind = kind;
  r.invariant = inv;
  r.data_losing = data_losing;
  r.page = page;
  r.t_ns = now_ns() - tracer_->t0_ns();
  r.tid = current_thread().tid;
  r.expected = expected;
  r.found = found;
  r.trace_len = n;
  r.detail[0] = 0;
  if (detail) {
    size_t i = 0;
    for (; detail[i] && i + 1 < sizeof(r.detail); ++i) r.detail[i] = detail[i];
    r.detail[i] = 0;
  }
  for (int i = 0; i < n; ++i) r.trace[i] = trace[i];
}

std::vector<RaceGroup> Oracle::Groups() const {
  FutexLock l(&mu_);
  return std::vector<RaceGroup>(groups_.get(), groups_.get() + ngroups_);
}

}  // namespace pagerace
