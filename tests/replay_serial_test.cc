// Replaying a schedule under another scheme than it was found under (issue
// 11, "distinguishing schedules"): the serial run either follows it to the
// end, with the invariants' verdict, or stops following it at its first pick
// that cannot run and says why (ScheduleRun::infeasible): the picked
// thread's state, and for a lock, which lock, its holder, and the step since
// which it holds it.  Never a deadlock for a forced order.
//
// On the built-in `seed` scenario (explore_test.cc describes it): legacy's
// data-losing schedule (one preemption: writeback runs inside mmap0's
// ->page_mkwrite window) under locked, where mmap0 holds page 0's lock
// across that window, so writeback cannot take it there.
//
// Deterministic: the serial scheduler runs one thread at a time and the
// schedule fixes the picks.
#include <cstdio>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "harness/check/invariants.h"
#include "harness/core/explore.h"
#include "tests/explore_test_util.h"
#include "harness/core/replay.h"
#include "harness/core/scenario.h"
#include "harness/run/result_json.h"
#include "harness/sched/serial.h"

namespace pagerace {
namespace {

// legacy/nfs's data-losing schedule of `seed`, as the explorer finds it.
std::string LegacyLosingSchedule() {
  ExploreOptions o;
  o.max_preemptions = 1;
  o.determinism_runs = 0;
  auto r = Explore(Base("legacy", "nfs"), LoadScenario("seed").value(), o, nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return "";
  for (const ExploreViolation& v : r->violations) {
    if (v.data_losing) return v.schedule;
  }
  ADD_FAILURE() << "legacy/nfs seed: no data-losing schedule";
  return "";
}

bool HasDeadlock(const ScheduleRun& r) {
  for (const RaceGroup& g : r.races) {
    if (g.first.kind == RaceKind::kDeadlock) return true;
  }
  return r.deadlocked;
}

// Past the infeasible pick, every choice is the default one: the schedule
// is not followed any further.
void ExpectDefaultsAfter(const ScheduleRun& r) {
  ASSERT_GE(r.infeasible_at, 0);
  for (size_t i = static_cast<size_t>(r.infeasible_at); i < r.choices.size(); ++i) {
    const sched::SerialChoice& c = r.choices[i];
    EXPECT_EQ(c.pick, sched::DefaultPick(c.runnable, c.current, c.current_can_run))
        << "choice " << i << " after the infeasible one";
  }
}

TEST(ReplaySerialTest, LegacyLosingScheduleIsInfeasibleUnderLocked) {
  const std::string schedule = LegacyLosingSchedule();
  ASSERT_FALSE(schedule.empty());
  const std::vector<int> picks = sched::ParseSchedule(schedule).value();
  const Scenario s = LoadScenario("seed").value();
  auto r = RunSchedule(Base("locked", "nfs"), s, picks);
  ASSERT_TRUE(r.ok()) << r.status();
  // Found out by running it: under locked, writeback's pick inside mmap0's
  // ->page_mkwrite window wants page 0's lock, which mmap0 holds there.
  EXPECT_FALSE(HasDeadlock(*r)) << "a forced order is not a deadlock";
  ASSERT_GE(r->infeasible_at, 0) << schedule << " ran to its end under locked";
  const InfeasiblePick& f = r->infeasible;
  EXPECT_EQ(f.step, r->infeasible_at + 1) << "steps are numbered from 1";
  EXPECT_EQ(f.why, "lock") << f.message;
  EXPECT_EQ(f.thread_name, "writeback");
  EXPECT_EQ(f.lock, "the lock of page 0");
  EXPECT_EQ(f.holder_name, "mmap0");
  EXPECT_EQ(picks[static_cast<size_t>(f.step - 1)], f.thread) << "the schedule's own pick";
  // The picked thread could not run at that choice; the holder took the lock
  // at an earlier one, and was the one picked there.
  const sched::SerialChoice& c = r->choices[static_cast<size_t>(r->infeasible_at)];
  EXPECT_FALSE(c.runnable & (1u << f.thread));
  ASSERT_GE(f.since_step, 1);
  ASSERT_LT(f.since_step, f.step);
  EXPECT_EQ(r->choices[static_cast<size_t>(f.since_step - 1)].pick, f.holder);
  EXPECT_EQ(f.message, "writeback cannot take the lock of page 0, held by mmap0 since step " +
                           std::to_string(f.since_step));
  ExpectDefaultsAfter(*r);

  // The same answer every time.
  auto again = RunSchedule(Base("locked", "nfs"), s, picks);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->infeasible.message, f.message);
  EXPECT_EQ(again->choices, r->choices);
}

TEST(ReplaySerialTest, SameScheduleUnderLegacyLosesData) {
  const std::string schedule = LegacyLosingSchedule();
  ASSERT_FALSE(schedule.empty());
  auto r = RunSchedule(Base("legacy", "nfs"), LoadScenario("seed").value(),
                       sched::ParseSchedule(schedule).value());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->infeasible_at, -1);
  EXPECT_EQ(r->infeasible.step, 0);
  EXPECT_FALSE(r->deadlocked);
  bool i2 = false, lost = false;
  for (const RaceGroup& g : r->races) {
    i2 |= std::string(InvariantName(g.first.invariant)) == "I2" &&
          std::string(g.first.detail) == kI2Writable;
    lost |= g.first.data_losing;
  }
  EXPECT_TRUE(i2) << schedule;
  EXPECT_TRUE(lost) << schedule;
}

// Thread 0 (mmap0) runs to its end under the default picks; a schedule that
// keeps picking it picks a thread that has finished.
TEST(ReplaySerialTest, PickingAFinishedThreadIsInfeasible) {
  const Scenario s = LoadScenario("seed").value();
  auto r = RunSchedule(Base("legacy", "nfs"), s, std::vector<int>(200, 0));
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_GE(r->infeasible_at, 0);
  EXPECT_FALSE(HasDeadlock(*r));
  const InfeasiblePick& f = r->infeasible;
  EXPECT_EQ(f.why, "finished");
  EXPECT_EQ(f.thread, 0);
  EXPECT_EQ(f.thread_name, "mmap0");
  EXPECT_EQ(f.message, "mmap0 (thread 0) has already finished");
  EXPECT_TRUE(f.lock.empty());
  EXPECT_EQ(f.holder, -1);
  ExpectDefaultsAfter(*r);
}

TEST(ReplaySerialTest, PickingNoSuchThreadIsInfeasible) {
  const Scenario s = LoadScenario("seed").value();
  auto r = RunSchedule(Base("legacy", "nfs"), s, {9});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->infeasible_at, 0);
  EXPECT_EQ(r->infeasible.why, "no such thread");
  EXPECT_EQ(r->infeasible.message,
            "the scenario has no thread 9 (it has " + std::to_string(s.threads.size()) + ")");
}

// An explore result's violation carries what its replay needs: the
// scenario's text, the scheme, the fs and the schedule.
TEST(ReplaySerialTest, ExploreResultLoadsForScheduleReplay) {
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.max_preemptions = 1;
  o.determinism_runs = 0;
  auto r = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  const std::string path = ::testing::TempDir() + "/replay_serial_explore.json";
  ASSERT_TRUE(WriteExploreFile(*r, path).ok());
  ASSERT_TRUE(IsExploreResult(path));
  ASSERT_TRUE(IsExploreResult(path + ":0"));
  auto t = LoadScheduleReplay(path);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_TRUE(t->data_losing) << "without an index: the first data-losing violation";
  EXPECT_EQ(t->scheme, "legacy");
  EXPECT_EQ(t->fs, "nfs");
  EXPECT_EQ(t->scenario.name, "seed");
  EXPECT_EQ(t->scenario.threads.size(), s.threads.size());
  const ExploreViolation& v = r->violations[static_cast<size_t>(t->index)];
  EXPECT_EQ(t->schedule, v.schedule);
  EXPECT_EQ(t->kind, v.kind);
  EXPECT_EQ(t->invariant, v.invariant);
  auto bad = LoadScheduleReplay(path + ":99");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("no index 99"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace pagerace
