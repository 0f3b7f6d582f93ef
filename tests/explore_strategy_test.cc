// The explorer's strategies besides depth-first search (issue 11): random
// walks and strict PCT, and dfs split into shards whose results add up to
// one run's.
//
// On the built-in `seed` scenario under legacy/nfs the data-losing race
// (DESIGN §2) takes one preemption: mmap0's fault returns from
// ->page_mkwrite, writeback cleans and writes the page, then the fault makes
// the pte writable over a clean page and the second store is never written.
//   A. random and pct, with fixed seeds, find it within a bounded number of
//      schedules; the same seed runs the same schedules; the schedule each
//      records replays it;
//   B. pct's parameters: priorities a permutation of d..d+n-1, d-1 distinct
//      change points in 1..k, the stated bound 1/(n k^(d-1));
//   C. shards 1..3 of 3 merge to the unsharded run's totals (schedules per
//      bound, completeness, each violation's fewest preemptions, schedule
//      and count), through the result JSON as `--merge` reads it.
// Deterministic throughout: the serial scheduler runs one thread at a time,
// and every random draw comes from the seed.
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "harness/check/root_cause.h"
#include "harness/core/explore.h"
#include "tests/explore_test_util.h"
#include "harness/core/scenario.h"
#include "harness/run/result_json.h"
#include "harness/sched/choosers.h"

namespace pagerace {
namespace {

const ExploreViolation* DataLosing(const ExploreResult& r) {
  for (const ExploreViolation& v : r.violations) {
    if (v.data_losing) return &v;
  }
  return nullptr;
}

ExploreResult Sample(ExploreStrategy strategy, uint64_t seed, uint64_t schedules) {
  ExploreOptions o;
  o.strategy = strategy;
  o.seed = seed;
  o.max_schedules = schedules;
  auto r = Explore(Base("legacy", "nfs"), LoadScenario("seed").value(), o, nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : ExploreResult{};
}

// What must be the same for two runs of one seed.
std::vector<std::tuple<int, std::string, uint64_t>> Fingerprint(const ExploreResult& r) {
  std::vector<std::tuple<int, std::string, uint64_t>> out;
  for (const ExploreBound& b : r.bounds) out.emplace_back(b.preemptions, "", b.schedules);
  for (const ExploreViolation& v : r.violations) {
    out.emplace_back(v.preemptions, v.schedule, v.schedules);
  }
  out.emplace_back(-1, "", r.violating_schedules);
  return out;
}

// The schedule replays the data-losing report.
void ExpectReplays(const ExploreViolation& v) {
  auto run = RunSchedule(Base("legacy", "nfs"), LoadScenario("seed").value(),
                         sched::ParseSchedule(v.schedule).value());
  ASSERT_TRUE(run.ok()) << run.status();
  EXPECT_EQ(run->schedule(), v.schedule);
  EXPECT_EQ(run->infeasible_at, -1);
  bool seen = false;
  for (const RaceGroup& g : run->races) seen |= g.first.data_losing && g.first.kind == v.kind;
  EXPECT_TRUE(seen) << v.schedule;
}

// A: random walks.
TEST(ExploreRandomTest, FindsSeedRaceAndReplays) {
  for (uint64_t seed : {1, 2, 3}) {
    const ExploreResult r = Sample(ExploreStrategy::kRandom, seed, 200);
    EXPECT_FALSE(r.complete) << "random is never complete";
    EXPECT_EQ(r.schedules, 200u);
    const ExploreViolation* v = DataLosing(r);
    ASSERT_NE(v, nullptr) << "seed " << seed << ": no data loss in 200 random walks";
    EXPECT_GE(v->preemptions, 1);
    EXPECT_TRUE(v->deterministic);
    EXPECT_GT(r.violating_schedules, 0u);
    EXPECT_LE(v->schedules, r.violating_schedules);
    ExpectReplays(*v);
  }
}

TEST(ExploreRandomTest, SameSeedSameSchedules) {
  const ExploreResult a = Sample(ExploreStrategy::kRandom, 7, 60);
  const ExploreResult b = Sample(ExploreStrategy::kRandom, 7, 60);
  const ExploreResult c = Sample(ExploreStrategy::kRandom, 8, 60);
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
  EXPECT_NE(Fingerprint(a), Fingerprint(c)) << "another seed, the same 60 walks";
}

TEST(RandomChooserTest, PicksOnlyRunnableAndEveryOne) {
  sched::RandomChooser a(5), b(5);
  std::set<int> seen;
  for (size_t i = 0; i < 200; ++i) {
    const uint32_t runnable = 0b10110;
    const int p = a.Pick(i, runnable, 1, true);
    EXPECT_TRUE(runnable & (1u << p)) << p;
    EXPECT_EQ(b.Pick(i, runnable, 1, true), p);
    seen.insert(p);
  }
  EXPECT_EQ(seen, (std::set<int>{1, 2, 4}));
}

// A: pct.
TEST(ExplorePctTest, FindsSeedRaceAndStatesItsBound) {
  for (uint64_t seed : {1, 2, 3}) {
    const ExploreResult r = Sample(ExploreStrategy::kPct, seed, 200);
    EXPECT_FALSE(r.complete);
    EXPECT_EQ(r.schedules, 200u);
    EXPECT_EQ(r.executions, 200u + 1 + kPctCalibrationWalks) << "calibration runs are runs";
    EXPECT_EQ(r.pct.n, 3) << "mmap0, writeback, io";
    EXPECT_EQ(r.pct.d, 3);
    EXPECT_GT(r.pct.k, 10u);
    EXPECT_DOUBLE_EQ(r.pct.bound(),
                     1.0 / (3.0 * static_cast<double>(r.pct.k) * static_cast<double>(r.pct.k)));
    const ExploreViolation* v = DataLosing(r);
    ASSERT_NE(v, nullptr) << "seed " << seed << ": no data loss in 200 PCT runs";
    // The guarantee, checked loosely: the race is hit at least as often as
    // the bound promises for depth 3 (it needs fewer orderings than that).
    EXPECT_GE(r.observed_rate(), r.pct.bound());
    ExpectReplays(*v);
  }
  const ExploreResult a = Sample(ExploreStrategy::kPct, 4, 40);
  const ExploreResult b = Sample(ExploreStrategy::kPct, 4, 40);
  EXPECT_EQ(a.pct.k, b.pct.k);
  EXPECT_EQ(Fingerprint(a), Fingerprint(b));
}

// B.
TEST(PctChooserTest, PrioritiesAndChangePoints) {
  EXPECT_DOUBLE_EQ((sched::PctParams{4, 50, 3}.bound()), 1.0 / (4.0 * 50 * 50));
  EXPECT_DOUBLE_EQ((sched::PctParams{3, 7, 1}.bound()), 1.0 / 3.0);
  Rng rng(11);
  for (int i = 0; i < 100; ++i) {
    sched::PctChooser c({5, 40, 4}, &rng);
    std::set<int> prio, points;
    for (int t = 0; t < 5; ++t) prio.insert(c.priority(t));
    EXPECT_EQ(prio, (std::set<int>{4, 5, 6, 7, 8}));
    ASSERT_EQ(c.changes(), 3);
    for (int j = 0; j < 3; ++j) {
      EXPECT_GE(c.change_point(j), 1u);
      EXPECT_LE(c.change_point(j), 40u);
      points.insert(static_cast<int>(c.change_point(j)));
    }
    EXPECT_EQ(points.size(), 3u) << "change points are distinct";
  }
  // Fewer steps than change points: every step is one.
  sched::PctChooser few({2, 2, 5}, &rng);
  EXPECT_EQ(few.changes(), 2);
}

TEST(PctChooserTest, HighestPriorityRunsAndDropsAtChangePoint) {
  Rng rng(3);
  sched::PctChooser c({3, 10, 2}, &rng);  // one change point
  int top = 0;
  for (int t = 1; t < 3; ++t) {
    if (c.priority(t) > c.priority(top)) top = t;
  }
  const uint64_t k1 = c.change_point(0);
  for (size_t step = 0; step < k1; ++step) {
    EXPECT_EQ(c.Pick(step, 0b111, top, true), top) << "step " << step;
  }
  // After step k1, taken by `top`, it drops to priority 1: below the others.
  const int next = c.Pick(k1, 0b111, top, true);
  EXPECT_NE(next, top);
  EXPECT_EQ(c.priority(top), 1);
  // When it is the only one left besides a blocked thread, it still runs.
  EXPECT_EQ(c.Pick(k1 + 1, 1u << top, next, false), top);
}

// C.
std::vector<std::tuple<std::string, int, std::string, uint64_t>> Violations(const ExploreResult& r) {
  std::vector<std::tuple<std::string, int, std::string, uint64_t>> out;
  for (const ExploreViolation& v : r.violations) {
    out.emplace_back(std::string(RaceKindName(v.kind)) + "/" + InvariantName(v.invariant) +
                         (v.data_losing ? "/losing" : ""),
                     v.preemptions, v.schedule, v.schedules);
  }
  return out;
}

// The root causes as a merge must keep them: id, evidence schedule and its
// preemptions, schedules counted, symptoms, and the story told.
std::vector<std::tuple<std::string, int, std::string, uint64_t, uint64_t, size_t>> Causes(
    const ExploreResult& r) {
  std::vector<std::tuple<std::string, int, std::string, uint64_t, uint64_t, size_t>> out;
  for (const ExploreCause& c : r.causes) {
    out.emplace_back(RootCause::Unpack(c.cause).Id() + (c.data_losing ? "/losing" : ""),
                     c.preemptions, c.schedule, c.schedules, c.symptoms, c.story.size());
  }
  return out;
}

std::vector<uint64_t> PerBound(const ExploreResult& r) {
  std::vector<uint64_t> out;
  for (const ExploreBound& b : r.bounds) out.push_back(b.schedules);
  return out;
}

// Plain DFS: the shards add up to the unsharded run exactly.
TEST(ExploreShardTest, ThreeShardsMergeToOneRun) {
  const RunConfig base = Base("legacy", "nfs");
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.por = ExplorePor::kNone;
  o.max_preemptions = kSearchBound;
  auto whole = Explore(base, s, o, nullptr);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_TRUE(whole->complete);
  ASSERT_NE(DataLosing(*whole), nullptr);

  std::vector<ExploreResult> shards;
  for (int i = 1; i <= 3; ++i) {
    o.shard_index = i;
    o.shard_count = 3;
    auto r = Explore(base, s, o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->complete);
    EXPECT_GT(r->schedules, 0u) << "shard " << i << " got nothing";
    EXPECT_LT(r->schedules, whole->schedules) << "shard " << i << " ran everything";
    EXPECT_LT(r->executions, whole->executions) << "shard " << i;
    // As `pagerace explore --merge` reads it: through the result JSON.
    auto back = ExploreFromJson(ExploreToJson(*r));
    ASSERT_TRUE(back.ok()) << back.status();
    shards.push_back(*back);
  }
  auto merged = MergeShards(shards);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(merged->complete);
  EXPECT_EQ(merged->merged_shards, (std::vector<int>{1, 2, 3}));
  EXPECT_EQ(PerBound(*merged), PerBound(*whole));
  EXPECT_EQ(merged->schedules, whole->schedules);
  EXPECT_EQ(Violations(*merged), Violations(*whole));
  ASSERT_FALSE(whole->causes.empty());
  EXPECT_EQ(Causes(*merged), Causes(*whole));

  // Shards in another order merge the same.
  auto reversed = MergeShards({shards[2], shards[0], shards[1]});
  ASSERT_TRUE(reversed.ok());
  EXPECT_EQ(Violations(*reversed), Violations(*whole));
  EXPECT_EQ(Causes(*reversed), Causes(*whole));
  // A missing shard: incomplete, and fewer schedules.
  auto two = MergeShards({shards[0], shards[2]});
  ASSERT_TRUE(two.ok());
  EXPECT_FALSE(two->complete);
  EXPECT_LT(two->schedules, whole->schedules);
  // A shard twice, or one of another exploration: refused.
  EXPECT_FALSE(MergeShards({shards[0], shards[0], shards[1]}).ok());
  ExploreResult other = shards[1];
  other.options.max_preemptions = kSearchBound + 1;  // another bound
  EXPECT_FALSE(MergeShards({shards[0], other, shards[2]}).ok());
}

// DPOR: the shards branch fully above the split and reduce below it; merged,
// they give the unsharded search's verdicts (violations and causes at the
// same fewest preemptions), each shard running less than the whole.
TEST(ExploreShardTest, DporShardsMergeToTheSameVerdicts) {
  const RunConfig base = Base("legacy", "nfs");
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.por = ExplorePor::kDpor;
  o.max_preemptions = kSearchBound;
  auto whole = Explore(base, s, o, nullptr);
  ASSERT_TRUE(whole.ok()) << whole.status();
  ASSERT_NE(DataLosing(*whole), nullptr);
  std::vector<ExploreResult> shards;
  for (int i = 1; i <= 3; ++i) {
    o.shard_index = i;
    o.shard_count = 3;
    auto r = Explore(base, s, o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->complete);
    auto back = ExploreFromJson(ExploreToJson(*r));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->options.por, ExplorePor::kDpor);
    shards.push_back(*back);
  }
  auto merged = MergeShards(shards);
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_TRUE(merged->complete);
  auto verdicts = [](const ExploreResult& r) {
    std::set<std::tuple<std::string, int>> out;
    for (const ExploreViolation& v : r.violations) {
      out.emplace(std::string(RaceKindName(v.kind)) + "/" + InvariantName(v.invariant) +
                      (v.data_losing ? "/losing" : ""),
                  v.preemptions);
    }
    for (const ExploreCause& c : r.causes) out.emplace(RootCause::Unpack(c.cause).Id(), c.preemptions);
    return out;
  };
  EXPECT_EQ(verdicts(*merged), verdicts(*whole));
  // A dpor shard does not merge with a plain one.
  ExploreResult plain = shards[1];
  plain.options.por = ExplorePor::kNone;
  EXPECT_FALSE(MergeShards({shards[0], plain, shards[2]}).ok());
}

TEST(ExploreShardTest, OneShardIsTheWholeRun) {
  const RunConfig base = Base("legacy", "nfs");
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.max_preemptions = 1;
  auto whole = Explore(base, s, o, nullptr);
  o.shard_count = 1;
  o.shard_depth = 1;  // the split changes nothing with one shard
  auto one = Explore(base, s, o, nullptr);
  ASSERT_TRUE(whole.ok() && one.ok());
  EXPECT_EQ(PerBound(*one), PerBound(*whole));
  EXPECT_EQ(one->executions, whole->executions);
  EXPECT_EQ(Violations(*one), Violations(*whole));
  o.shard_index = 2;
  EXPECT_FALSE(Explore(base, s, o, nullptr).ok()) << "shard 2 of 1";
}

}  // namespace
}  // namespace pagerace
