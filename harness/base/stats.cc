#include "harness/base/stats.h"

#include <bit>

namespace pagerace {

const char* StatName(Stat s) {
  static constexpr const char* kNames[] = {
      "ops", "faults", "faults_wp", "faults_nopage", "fault_retries", "mkwrite_calls",
      "writebacks", "pwrites", "evictions", "readbacks", "refused", "writable_during_writeback",
      "gup_pins", "gup_longterm_refused", "pinned_skipped", "pinned_bounced", "pinned_kept"};
  static_assert(sizeof(kNames) / sizeof(kNames[0]) == static_cast<size_t>(Stat::kNumStats));
  return kNames[static_cast<int>(s)];
}

int LatencyHistogram::Bucket(uint64_t ns) {
  if (ns < kSub) return static_cast<int>(ns);
  int msb = 63 - std::countl_zero(ns);           // >= 3
  int sub = static_cast<int>((ns >> (msb - 3)) & (kSub - 1));
  int b = (msb - 2) * kSub + sub;
  return b < kBuckets ? b : kBuckets - 1;
}

uint64_t LatencyHistogram::UpperBound(int b) {
  if (b < kSub) return static_cast<uint64_t>(b);
  int msb = b / kSub + 2;
  uint64_t sub = static_cast<uint64_t>(b % kSub);
  return ((kSub + sub + 1) << (msb - 3)) - 1;
}

void LatencyHistogram::MergeInto(std::vector<uint64_t>* sums) const {
  sums->resize(kBuckets, 0);
  for (int i = 0; i < kBuckets; ++i) (*sums)[i] += buckets_[i].load(std::memory_order_relaxed);
}

uint64_t LatencyHistogram::Quantile(const std::vector<uint64_t>& sums, double q) {
  uint64_t total = 0;
  for (uint64_t c : sums) total += c;
  if (total == 0) return 0;
  uint64_t rank = static_cast<uint64_t>(q * static_cast<double>(total - 1)) + 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < sums.size(); ++i) {
    seen += sums[i];
    if (seen >= rank) return UpperBound(static_cast<int>(i));
  }
  return UpperBound(kBuckets - 1);
}

}  // namespace pagerace
