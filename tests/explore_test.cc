// The serial scheduler and the explorer (issue 11).
//
// Acceptance, on the built-in `seed` scenario (page 0 clean and read-only in
// mapping 0; mmap0 stores to it twice; writeback runs two passes; io
// completes):
//   A. legacy on nfs: no violation with zero preemptions, a data-losing one
//      with exactly one, and its schedule string replays it, every time;
//   B. locked and modern on every adapter: every schedule up to two
//      preemptions runs clean, and the search says it covered them all;
//   C. naive on buffer (`seed_dirty`: page 0 also dirty through mapping 1):
//      a schedule where no thread can run, reported as a
//      deadlock naming who waits for what, held by whom.
// Everything here is deterministic: the serial scheduler runs one thread at
// a time and the schedule fixes the picks.
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "harness/check/root_cause.h"
#include "harness/core/explore.h"
#include "tests/explore_test_util.h"
#include "harness/core/scenario.h"
#include "harness/run/result_json.h"
#include "harness/mm/mm_context.h"
#include "harness/sched/serial.h"

namespace pagerace {
namespace {

TEST(ScheduleStringTest, RunLengthEncodedRoundTrip) {
  const std::vector<int> picks = {0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 2};
  EXPECT_EQ(sched::FormatSchedule(picks), "0*7,1*3,0*2,2");
  EXPECT_EQ(sched::ParseSchedule("0*7,1*3,0*2,2").value(), picks);
  EXPECT_EQ(sched::FormatSchedule({}), "");
  EXPECT_TRUE(sched::ParseSchedule("").value().empty());
  EXPECT_FALSE(sched::ParseSchedule("0*").ok());
  EXPECT_FALSE(sched::ParseSchedule("x").ok());
  EXPECT_FALSE(sched::ParseSchedule("1*0").ok());
  EXPECT_FALSE(sched::ParseSchedule("99").ok());
}

TEST(ScenarioTest, BuiltinsParse) {
  for (const BuiltinScenario& b : BuiltinScenarios()) {
    auto s = LoadScenario(b.name);
    ASSERT_TRUE(s.ok()) << b.name << ": " << s.status();
    EXPECT_EQ(s->threads.back().role.kind, RoleKind::kIo) << "io is added last";
  }
}

TEST(ScenarioTest, TextForm) {
  auto s = ParseScenario(
      "pages 3  # three\nmappings 1\nsetup: store 0; writeback\nwriteback: pass\nmmap0: store 2; "
      "load 1\n",
      "t");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->pages, 3u);
  ASSERT_EQ(s->threads.size(), 3u);
  EXPECT_EQ(s->threads[0].role.kind, RoleKind::kWriteback);
  EXPECT_EQ(s->threads[1].ops.size(), 2u);
  EXPECT_EQ(s->mmap_threads(), 1);
  for (const char* bad : {"mmap0: pass\n", "writeback: store 0\n", "mmap0: store 9\n",
                          "mmap0: store 0 5\n", "bogus: pass\n", "pages 0\n", "mmap0: fly\n",
                          "io: pass\nmmap0: store 0\n", "mmap0: store 0\nmmap0: store 1\n"}) {
    EXPECT_FALSE(ParseScenario(bad, "bad").ok()) << bad;
  }
}

TEST(SerialTest, DefaultScheduleIsClean) {
  const Scenario s = LoadScenario("seed").value();
  auto r = RunSchedule(Base("legacy", "nfs"), s, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->preemptions, 0);
  EXPECT_FALSE(r->deadlocked);
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_GT(r->choices.size(), 0u);
}

// Both fault paths run under the serial scheduler: `seed` faults through
// do_wp_page (a store to a read-only pte), `seed_fault` through __do_fault
// (a store to a page with no pte), inside the SIGSEGV handler.
TEST(SerialTest, ScenariosTakeBothFaultPaths) {
  auto sites = [](const char* name) {
    std::vector<std::string> out;
    auto r = RunSchedule(Base("legacy", "nfs"), LoadScenario(name).value(), {});
    EXPECT_TRUE(r.ok()) << r.status();
    if (r.ok()) {
      for (const sched::SerialChoice& c : r->choices) out.push_back(sched::SerialSiteName(c.site));
    }
    return out;
  };
  auto has_prefix = [](const std::vector<std::string>& v, const std::string& p) {
    for (const std::string& s : v) {
      if (s.rfind(p, 0) == 0) return true;
    }
    return false;
  };
  const auto wp = sites("seed");
  EXPECT_TRUE(has_prefix(wp, "do_wp_page:"));
  EXPECT_FALSE(has_prefix(wp, "__do_fault:"));
  const auto nopage = sites("seed_fault");
  EXPECT_TRUE(has_prefix(nopage, "__do_fault:"));
}

// A: the seed's race, found with exactly one preemption and never with none.
TEST(ExploreTest, LegacyNfsSeedNeedsOnePreemption) {
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.max_preemptions = 1;
  auto r = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->complete);
  ASSERT_EQ(r->bounds.size(), 2u);
  EXPECT_GT(r->bounds[0].schedules, 1u);
  EXPECT_GT(r->bounds[1].schedules, r->bounds[0].schedules);
  const ExploreViolation* losing = nullptr;
  for (const ExploreViolation& v : r->violations) {
    EXPECT_EQ(v.preemptions, 1) << "a violation without preemption:" << Describe(*r);
    EXPECT_TRUE(v.deterministic) << v.schedule;
    if (v.data_losing && !losing) losing = &v;
  }
  ASSERT_NE(losing, nullptr) << Describe(*r);

  // Its schedule string replays it, every time (kReplays of kReplays).
  const std::vector<int> picks = sched::ParseSchedule(losing->schedule).value();
  std::vector<sched::SerialChoice> first;
  for (int i = 0; i < kReplays; ++i) {
    auto run = RunSchedule(Base("legacy", "nfs"), s, picks);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(run->preemptions, 1);
    EXPECT_EQ(run->schedule(), losing->schedule);
    bool seen = false;
    for (const RaceGroup& g : run->races) {
      seen |= g.first.kind == losing->kind && g.first.invariant == losing->invariant &&
              g.first.data_losing;
    }
    EXPECT_TRUE(seen) << "replay " << i << " of " << losing->schedule;
    if (i == 0) first = run->choices;
    EXPECT_EQ(run->choices, first) << "replay " << i << " took other choices";
  }
}

// Root causes (issue 12) in the search: every violating schedule of the
// seed's race is counted under the one cause the model gives it, whose
// evidence (its fewest-preemption schedule that lost data, told) shows the
// window opening, writeback entering it and the fault closing it; the fixed
// scheme's search has none.
TEST(ExploreTest, LegacyNfsSeedHasOneRootCauseWithItsStory) {
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.max_preemptions = 1;
  auto r = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->causes.size(), 1u) << Describe(*r);
  const ExploreCause& c = r->causes[0];
  EXPECT_EQ(RootCause::Unpack(c.cause).Id(), "do_wp_page/mkwrite_to_set_page_dirty/writeback");
  EXPECT_TRUE(c.data_losing);
  EXPECT_TRUE(c.schedule_data_losing);
  EXPECT_EQ(c.preemptions, 1);
  EXPECT_EQ(c.schedules, r->violating_schedules);
  for (const ExploreViolation& v : r->violations) EXPECT_EQ(v.cause, c.cause) << v.schedule;
  EXPECT_TRUE(StoryHasInOrder(c.story, {"[window opens: between ->page_mkwrite and set_page_dirty]",
                                         "writeback: clear_page_dirty_for_io → [enters the window",
                                         "[window closes]", "(data-losing)"}));
  // Written out and read back (--merge reads shards so).
  auto back = ExploreFromJson(ExploreToJson(*r));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->causes.size(), 1u);
  EXPECT_EQ(back->causes[0].cause, c.cause);
  EXPECT_EQ(back->causes[0].story, c.story);
  EXPECT_EQ(back->causes[0].symptoms, c.symptoms);

  auto locked = Explore(Base("locked", "nfs"), s, o, nullptr);
  ASSERT_TRUE(locked.ok()) << locked.status();
  EXPECT_TRUE(locked->causes.empty()) << Describe(*locked);
}

// A, the minimal counterexample: the first data-losing violation shrunk to a
// story of at most 10 numbered steps that names the seed's window and the
// NFS functions, whose schedule replays it every time (kReplays runs).
TEST(ExploreTest, LegacyNfsSeedMinimalStory) {
  const Scenario s = LoadScenario("seed").value();
  ExploreOptions o;
  o.max_preemptions = 1;
  o.minimize = true;
  auto r = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_TRUE(r->has_minimal) << Describe(*r);
  const MinimalCounterexample& m = r->minimal;
  EXPECT_TRUE(m.violation.data_losing);
  EXPECT_EQ(m.violation.preemptions, 1);
  EXPECT_LT(m.ops, m.original_ops) << "the seed scenario has ops the race does not need";
  std::string story;
  int numbered = 0;
  for (const std::string& line : m.story) {
    story += line + "\n";
    numbered += !line.empty() && line[0] >= '1' && line[0] <= '9';
  }
  EXPECT_GE(numbered, 3) << story;
  EXPECT_LE(numbered, 10) << story;
  EXPECT_NE(story.find("inside the seed's window"), std::string::npos) << story;
  EXPECT_NE(story.find("nfs_vm_page_mkwrite"), std::string::npos) << story;
  EXPECT_NE(story.find("clear_page_dirty_for_io"), std::string::npos) << story;
  EXPECT_NE(story.find("I2 dirty_without_metadata"), std::string::npos) << story;
  EXPECT_NE(story.find("I0 lost_dirty (data-losing)"), std::string::npos) << story;

  // The shrunk scenario's text form parses back to it, and its short
  // schedule replays the violation kReplays times out of kReplays, the same
  // each time.
  auto shrunk = ParseScenario(m.scenario.text, "minimal");
  ASSERT_TRUE(shrunk.ok()) << shrunk.status() << "\n" << m.scenario.text;
  const std::vector<int> picks = sched::ParseSchedule(m.schedule).value();
  std::vector<LogEntry> first;
  for (int i = 0; i < kReplays; ++i) {
    auto run = RunSchedule(Base("legacy", "nfs"), *shrunk, picks);
    ASSERT_TRUE(run.ok()) << run.status();
    bool seen = false;
    for (const RaceGroup& g : run->races) {
      seen |= g.first.kind == m.violation.kind && g.first.invariant == m.violation.invariant &&
              g.first.data_losing;
    }
    ASSERT_TRUE(seen) << "replay " << i << " of " << m.schedule;
    if (i == 0) first = run->log;
    ASSERT_TRUE(run->log == first) << "replay " << i << " logged another execution";
  }
}

// The determinism check compares the re-runs' total-order logs: a model that
// reads what no schedule fixes (here a process-wide call count standing in
// for a clock) is reported as nondeterministic, never smoothed over.
TEST(ExploreTest, DeterminismCheckCatchesUncontrolledState) {
  const Scenario s = LoadScenario("seed").value();
  int ops = 0;
  for (const ScenarioThread& t : s.threads) ops += static_cast<int>(t.ops.size());
  ASSERT_GT(ops, 0);
  int calls = 0;  // the scenario's threads run one at a time
  ExploreOptions o;
  o.max_preemptions = 1;
  o.minimize = true;  // and no shrinking may follow
  // Every other run records one event more before its first op: consecutive
  // runs of the same schedule differ.
  o.op_hook = [&calls, ops](MmContext& mm) {
    const int n = calls++;
    if ((n / ops) % 2 == 1 && n % ops == 0) mm.trace(1, Event::kLockPage);
  };
  auto r = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_FALSE(r->violations.empty());
  EXPECT_TRUE(r->nondeterministic);
  EXPECT_FALSE(r->has_minimal) << "no shrinking on runs that do not repeat";
  for (const ExploreViolation& v : r->violations) {
    EXPECT_FALSE(v.deterministic) << v.schedule;
    EXPECT_NE(v.nondeterminism.find("log entry"), std::string::npos) << v.nondeterminism;
  }

  // Without the hook, the same search is deterministic (its re-runs, not its
  // shrinking, are what this checks: no minimization, which was most of the
  // test's time under TSan).
  o.op_hook = nullptr;
  o.minimize = false;
  auto clean = Explore(Base("legacy", "nfs"), s, o, nullptr);
  ASSERT_TRUE(clean.ok()) << clean.status();
  EXPECT_FALSE(clean->nondeterministic);
  for (const ExploreViolation& v : clean->violations) EXPECT_TRUE(v.deterministic) << v.nondeterminism;
}

// B: the seed's fix closes the window on every adapter, in every schedule up
// to two preemptions (kSearchBound: one under TSan).
class ExploreCleanTest
    : public ::testing::TestWithParam<std::tuple<const char*, const char*, const char*>> {};

TEST_P(ExploreCleanTest, NoViolationWithinTheBound) {
  const auto [scheme, fs, scenario] = GetParam();
  const Scenario s = LoadScenario(scenario).value();
  ExploreOptions o;
  o.max_preemptions = kSearchBound;
  auto r = Explore(Base(scheme, fs), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->complete);
  EXPECT_FALSE(r->deadlocked);
  EXPECT_EQ(r->bounds.size(), static_cast<size_t>(kSearchBound + 1));
  EXPECT_GT(r->schedules, 10u);
  EXPECT_TRUE(r->violations.empty()) << Describe(*r);
}

INSTANTIATE_TEST_SUITE_P(
    Seed, ExploreCleanTest,
    ::testing::Values(std::make_tuple("locked", "nfs", "seed"),
                      std::make_tuple("modern", "nfs", "seed"),
                      std::make_tuple("locked", "ceph", "seed"),
                      std::make_tuple("locked", "buffer", "seed"),
                      std::make_tuple("locked", "btrfs", "seed"),
                      std::make_tuple("modern", "ceph", "seed"),
                      std::make_tuple("modern", "buffer", "seed"),
                      std::make_tuple("modern", "btrfs", "seed"),
                      std::make_tuple("locked", "nfs", "seed_fault"),
                      std::make_tuple("locked", "buffer", "seed_dirty")),
    [](const auto& info) {
      return std::string(std::get<0>(info.param)) + "_" + std::get<1>(info.param) + "_" +
             std::get<2>(info.param);
    });

// C: naive holds the page lock across ->page_mkwrite, which takes buffer's
// journal; writeback holds the journal and waits for the page.
TEST(ExploreTest, NaiveBufferDeadlocks) {
  // The page must be PG_dirty when writeback collects it (DESIGN §2's
  // precondition), or writeback never waits for its lock.
  const Scenario s = LoadScenario("seed_dirty").value();
  ExploreOptions o;
  o.max_preemptions = 2;
  auto r = Explore(Base("naive", "buffer"), s, o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->deadlocked);
  EXPECT_FALSE(r->complete);
  const ExploreViolation* dl = nullptr;
  for (const ExploreViolation& v : r->violations) {
    if (v.kind == RaceKind::kDeadlock) dl = &v;
  }
  ASSERT_NE(dl, nullptr) << Describe(*r);
  EXPECT_NE(dl->detail.find("journal"), std::string::npos) << dl->detail;
  EXPECT_NE(dl->detail.find("the lock of page"), std::string::npos) << dl->detail;
  EXPECT_NE(dl->detail.find("held by"), std::string::npos) << dl->detail;
}

}  // namespace
}  // namespace pagerace
