// A stress race turned into an exact counterexample (harness/core/exact.h).
// The races are real: their traces were recorded by jittered stress runs of
// the default comparison's cells (legacy/nfs mixed, locked/buffer isize) and
// are kept here as text, so the derivation is tested deterministically: the
// candidates it builds, the search under the serial scheduler, the
// shrinking, and a schedule that replays the same root cause every time.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "harness/check/root_cause.h"
#include "harness/core/exact.h"
#include "harness/core/explore.h"
#include "harness/sched/serial.h"
#include "tests/explore_test_util.h"

namespace pagerace {
namespace {

#if defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define PAGERACE_EXACT_TEST_SANITIZED 1
#endif
#endif
#ifdef PAGERACE_EXACT_TEST_SANITIZED
constexpr int kReplays = 10;  // a schedule costs 5-10 times more there
#else
constexpr int kReplays = 100;
#endif

// The packed cause whose id is `id` (0 if none).
uint32_t CauseById(const std::string& id) {
  for (int w = 0; w < kNumFaultWindows; ++w) {
    for (int p = 0; p < 16; ++p) {
      for (int i = 0; i <= kNumRoleKinds; ++i) {
        RootCause rc;
        rc.window = static_cast<FaultWindow>(w);
        rc.path = static_cast<FaultPath>(p);
        rc.intruder = i == kNumRoleKinds ? RootCause::kNoIntruder : static_cast<uint8_t>(i);
        rc.symptom = RootCause::kAnySymptom;
        if (rc.Id() == id) return rc.Pack();
      }
    }
  }
  return 0;
}

// "thread:event thread:event ..." as recorded in a result's race trace.
StressRace Race(uint64_t page, const std::string& cause, bool data_losing,
                const std::string& trace) {
  StressRace r;
  r.index = 0;
  r.page = page;
  r.cause = CauseById(cause);
  EXPECT_NE(r.cause, 0u) << cause;
  r.data_losing = data_losing;
  for (absl::string_view item : absl::StrSplit(trace, ' ', absl::SkipEmpty())) {
    std::vector<std::string> parts = absl::StrSplit(item, ':');
    auto role = ParseRole(parts[0]);
    auto event = EventByName(parts[1]);
    EXPECT_TRUE(role.ok() && event.ok()) << item;
    if (role.ok() && event.ok()) r.trace.push_back({*role, *event});
  }
  return r;
}

RunConfig Config(const char* scheme, const char* fs, const char* workload) {
  RunConfig c = Base(scheme, fs);
  c.workload = &Workload(workload);
  c.pages = 64;
  c.mappings = 2;
  return c;
}

// legacy/nfs mixed, seed 3: mmap1's write-protect fault on page 8 opens the
// seed's window; the store it let through is lost.
const char* kDoWpPageTrace =
    "io:end_page_writeback mmap0:fault_read mmap0:pte_install_readonly mmap0:fault_write_wp "
    "mmap0:page_mkwrite_enter mmap0:set_page_dirty mmap0:page_mkwrite_return_locked "
    "mmap0:window_open mmap0:pte_mkwrite mmap0:wait_on_page_locked mmap0:set_page_dirty "
    "mmap0:window_close writeback:clear_page_dirty_for_io writeback:pte_wrprotect "
    "writeback:page_mkclean writeback:set_page_dirty writeback:writepage "
    "writeback:set_page_writeback io:commit_pending io:end_page_writeback "
    "writeback:fs_metadata_retire mmap1:fault_write_wp mmap1:page_mkwrite_enter "
    "mmap1:fs_metadata_attach mmap1:set_page_dirty mmap1:page_mkwrite_return_locked "
    "mmap1:window_open mmap1:pte_mkwrite mmap1:wait_on_page_locked mmap1:set_page_dirty "
    "mmap1:window_close mmap1:lost_write_observed";

// legacy/nfs mixed, seed 1: reclaim zapped page 21's ptes; mmap1's store
// faults on a not-present pte (__do_fault) and writeback enters its window.
const char* kDoFaultTrace =
    "mmap0:set_page_dirty mmap0:page_mkwrite_return_locked mmap0:window_open mmap0:pte_mkwrite "
    "mmap0:wait_on_page_locked mmap0:set_page_dirty mmap0:window_close mmap1:fault_write_wp "
    "mmap1:page_mkwrite_enter mmap1:set_page_dirty mmap1:page_mkwrite_return_locked "
    "mmap1:window_open mmap1:pte_mkwrite mmap1:wait_on_page_locked reclaim:pte_clear "
    "reclaim:pte_clear reclaim:try_to_unmap_pte_dirty reclaim:set_page_dirty "
    "mmap1:set_page_dirty mmap1:window_close mmap1:fault_write_nopage mmap1:page_mkwrite_enter "
    "mmap1:set_page_dirty mmap1:page_mkwrite_return_locked mmap1:window_open "
    "writeback:clear_page_dirty_for_io writeback:window_entered writeback:writepage "
    "writeback:set_page_writeback mmap1:pte_mkwrite mmap1:set_page_dirty mmap1:window_close";

// locked/buffer isize, seed 1: the truncate thread grows the file past the
// EOF page 63 while mmap1's pte on it is writable.
const char* kGrowthTrace =
    "writeback:page_mkclean writeback:set_page_dirty writeback:writepage "
    "writeback:set_page_writeback io:end_page_writeback mmap1:fault_write_wp "
    "mmap1:page_mkwrite_enter mmap1:set_page_dirty mmap1:page_mkwrite_return_locked "
    "mmap1:pte_mkwrite mmap1:set_page_dirty mmap1:fault_write_wp mmap1:page_mkwrite_enter "
    "mmap1:set_page_dirty mmap1:page_mkwrite_return_locked mmap1:pte_mkwrite mmap1:set_page_dirty "
    "writeback:clear_page_dirty_for_io writeback:pte_wrprotect writeback:pte_wrprotect "
    "writeback:page_mkclean writeback:set_page_dirty writeback:writepage "
    "writeback:set_page_writeback mmap1:fault_write_wp mmap1:page_mkwrite_enter "
    "mmap1:set_page_dirty mmap1:page_mkwrite_return_locked mmap1:pte_mkwrite "
    "mmap1:set_page_dirty io:end_page_writeback truncate:window_transition";

// The counterexample replays its cause every time, identically.
void ExpectReplays(const RunConfig& config, const ExactCounterexample& x) {
  auto picks = sched::ParseSchedule(x.schedule);
  ASSERT_TRUE(picks.ok()) << x.schedule;
  auto first = RunSchedule(config, x.scenario, *picks);
  ASSERT_TRUE(first.ok()) << first.status();
  int reproduced = 0;
  for (int i = 0; i < kReplays; ++i) {
    auto run = RunSchedule(config, x.scenario, *picks);
    ASSERT_TRUE(run.ok()) << run.status();
    EXPECT_EQ(FirstDifference(*first, *run), "");
    for (const RaceGroup& g : run->races) {
      if (g.first.cause == x.cause && (!x.data_losing || g.first.data_losing)) {
        ++reproduced;
        break;
      }
    }
  }
  EXPECT_EQ(reproduced, kReplays) << x.scenario.text << " schedule " << x.schedule;
}

void ExpectStory(const ExactCounterexample& x) {
  ASSERT_FALSE(x.story.empty());
  const std::string story = absl::StrJoin(x.story, "\n");
  EXPECT_TRUE(absl::StrContains(story, "1. ")) << story;
  EXPECT_TRUE(absl::StrContains(story, "⇒")) << story;
}

TEST(ExactTest, TheSeedsWindowOfAStressRaceBecomesASchedule) {
  const RunConfig config = Config("legacy", "nfs", "mixed");
  const StressRace race =
      Race(8, "do_wp_page/mkwrite_to_set_page_dirty/writeback", true, kDoWpPageTrace);
  const ExactCounterexample x = DeriveExact(config, race, ExactOptions{});
  ASSERT_TRUE(x.found) << x.why_not;
  EXPECT_EQ(x.cause, race.cause);
  EXPECT_TRUE(x.data_losing);
  EXPECT_EQ(x.preemptions, 1);
  // Shrunk to the window's two sides: one store, one writeback pass.
  EXPECT_TRUE(absl::StrContains(x.scenario.text, "mmap0: store 0 0")) << x.scenario.text;
  EXPECT_TRUE(absl::StrContains(x.scenario.text, "writeback: pass")) << x.scenario.text;
  EXPECT_TRUE(absl::StrContains(x.anchor, "mmap1's fault_write_wp")) << x.anchor;
  ExpectStory(x);
  ExpectReplays(config, x);
}

TEST(ExactTest, ANotPresentWriteFaultStaysOne) {
  const RunConfig config = Config("legacy", "nfs", "mixed");
  const StressRace race =
      Race(21, "__do_fault/mkwrite_to_set_page_dirty/writeback", false, kDoFaultTrace);
  // The first candidate is the window's holder (its write fault on a
  // not-present pte: a `write`, no read-back load) and the intruder.
  const auto candidates = RaceScenarios(config, race);
  ASSERT_FALSE(candidates.empty());
  EXPECT_TRUE(absl::StrContains(candidates[0].first.text, "mmap0: write 0 0"))
      << candidates[0].first.text;
  EXPECT_TRUE(absl::StrContains(candidates[0].first.text, "writeback: pass"))
      << candidates[0].first.text;
  EXPECT_FALSE(absl::StrContains(candidates[0].first.text, "reclaim")) << candidates[0].first.text;
  const ExactCounterexample x = DeriveExact(config, race, ExactOptions{});
  ASSERT_TRUE(x.found) << x.why_not;
  EXPECT_EQ(RootCause::Unpack(x.cause).Id(), "__do_fault/mkwrite_to_set_page_dirty/writeback");
  EXPECT_TRUE(absl::StrContains(x.scenario.text, "write 0 0")) << x.scenario.text;
  ExpectStory(x);
  ExpectReplays(config, x);
}

TEST(ExactTest, GrowthPastAWritableEofPageKeepsTheEof) {
  const RunConfig config = Config("locked", "buffer", "isize");
  const StressRace race = Race(63, "vmtruncate/growth_past_writable_eof_page/transition", true,
                               kGrowthTrace);
  const ExactCounterexample x = DeriveExact(config, race, ExactOptions{});
  ASSERT_TRUE(x.found) << x.why_not;
  EXPECT_TRUE(x.data_losing);
  // The race's page is the file's last: EOF inside it, then growth.
  EXPECT_TRUE(absl::StrContains(x.scenario.text, "truncate 1 1024")) << x.scenario.text;
  EXPECT_TRUE(absl::StrContains(x.scenario.text, "truncate: truncate 2")) << x.scenario.text;
  ExpectStory(x);
  ExpectReplays(config, x);
}

// The derivation invents nothing: the same trace under the seed's fix has
// no schedule showing the window, and the result says what was tried.
TEST(ExactTest, UnderTheFixTheRaceHasNoCounterexample) {
  const RunConfig config = Config("locked", "nfs", "mixed");
  const StressRace race =
      Race(8, "do_wp_page/mkwrite_to_set_page_dirty/writeback", true, kDoWpPageTrace);
  const ExactCounterexample x = DeriveExact(config, race, ExactOptions{});
  EXPECT_FALSE(x.found);
  EXPECT_TRUE(absl::StrContains(x.why_not, "no scenario derived from its trace showed "
                                           "do_wp_page/mkwrite_to_set_page_dirty/writeback"))
      << x.why_not;
  EXPECT_GT(x.candidates, 0);
}

TEST(ExactTest, ATraceWithoutTheWindowsFaultSaysSo) {
  const RunConfig config = Config("legacy", "nfs", "mixed");
  const StressRace race = Race(8, "do_wp_page/mkwrite_to_set_page_dirty/writeback", true,
                               "writeback:clear_page_dirty_for_io writeback:writepage "
                               "io:end_page_writeback");
  const ExactCounterexample x = DeriveExact(config, race, ExactOptions{});
  EXPECT_FALSE(x.found);
  EXPECT_TRUE(absl::StrContains(x.why_not, "holds no fault")) << x.why_not;
}

TEST(ExactTest, CauseStartIndexFindsTheEnteredWindowNotALaterTransition) {
  // An opening entered by writeback, a growth transition after it: the
  // writeback cause starts at the opening, the growth cause at the
  // transition.
  const std::vector<Event> events = {Event::kFaultWriteWp, Event::kWindowOpen,
                                     Event::kWindowTransition, Event::kWindowEntered,
                                     Event::kWritepage};
  EXPECT_EQ(CauseStartIndex(events, CauseById("do_wp_page/mkwrite_to_set_page_dirty/writeback")),
            1);
  EXPECT_EQ(CauseStartIndex(events,
                            CauseById("vmtruncate/growth_past_writable_eof_page/transition")),
            2);
  EXPECT_EQ(CauseStartIndex({Event::kWritepage},
                            CauseById("do_wp_page/mkwrite_to_set_page_dirty/writeback")),
            -1);
}

}  // namespace
}  // namespace pagerace
