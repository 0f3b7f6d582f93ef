// Whole runs with a bounded number of operations: the correct protocol and
// the control adapter must come out clean whatever the interleaving, and the
// result must account for the work done.  (Race *finding* is asserted
// deterministically in regression_test.cc, not here.)
#include "harness/core/stress_driver.h"

#include <ostream>

#include "gtest/gtest.h"
#include "harness/core/replay.h"

namespace pagerace {
namespace {

RunResult RunOps(const char* scheme, const char* fs, sched::Policy policy, uint64_t seed) {
  RunConfig c;
  c.scheme = &Scheme(scheme);
  c.fs = &Adapter(fs);
  c.pages = 16;
  c.ops = 20000;
  c.seed = seed;
  c.sched = policy;
  auto r = RunStress(c, nullptr, {});
  EXPECT_TRUE(r.ok()) << r.status();
  return *r;
}

struct Case {
  const char* scheme;
  const char* fs;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.scheme << "/" << c.fs; }

class CleanRunTest : public ::testing::TestWithParam<Case> {};

TEST_P(CleanRunTest, NoRacesUnderJitterOrOff) {
  for (sched::Policy p : {sched::Policy::kOff, sched::Policy::kJitter}) {
    for (uint64_t seed : {1, 2}) {
      RunResult r = RunOps(GetParam().scheme, GetParam().fs, p, seed);
      EXPECT_EQ(r.race_reports, 0u) << GetParam().scheme << "/" << GetParam().fs << " seed "
                                    << seed << ": " << (r.races.empty() ? "" : RaceKindName(r.races[0].first.kind));
      EXPECT_GT(r.stat(Stat::kFaults), 0u);
      EXPECT_GE(r.stat(Stat::kOps), 19000u);
      EXPECT_GT(r.stat(Stat::kWritebacks), 0u);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Correct, CleanRunTest,
                         ::testing::Values(Case{"locked", "nfs"}, Case{"legacy", "none"},
                                           Case{"locked", "none"}),
                         [](const auto& info) {
                           return std::string(info.param.scheme) + "_" + info.param.fs;
                         });

// An ordered dependency whose first point never comes (no truncator runs
// under `mixed`): every fault waits at do_wp_page:after_mkwrite while the
// writeback thread keeps running, so the wait is never dropped as forbidden.
// The run must still end at its duration (sched::Release when the workers
// stop) instead of hanging in the join; without that this test never returns.
TEST(OrderedRunTest, AnUnmetDependencyDoesNotHangTheRunsEnd) {
  RunConfig c;
  c.scheme = &Scheme("locked");
  c.fs = &Adapter("nfs");
  c.pages = 16;
  c.duration = absl::Milliseconds(300);
  c.sched = sched::Policy::kOrdered;
  c.deps = sched::ParseOrderedDeps("truncate:begin<do_wp_page:after_mkwrite").value();
  auto r = RunStress(c, nullptr, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->deadlocked);
  EXPECT_EQ(r->race_reports, 0u);
}

// The order derived from a race in legacy's __do_fault window must end the
// window where the fault relocks the page: waiting later (before the ptl)
// would hold the page lock that the writeback forced into the window needs,
// and the replay would stall instead of reproducing the race.
TEST(DeriveOrderTest, DoFaultWindowEndsBeforeTheRelock) {
  nlohmann::json race = {{"trace", nlohmann::json::array()}};
  for (auto [thread, event] : std::initializer_list<std::pair<const char*, const char*>>{
           {"mmap0", "fault_write_nopage"},
           {"mmap0", "page_mkwrite_enter"},
           {"mmap0", "page_mkwrite_return_locked"},
           {"writeback", "clear_page_dirty_for_io"},
           {"writeback", "writepage"},
           {"writeback", "fs_metadata_retire"},
           {"mmap0", "pte_mkwrite"}}) {
    race["trace"].push_back({{"thread", thread}, {"event", event}});
  }
  auto order = DeriveOrder(race);
  ASSERT_TRUE(order.ok()) << order.status();
  EXPECT_EQ(*order,
            "__do_fault:after_mkwrite<write_cache_pages:begin,"
            "commit:end<__do_fault:before_relock_page");
}

}  // namespace
}  // namespace pagerace
