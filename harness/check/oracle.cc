#include "harness/check/oracle.h"

#include "harness/base/clock.h"
#include "harness/base/thread_registry.h"
#include "harness/check/race_signature.h"
#include "harness/check/root_cause.h"

namespace pagerace {

Oracle::Oracle(const Tracer* tracer)
    : tracer_(tracer), groups_(new RaceGroup[kMaxGroups]), signatures_(new uint64_t[kMaxGroups]) {}

void Oracle::Report(RaceKind kind, Invariant inv, uint64_t page, uint64_t expected,
                    uint64_t found, const char* detail) {
  const bool data_losing = RaceKindLosesData(kind);
  total_.fetch_add(1, std::memory_order_relaxed);
  if (data_losing) losing_.fetch_add(1, std::memory_order_relaxed);
  by_kind_[static_cast<int>(kind)].fetch_add(1, std::memory_order_relaxed);
  by_invariant_[static_cast<int>(inv)].fetch_add(1, std::memory_order_relaxed);
  tracer_->NoteReport(page, static_cast<int>(kind), static_cast<int>(inv), data_losing);
  const uint32_t cause = tracer_->causes().CauseFor(page, kind, data_losing);

  TraceEntry trace[RaceRecord::kMaxTrace];
  int n = tracer_->Snapshot(page, trace, RaceRecord::kMaxTrace);
  // One group per signature and cause: every group has one root cause.
  const uint64_t sig =
      RaceSignatureHash(kind, inv, data_losing, trace, n, SignatureVariant(kind, detail)) ^ (static_cast<uint64_t>(cause) * 0x9e3779b97f4a7c15ull);

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
  r.cause = cause;
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
