// Whole runs with a bounded number of operations: the correct protocol and
// the control adapter must come out clean whatever the interleaving, and the
// result must account for the work done.  (Race *finding* is asserted
// deterministically in regression_test.cc, not here.)
#include "harness/run/runner.h"

#include "gtest/gtest.h"

namespace pagerace {
namespace {

RunResult RunOps(const char* scheme, const char* fs, sched::Policy policy, uint64_t seed) {
  RunConfig c;
  c.scheme = scheme;
  c.fs = fs;
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

}  // namespace
}  // namespace pagerace
