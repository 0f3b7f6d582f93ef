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

// 5.15 on an ordinary disk (`buffer`: block_page_mkwrite's
// wait_for_stable_page waits only with SB_I_STABLE_WRITES): stores land
// while a page is under writeback, and nothing is lost.  On a device that
// requires stable writes (`buffer:stable_writes`) none does, and I7 holds.
// Seeded jitter, bounded ops; a run with no store during writeback at all
// is retried with the next seed (at most three).
TEST(StablePagesRunTest, BufferStoresDuringWritebackOnlyWithoutStableWrites) {
  uint64_t during = 0;
  for (uint64_t seed = 1; seed <= 3 && during == 0; ++seed) {
    RunResult r = RunOps("modern", "buffer", sched::Policy::kJitter, seed);
    EXPECT_EQ(r.race_reports, 0u) << "seed " << seed;
    EXPECT_EQ(r.data_losing_reports, 0u) << "seed " << seed;
    during += r.stat(Stat::kWritableDuringWriteback);
  }
  EXPECT_GT(during, 0u) << "5.15 lets a store land during writeback on an ordinary disk";
  for (uint64_t seed : {1, 2}) {
    RunResult r = RunOps("modern", "buffer:stable_writes", sched::Policy::kJitter, seed);
    EXPECT_EQ(r.race_reports, 0u) << "seed " << seed << ": I7 must hold";
    EXPECT_EQ(r.stat(Stat::kWritableDuringWriteback), 0u);
    EXPECT_GT(r.stat(Stat::kFaults), 0u);
  }
}

}  // namespace
}  // namespace pagerace
