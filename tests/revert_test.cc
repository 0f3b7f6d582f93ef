// --revert (issue 20): each fix the model carries is a switch at the place
// the fix changed.  Reverted, the explorer finds the race the fix closed;
// restored, the same search is complete and clean.  Both directions, up to
// the preemptions the reverted race needs (1, or 2 for 79352894b285), on
// the scenario that shows the window; history_test runs every catalog entry
// at 2 (and each era's plain model).
// ZapTest forces the zap's deferred TLB flush (harness/mm/zap.h).
// The refusals (a fix the scheme's release or the fs does not hold) are
// checked in cli_test.sh (usage).
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "harness/core/config.h"
#include "harness/core/explore.h"
#include "harness/core/scenario.h"
#include "harness/mm/fixes.h"
#include "harness/sched/sched.h"
#include "tests/explore_test_util.h"

namespace pagerace {
namespace {

struct RevertCase {
  const char* commit;
  const char* scheme;
  const char* fs;
  const char* scenario;
  const char* invariant;  // what the reverted search must show
  bool data_losing;       // and whether that violation loses the store
  // The bound of both searches: the fewest preemptions the reverted race
  // needs (results/reference/history.md).  history_test proves every
  // catalog entry's restored search clean at 2.
  int bound = 1;
  // A root cause the restored search may show: the era's own race, which
  // the fix does not touch (the catalog entry's `tolerate`).
  const char* tolerate = "";
};

void PrintTo(const RevertCase& c, std::ostream* os) {
  *os << c.commit << " " << c.scheme << "/" << c.fs << "@" << c.scenario;
}

class RevertTest : public ::testing::TestWithParam<RevertCase> {};

ExploreResult Search(const RevertCase& c, bool reverted) {
  RunConfig config = Base(c.scheme, c.fs);
  if (reverted) {
    auto set = ParseReverts(c.commit, *config.scheme, *config.fs);
    EXPECT_TRUE(set.ok()) << set.status();
    if (set.ok()) config.reverts = *set;
  }
  ExploreOptions o;
  o.max_preemptions = c.bound;
  auto r = Explore(config, LoadScenario(c.scenario).value(), o, nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *std::move(r) : ExploreResult{};
}

TEST_P(RevertTest, RevertedFoundRestoredClean) {
  const RevertCase& c = GetParam();
  const ExploreResult reverted = Search(c, true);
  EXPECT_TRUE(reverted.complete);
  bool found = false;
  for (const ExploreViolation& v : reverted.violations) {
    found |= InvariantName(v.invariant) == std::string(c.invariant) && v.data_losing == c.data_losing;
  }
  EXPECT_TRUE(found) << "reverted " << c.commit << ": no " << c.invariant
                     << (c.data_losing ? " data-losing" : "") << " violation:" << Describe(reverted);
  const ExploreResult restored = Search(c, false);
  EXPECT_TRUE(restored.complete);
  for (const ExploreCause& cause : restored.causes) {
    EXPECT_EQ(RootCause::Unpack(cause.cause).Id(), std::string(c.tolerate))
        << "restored " << c.commit << ":" << Describe(restored);
  }
  if (!*c.tolerate) {
    EXPECT_TRUE(restored.violations.empty()) << "restored " << c.commit << ":" << Describe(restored);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Fixes, RevertTest,
    ::testing::Values(
        // v2.6.23: legacy's do_wp_page waits for writeback's page lock before
        // set_page_dirty; without it the fault's dirtying lands between
        // page_mkclean and TestClearPageDirty and is cleared: a writable pte
        // on a clean page.  (fs=none: no ->page_mkwrite, so the seed's own
        // window does not open.)
        RevertCase{"79352894b285", "legacy", "none", "seed", "I1", false, 2},
        // v2.6.21: do_wp_page dropped the page before retaking the ptl; a
        // truncate frees it, a read fault maps its reused frame, pte_same
        // holds and NFS's page is made writable with no write request.
        // (v2.6.29's NFS also fails a store on a page truncated under its
        // ->page_mkwrite with SIGBUS, I9: the era's own race.)
        RevertCase{"c3704ceb4ad0", "legacy", "nfs", "refault", "I0", true, 1,
                   "->page_mkwrite/sigbus_for_truncated_page/transition"},
        // v2.6.20: clear_page_dirty_for_io cleaned PG_dirty before the ptes.
        RevertCase{"7658cc289288", "locked", "nfs", "seed", "I1", false},
        // v2.6.29: fsync's pass had a budget of twice the pages cached at
        // its call; pages faulted in and dirtied meanwhile spend it, and
        // fsync returns with the page that was dirty at its call unwritten.
        RevertCase{"05fe478dd04e", "locked", "none", "fsync", "I8", false},
        RevertCase{"05fe478dd04e", "modern", "nfs", "fsync", "I8", false},
        // v2.6.30, the seed: the pre-seed fault path (v2.6.29's) under the
        // v2.6.30 VM; writeback between ->page_mkwrite and set_page_dirty
        // retires ceph's snap context and the store is lost.
        RevertCase{"b827e496c893", "locked", "ceph", "seed", "I0", true},
        // Both the seed and NFS's own fix, which relies on it: NFS's
        // request retired in the same window.
        RevertCase{"b827e496c893,7fdf52306766", "locked", "nfs", "seed", "I0", true},
        // v2.6.30 NFS: ->page_mkwrite returned unlocked; writeback sends and
        // retires the request before the VM relocks and dirties the page.
        RevertCase{"7fdf52306766", "locked", "nfs", "seed", "I0", true},
        RevertCase{"7fdf52306766", "modern", "nfs", "seed", "I0", true},
        // v2.6.32 btrfs, under 5.15: the page unlocked between btrfs's
        // delalloc and the VM's relock; writeback gets in (a store lands on
        // a page under writeback: I7 on btrfs's stable pages).
        RevertCase{"50a9b214bc6c", "modern", "btrfs", "seed", "I7", false},
        // v3.18: growth without pagecache_isize_extended leaves the old EOF
        // page writable; a store past the old EOF has no block.
        RevertCase{"90a8020278c1", "modern", "buffer", "isize", "I0", true},
        // The same through 5.15 XFS's truncate_setsize (1 KiB blocks): the
        // store lands in a hole, which iomap_writepage_map skips.
        RevertCase{"90a8020278c1", "modern", "xfs:1k", "isize", "I0", true},
        // v3.15: zap_pte_range dropped the ptl before the TLB flush; a store
        // through the stale entry lands after writeback cleaned the page.
        RevertCase{"1cf35d47712d", "modern", "nfs", "zap_flush", "I0", true},
        // v4.9: move_ptes dropped the ptls before flushing the old address's
        // TLB entry; a store through it lands after writeback cleaned the
        // page through the new pte.
        RevertCase{"5d1904204c99", "modern", "none", "mremap", "I0", true},
        // v2.6.30: block_page_mkwrite failed (SIGBUS) a page truncated under
        // it; the fix retries the fault.
        RevertCase{"56a76f8275c3", "locked", "buffer:block_page_mkwrite", "truncate", "I9", false},
        // The same through v2.6.30 XFS's xfs_vm_page_mkwrite, which is
        // block_page_mkwrite with xfs_get_blocks (5.15's iomap_page_mkwrite
        // never runs it: `xfs` and `xfs:1k` refuse the revert).
        RevertCase{"56a76f8275c3", "locked", "xfs:v2.6.30", "truncate", "I9", false},
        // v2.6.18: invalidate_complete_page removed a page only PageDirty
        // kept; a page get_user_pages holds, clean and unmapped, leaves the
        // cache under the pin and the device's data with it.
        RevertCase{"016eb4a0ed06", "modern", "none", "drop", "ledger", true},
        // v5.6: 5.15's btrfs fixup redirties the page it queues; reverted,
        // -EBUSY leaves it clean and the worker gives up on it.  The
        // get_user_pages race itself (I2, I3) is the era's: tolerated.
        RevertCase{"25f3c5021985", "modern", "btrfs", "dio", "I0", true, 1,
                   "get_user_pages/gup_pin_to_set_page_dirty_lock/writeback"},
        // v4.5: ext4_punch_hole took no lock a fault takes; a fault between
        // truncate_pagecache_range and the freeing of the blocks brings the
        // page back on blocks about to go, and its store is written to a
        // freed block.  Both bounds (1: the race; 2: the restored search
        // stays clean) in PunchTest.
        RevertCase{"ea3d7209ca01", "modern", "buffer", "punch", "I0", true, 2}),
    [](const ::testing::TestParamInfo<RevertCase>& info) {
      const std::string commits = info.param.commit;
      std::string name = std::string("fix_") + commits + "_" + info.param.scheme + "_" + info.param.fs;
      for (char& ch : name) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

// One forced run of `scenario` under `schedule` on scheme/fs with `commit`
// reverted or in; the schedule must be feasible.  The story is told into
// `story`.
absl::StatusOr<ScheduleRun> Forced(const char* commit, bool reverted, const char* scheme,
                                   const char* fs, const Scenario& scenario, const char* schedule,
                                   std::vector<std::string>* story) {
  RunConfig c = Base(scheme, fs);
  if (reverted) c.reverts = ParseReverts(commit, *c.scheme, *c.fs).value();
  auto r = RunSchedule(c, scenario, sched::ParseSchedule(schedule).value());
  if (!r.ok()) return r.status();
  if (r->infeasible_at != -1) {
    return absl::InternalError(absl::StrCat("schedule ", schedule, " infeasible at ", r->infeasible_at));
  }
  *story = TellStory(scenario, *r);
  return r;
}

// A fix forced both ways on one scenario: with `commit` reverted, `schedule`
// must report data loss (exactly `data_losing` reports, or at least one when
// it is -1) and tell `reverted_story`; with the fix in, `schedule_in` (the
// same schedule when null: the points differ where the fix removed one) must
// report nothing and tell `in_story`.
struct ForcedPair {
  const char* commit;
  const char* scheme;
  const char* fs;
  const char* scenario;
  const char* schedule;
  const char* schedule_in;
  std::vector<const char*> reverted_story;
  std::vector<const char*> in_story;
  int data_losing = -1;
};

void ExpectLossRevertedNoneIn(const ForcedPair& p) {
  const Scenario s = LoadScenario(p.scenario).value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(absl::StrCat(p.commit, reverted ? " reverted" : " in"));
    std::vector<std::string> story;
    auto r = Forced(p.commit, reverted, p.scheme, p.fs, s,
                    reverted || !p.schedule_in ? p.schedule : p.schedule_in, &story);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(story, p.in_story));
      continue;
    }
    if (p.data_losing < 0) {
      EXPECT_GT(r->data_losing_reports, 0u);
    } else {
      EXPECT_EQ(r->data_losing_reports, static_cast<uint64_t>(p.data_losing));
    }
    EXPECT_TRUE(StoryHasInOrder(story, p.reverted_story));
  }
}

// 05fe478dd04e's window, forced (the fix reverted: v2.6.28's fsync):
//   1. (setup) mmap0 stores to page 2: page 2 is dirty, and the only page
//      in the cache.
//   2. fsync (picked first): do_fsync records page 2 as dirty at the call;
//      filemap_fdatawrite sets nr_to_write = nrpages * 2 = 2; preempted at
//      write_cache_pages:begin.
//   3. mmap0 faults pages 0 and 1 in and dirties them.
//   4. fsync: the pass finds pages 0, 1 and 2 tagged dirty, writes 0 and 1,
//      has spent its budget, and stops before page 2: the root cause's
//      transition (integrity_sync_out_of_budget) on page 2.
//   5. io completes pages 0 and 1; fsync waits, commits and returns: I8 on
//      page 2, whose store, made before fsync, is not on the backing store.
// With the fix in, the same schedule writes page 2 too and nothing is
// reported.  The final sync writes page 2 either way: not data-losing.
TEST(FsyncBudgetTest, NewDirtiersSpendAnIntegritySyncsBudget) {
  const Scenario s = LoadScenario("fsync").value();
  const std::vector<int> picks = sched::ParseSchedule("1,0").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "05fe478dd04e reverted" : "05fe478dd04e in");
    RunConfig c = Base("locked", "none");
    if (reverted) c.reverts = ParseReverts("05fe478dd04e", *c.scheme, *c.fs).value();
    auto r = RunSchedule(c, s, picks);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->infeasible_at, -1);
    uint64_t i8 = 0;
    for (const RaceGroup& g : r->races) {
      if (g.first.kind == RaceKind::kFsyncMissed) {
        i8 += g.count;
        EXPECT_EQ(g.first.page, 2u);
        EXPECT_FALSE(g.first.data_losing);
      }
    }
    EXPECT_EQ(r->data_losing_reports, 0u);
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      continue;
    }
    EXPECT_EQ(i8, 1u);
    EXPECT_TRUE(StoryHasInOrder(
        TellStory(s, *r),
        {"fsync: page 2: fsync(2) called on the dirty page", "preempted at write_cache_pages:begin",
         "mmap0: page 0: read fault", "page 1: read fault", "finishes",
         "fsync: page 0: clear_page_dirty_for_io", "page 1: clear_page_dirty_for_io",
         "page 2: [stopped a data-integrity write_cache_pages at nr_to_write",
         "⇒ I8 fsync_missed_page"}));
  }
}

// c3704ceb4ad0's window, forced (schedule 0*4,2*10,1,0*5 of `refault`,
// legacy/nfs; page 0 clean and read-only in mapping 0 after setup):
//   1. mmap0 write-faults: do_wp_page runs nfs_vm_page_mkwrite (a write
//      request) and is preempted before retaking the ptl.  Reverted, it has
//      already dropped its reference to the page.
//   2. truncate cuts the file to nothing (the pte cleared, the page
//      invalidated and removed from the cache: its last reference goes, the
//      page is freed) and grows it back to one page.
//   3. mmap1 read-faults page 0 through mapping 0: a new page, in the
//      freed page's frame, mapped read-only at the same place.
//   4. mmap0 retakes the ptl: the pte is pte_same (same frame, same
//      protection), so the fault makes it writable and dirties the new page,
//      which has no request (I2); the final sync's ->writepage sends
//      nothing, and the store is lost (I0).
// With the fix in, the fault's reference keeps the old page's frame: the
// read fault maps another frame, pte_same fails, and the fault retries.
TEST(RefaultTest, AFrameFreedAndReusedUnderAWriteFaultIsPteSame) {
  const Scenario s = LoadScenario("refault").value();
  const std::vector<int> picks = sched::ParseSchedule("0*4,2*10,1,0*5").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "c3704ceb4ad0 reverted" : "c3704ceb4ad0 in");
    RunConfig c = Base("legacy", "nfs");
    if (reverted) c.reverts = ParseReverts("c3704ceb4ad0", *c.scheme, *c.fs).value();
    auto r = RunSchedule(c, s, picks);
    ASSERT_TRUE(r.ok()) << r.status();
    const std::vector<std::string> story = TellStory(s, *r);
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(story, {"mmap1: read fault", "mmap0: [window closes]",
                                          "!pte_same: retry the fault"}));
      continue;
    }
    ASSERT_EQ(r->infeasible_at, -1);
    EXPECT_GT(r->data_losing_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(
        story, {"mmap0: write fault on a read-only pte: do_wp_page", "nfs_vm_page_mkwrite",
                "preempted at do_wp_page:before_ptl_relock", "truncate: pte_clear",
                "truncate_inode_page", "mmap1: read fault", "installs a read-only pte",
                "mmap0: [dropped its page reference before retaking the ptl",
                "pte_mkwrite", "⇒ I2 dirty_without_metadata",
                "->writepage sends nothing", "⇒ I0 lost_dirty (data-losing)"}));
  }
}

// 1cf35d47712d's window, forced (zap_flush, modern/nfs; after setup page 0
// is dirty and writable in mapping 0, read-only in mapping 1):
//   1. mmap0 zaps page 0 from mapping 0 (madvise(MADV_DONTNEED)): the pte
//      is cleared and its dirtiness handed to set_page_dirty.  Reverted,
//      the ptl is dropped before the TLB flush, and mmap0 is preempted
//      there (zap_pte_range:before_tlb_flush); with the fix it is
//      preempted at the same point with the ptl still held.
//   2. writeback: clear_page_dirty_for_io's page_mkclean walks to mapping
//      0's pte (the page is still mapped in mapping 1).  Reverted, it takes
//      the free ptl, finds no pte, clears PG_dirty, and ->writepage sends
//      the page's bytes.  With the fix it waits on the ptl.
//   3. mmap1 stores to page 0 through mapping 0: the real protection is
//      still the old writable entry's (the TLB not flushed), so the store
//      lands with no fault.
//   4. mmap0 flushes the TLB.  Reverted, the page is clean with a store
//      writeback never took: the final checks find it lost (I0, and the
//      ledger's lost write).  With the fix, writeback goes on only now,
//      sends the page with the store in it, and nothing is reported.
TEST(ZapTest, AStoreThroughAStaleTlbEntryAfterWritebackIsLost) {
  const Scenario s = LoadScenario("zap_flush").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "1cf35d47712d reverted" : "1cf35d47712d in");
    // With the fix, writeback blocks on the ptl after 4 steps; reverted it
    // runs its whole pass (9).
    std::vector<std::string> story;
    auto r = Forced("1cf35d47712d", reverted, "modern", "nfs", s,
                    reverted ? "0,2*9,1,0" : "0,2*4,1,0", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(
          story, {"mmap0: pte_clear", "set_page_dirty: PG_dirty",
                  "preempted at zap_pte_range:before_tlb_flush",
                  "writeback: clear_page_dirty_for_io — blocks",
                  "mmap1: the store lands through a stale TLB entry", "mmap0: TLB flushed",
                  "writeback: ->writepage"}));
      continue;
    }
    EXPECT_GT(r->data_losing_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(
        story, {"mmap0: pte_clear", "[window opens: between dropping the ptl over a cleared dirty pte",
                "preempted at zap_pte_range:before_tlb_flush",
                "writeback: clear_page_dirty_for_io", "->writepage",
                "mmap1: the store lands through a stale TLB entry", "mmap0: TLB flushed",
                "⇒ I0 lost_dirty (data-losing)"}));
  }
}

// 5d1904204c99 (v4.9), scenario `mremap` on 5.15 (page 0 dirty and
// writable in mapping 0):
//   1. mmap0 mremaps page 0 from mapping 0 to mapping 1 (move_ptes: the
//      mmap_sem held for writing, both ptls taken, mapping 0's pte cleared
//      and the same writable pte set in mapping 1).  Reverted, it drops the
//      ptls with mapping 0's TLB entry unflushed and is preempted at
//      move_ptes:before_tlb_flush; with the fix it flushes under the ptls
//      and finishes.
//   2. writeback: clear_page_dirty_for_io's page_mkclean write-protects
//      mapping 1's pte, PG_dirty is cleared and ->writepage sends the bytes.
//   3. mmap1 stores to page 0 through mapping 0.  Reverted, the real
//      protection is still the old writable entry's: the store lands with
//      no fault, after writeback took the bytes.  With the fix it faults
//      (the pte is gone), maps the page again and dirties it.
//   4. Reverted, mmap0 flushes the TLB; the page is clean with a store no
//      one writes: the final checks find it lost (I0, the ledger).  With the
//      fix the final sync writes it and nothing is reported.
TEST(MremapTest, AStoreThroughTheOldAddressAfterWritebackIsLost) {
  const Scenario s = LoadScenario("mremap").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "5d1904204c99 reverted" : "5d1904204c99 in");
    std::vector<std::string> story;
    auto r = Forced("5d1904204c99", reverted, "modern", "none", s,
                    reverted ? "0,2*7,1,0" : "0,2*7,1", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(
          story, {"mmap0: pte_clear", "move_pte", "TLB flushed", "finishes",
                  "writeback: clear_page_dirty_for_io", "page_mkclean", "->writepage",
                  "mmap1: read fault", "write fault on a read-only pte", "set_page_dirty"}));
      continue;
    }
    EXPECT_GT(r->data_losing_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(
        story, {"mmap0: pte_clear", "move_pte",
                "[window opens: between move_ptes dropping the ptls over a moved dirty pte",
                "preempted at move_ptes:before_tlb_flush", "writeback: clear_page_dirty_for_io",
                "page_mkclean", "->writepage",
                "mmap1: the store lands through a stale TLB entry", "mmap0: TLB flushed",
                "⇒ I0 lost_dirty (data-losing)", "⇒ ledger lost_write (data-losing)"}));
  }
}

// The mmap_sem: mremap takes it for writing, so it waits for a fault that
// holds it for reading.
//   1. mmap1 write-faults on page 0 (read-only in mapping 0) and is
//      preempted inside do_wp_page, holding the mmap_sem for reading;
//   2. mmap0's mremap blocks on the mmap_sem: picking it again while mmap1
//      has not finished is infeasible, and the pick names the lock.
TEST(MremapTest, MremapWaitsForAFaultHoldingTheMmapSem) {
  const Scenario s =
      LoadScenario("text:pages 1|mappings 2|setup: load 0 0|mmap1: store 0 0|mmap0: mremap 0 0 1")
          .value();
  auto r = RunSchedule(Base("legacy", "nfs"), s, sched::ParseSchedule("0,1,1").value());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->infeasible.step, 3);
  EXPECT_EQ(r->infeasible.thread, 1);  // mmap0
  EXPECT_EQ(r->infeasible.why, "lock");
  EXPECT_EQ(r->infeasible.lock, "mmap_sem") << r->infeasible.message;
  EXPECT_EQ(r->race_reports, 0u);
}

// mremap's rmap-order rule and the eras: the new mapping must come after the
// old one (mremap.h), and v2.6.29/30, whose move_ptes flushes each pte as it
// clears it, have no 5d1904204c99 to revert and no window to show.
TEST(MremapTest, TheOldEraFlushesEachPteAndTheOrderIsChecked) {
  auto bad = LoadScenario("text:pages 1|mappings 2|mmap0: mremap 0 1 0|writeback: pass");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(std::string(bad.status().message()).find("must come after"), std::string::npos)
      << bad.status();
  const Scenario s = LoadScenario("mremap").value();
  for (const char* scheme : {"legacy", "locked"}) {
    SCOPED_TRACE(scheme);
    std::vector<std::string> story;
    auto r = Forced("5d1904204c99", false, scheme, "none", s, "0,2*7,1", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->race_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(story, {"mmap0: pte_clear", "move_pte", "TLB flushed", "finishes"}));
  }
}

// The same window with truncate as the intruder: after mmap0's zap has
// dropped the ptl (1cf35d47712d reverted), the truncate thread cuts the file
// to nothing (truncate_inode_page detaches page 0; the zap's reference keeps
// it) and grows it back; mmap1's store lands through the stale entry in the
// detached page, and the file never gets it (the ledger's lost write).  With
// the fix the truncate's unmap waits on the ptl until the flush, and the
// store faults in the file's new page.
TEST(ZapTest, ATruncateDetachesThePageAStaleEntryStillStoresTo) {
  const Scenario s =
      ParseScenario("pages 1\nmappings 1\nworkload truncate\nsetup: store 0 0\n"
                    "mmap0: zap 0 0\nmmap1: store 0 0\ntruncate: truncate 0; truncate 1\n",
                    "zap_truncate")
          .value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "1cf35d47712d reverted" : "1cf35d47712d in");
    RunConfig c = Base("modern", "ceph");
    if (reverted) c.reverts = ParseReverts("1cf35d47712d", *c.scheme, *c.fs).value();
    ExploreOptions o;
    o.max_preemptions = 1;
    auto r = Explore(c, s, o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->complete);
    if (!reverted) {
      EXPECT_TRUE(r->violations.empty()) << Describe(*r);
      continue;
    }
    bool found = false;
    for (const ExploreCause& cause : r->causes) {
      found |= RootCause::Unpack(cause.cause).Id() ==
                   "zap_pte_range/ptl_dropped_before_tlb_flush/truncate" &&
               cause.data_losing;
    }
    EXPECT_TRUE(found) << Describe(*r);
  }
}

// 56a76f8275c3's window, forced (schedule 0*3,1*10,0*9 of `truncate`,
// locked/buffer:block_page_mkwrite; page 1 not cached, i_size 2 pages):
//   1. mmap0 write-faults page 1 (no pte): __do_fault reads it in, unlocks
//      it and calls block_page_mkwrite, preempted before its lock_page.
//   2. truncate cuts the file to one page (page 1 leaves the cache) and
//      grows it back to two.
//   3. mmap0: lock_page; page->mapping is gone.  Reverted, -EINVAL: SIGBUS
//      for a store i_size covers again (I9, the transition
//      sigbus_for_truncated_page; nothing lost).  With the fix,
//      VM_FAULT_NOPAGE: the fault is retried, reads in a new page 1, and the
//      store lands.
TEST(TruncatedMkwriteTest, APageTruncatedUnderMkwriteIsARetryNotASigbus) {
  const Scenario s = LoadScenario("truncate").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "56a76f8275c3 reverted" : "56a76f8275c3 in");
    std::vector<std::string> story;
    auto r = Forced("56a76f8275c3", reverted, "locked", "buffer:block_page_mkwrite", s,
                    "0*3,1*10,0*9", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(
          story, {"preempted at page_mkwrite:before_lock_page", "truncate: truncate_inode_page",
                  "mmap0: returns VM_FAULT_NOPAGE", "write fault on a missing pte",
                  "fs metadata attached"}));
      continue;
    }
    EXPECT_EQ(r->race_reports, 1u);
    EXPECT_EQ(r->data_losing_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(
        story, {"preempted at page_mkwrite:before_lock_page", "truncate: truncate_inode_page",
                "mmap0: fails (SIGBUS)", "[failed the fault (SIGBUS) for a page truncated",
                "⇒ I9 sigbus_inside_i_size"}));
  }
}

// a8e7d49aa7be's window, forced (the fix reverted: v2.6.28's
// __set_page_dirty_buffers) on buffer:ext2 (no ->page_mkwrite), scenario
// `buffers`:
//   1. (setup) page 0 read in without buffers (mpage_readpage), clean and
//      read-only in mapping 0.
//   2. mmap0's store into page 0's third KiB faults: do_wp_page without
//      ->page_mkwrite makes the pte writable and dirty, then set_page_dirty:
//      __set_page_dirty_buffers finds no buffers under private_lock, drops
//      it, and is preempted there, PG_dirty not set.
//   3. mmap1 (another thread, MADV_DONTNEED under mmap_sem read) zaps the
//      pte: it is dirty, so set_page_dirty, which finds no buffers either
//      and is preempted at the same place; the TLB entry is not flushed yet.
//   4. pwrite0 locks page 0: write_begin's create_empty_buffers sees a
//      clean page and attaches four clean buffers; the write dirties
//      buffer 0 and the page.
//   5. mmap0: TestSetPageDirty (dirty already): the page is dirty with
//      buffer 0 alone dirty (the transition dirtied_after_private_lock); the
//      fault returns and the store lands in buffer 2 through the zap's TLB
//      entry.  mmap1 likewise, then flushes.
//   6. the final sync writes buffer 0 only: the store at 2 KiB is not on
//      the backing store: I0, data-losing, under that cause.
// With the fix in, PG_dirty is set under private_lock (no point inside), so
// pwrite0's create_empty_buffers sees a dirty page and makes every buffer
// dirty: nothing is reported (the same intent, forced: mmap0 preempted
// right after its set_page_dirty, mmap1 before its TLB flush).
TEST(CreateEmptyBuffersTest, UnlockedSetPageDirtiesOvertakenByNewCleanBuffersLoseTheStore) {
  // With the fix there is no point inside set_page_dirty: the same intent
  // is mmap0 preempted just after it, mmap1 before its flush.
  ExpectLossRevertedNoneIn(
      {"a8e7d49aa7be", "legacy", "buffer:ext2", "buffers", "0*4,1,2*2,0*2,1*2", "0*4,1,2*2",
       {"mmap0: write fault on a read-only pte: do_wp_page",
        "preempted at __set_page_dirty_buffers:after_private_lock", "mmap1: pte_clear",
        "preempted at __set_page_dirty_buffers:after_private_lock", "pwrite0: write_begin",
        "mmap0: [set PG_dirty after dropping private_lock",
        "mmap1: [set PG_dirty after dropping private_lock", "->writepage",
        "⇒ I0 lost_dirty (data-losing)"},
       {"mmap0: write fault on a read-only pte: do_wp_page", "set_page_dirty: PG_dirty",
        "preempted at fault:after_set_page_dirty", "mmap1: pte_clear",
        "preempted at zap_pte_range:before_tlb_flush", "pwrite0: write_begin", "->writepage"}});
}

// 87df7241bd54's window, forced on v2.6.29's ext3 (`buffer:ext3`, scenario
// `strip`), told as steps:
//   1. (setup) pwrite0 writes page 0 (its one buffer filed with the
//      transaction), mmap0 stores to it (the pte writable and dirty), and
//      the journal commit writes the buffer by hand: clean buffer, PG_dirty
//      and the pte left as they were;
//   2. reclaim strips the page: try_to_free_buffers drops the clean buffer;
//      reverted, it drops private_lock before cancel_dirty_page and is
//      preempted there;
//   3. mmap0 stores again (no fault: the pte is writable) and zaps the page:
//      the dirty pte goes to set_page_dirty, which finds no buffers and
//      PG_dirty still set: nothing to do;
//   4. reverted, reclaim's cancel_dirty_page cleans the page: the store is
//      in no buffer, no pte and no dirty bit, and the final writeback, which
//      visits the page by its dirty tag, writes nothing: I0.  With the fix
//      the cancel came in step 2, under the lock, so step 3's set_page_dirty
//      dirties the page again and writeback writes the store.
TEST(TryToFreeBuffersTest, ACancelOutsidePrivateLockUndoesAZapsSetPageDirty) {
  ExpectLossRevertedNoneIn(
      {"87df7241bd54", "legacy", "buffer:ext3", "strip", "1*2,0*3,1*2", nullptr,
       {"setup: load 0 0; pwrite 0; store 0 0; commit 0", "reclaim: drop_buffers",
        "preempted at try_to_free_buffers:after_private_lock", "mmap0: pte_clear",
        "set_page_dirty", "reclaim: [cancelled PG_dirty after dropping private_lock",
        "⇒ I0 lost_dirty (data-losing)"},
       {"setup: load 0 0; pwrite 0; store 0 0; commit 0", "reclaim: drop_buffers",
        "try_to_release_page", "mmap0: pte_clear", "set_page_dirty", "->writepage"}});
}

// The fs-internal flush alone (ext3's ordered commit, `buffer:ext3`), told
// as steps:
//   1. pwrite0 writes page 0: its buffer dirty and filed with the
//      transaction, the page dirty;
//   2. the commit writes the buffer by hand: the buffer clean, PG_dirty left;
//   3. the final writeback cleans the page: ->writepage finds no dirty
//      buffer and sends nothing, and nothing is lost: the commit's write
//      holds the pwrite (a commit that only cleaned the buffer would lose
//      it: the ledger).  ext2 (no journal) has no commit: its writepage
//      sends the buffer.
TEST(FsFlushTest, TheJournalCommitWritesTheBuffersAndLeavesThePageDirty) {
  const Scenario s =
      LoadScenario("text:pages 1|mappings 1|setup: load 0 0|pwrite0: pwrite 0|writeback: commit 0")
          .value();
  std::vector<std::string> story;
  auto r = Forced("", false, "legacy", "buffer:ext3", s, "0", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(
      story, {"pwrite0: write_begin", "writeback: the journal commit writes the page's data buffers",
              "clear_page_dirty_for_io", "->writepage sends nothing"}));
  r = Forced("", false, "legacy", "buffer:ext2", s, "0", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(story, {"pwrite0: write_begin", "->writepage", "set_page_writeback"}));
}

// c364b22c9580 on 5.15's ext4 (`buffer`, 1 KiB blocks; scenario `grow`),
// told as steps (the commit message's own):
//   1. setup: i_size ends 1 KiB into page 0;
//   2. mmap0 stores into the first KiB: ->page_mkwrite maps that block
//      only (the other three are past EOF), the pte goes writable;
//   3. truncate grows the file to a page: 5.15's pagecache_isize_extended
//      write-protects the pte and hands its dirtiness to set_page_dirty,
//      which dirties every buffer, the three holes included;
//   4. the final writeback: reverted, ext4's writepage meets dirty buffers
//      without blocks inside i_size and BUGs (ext4_normal_writepage's
//      BUG_ON, v2.6.29/30); with the fix, the holes are left for the next
//      store's ->page_mkwrite and the first KiB is written.
TEST(Ext4HoleTest, GrowthOverDirtyHolesIsNoBugWithTheFix) {
  ExpectLossRevertedNoneIn(
      {"c364b22c9580", "modern", "buffer", "grow", "0*7,1*3", nullptr,
       {"mmap0: read fault", "->page_mkwrite (ext4_page_mkwrite)", "pte_mkwrite",
        "truncate: pte_wrprotect", "page_mkclean", "set_page_dirty", "->writepage",
        "[met a dirty buffer without a block inside i_size", "⇒ fs kernel_bug (data-losing)"},
       {"mmap0: read fault", "->page_mkwrite (ext4_page_mkwrite)", "pte_mkwrite",
        "truncate: pte_wrprotect", "page_mkclean", "set_page_dirty", "->writepage"},
       /*data_losing=*/1});
  // v2.6.30's own ext4 BUGs plain, on the same schedule (no revert).
  std::vector<std::string> story;
  auto r = Forced("", false, "locked", "buffer:ext4_v2.6.30", LoadScenario("grow").value(),
                  "0*7,1*3", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(StoryHasInOrder(story, {"->writepage", "⇒ fs kernel_bug (data-losing)"}));
}

// a056bdaae7a1 on 5.15's ext4 with a block a page (`buffer:4k`, scenario
// `tail`), told as steps:
//   1. (setup) i_size ends 1 KiB into page 0; a store there made the pte
//      writable and the page dirty (its one block allocated);
//   2. writeback locks page 0 and, reverted, reads i_size (1 KiB);
//   3. truncate grows the file to a page: no page lock (ext4_setattr, and
//      pagecache_isize_extended has nothing to do for a block a page);
//   4. mmap0 stores at 3 KiB through the still-writable pte: inside i_size;
//   5. writeback: clear_page_dirty_for_io write-protects the pte; reverted,
//      ext4_bio_write_page zeroes the page past the 1 KiB it read and writes
//      it: the store is gone from the page and the disk (the ledger); with
//      the fix, i_size is read now (4 KiB) and the store is written.
TEST(Ext4TailTest, AStoreIntoTheGrownTailDuringWritebackIsKeptWithTheFix) {
  ExpectLossRevertedNoneIn(
      {"a056bdaae7a1", "modern", "buffer:4k", "tail", "2*3,1*3,0,2*4", nullptr,
       {"truncate: i_size grown over the EOF page's tail", "writeback: clear_page_dirty_for_io",
        "pte_wrprotect", "->writepage", "[zeroed the page's tail past the i_size it read",
        "⇒ ledger lost_write (data-losing)"},
       {"truncate: i_size grown over the EOF page's tail", "writeback: clear_page_dirty_for_io",
        "pte_wrprotect", "->writepage"},
       /*data_losing=*/1});
}

// 4af6b2257ee0 on 5.15 with ceph (the `truncate` scenario), told as steps:
//   1. mmap0's write fault on page 1 reads it in and calls
//      ceph_page_mkwrite, which runs without the page lock (preempted at
//      page_mkwrite:before_lock_page);
//   2. truncate cuts the file to one page: page 1 leaves the cache;
//   3. reverted, ceph_write_begin's grab_cache_page_write_begin finds no
//      page at index 1, creates and locks a new one (the WARN_ON), dirties
//      the detached faulting page and returns VM_FAULT_LOCKED for it:
//      5.15's do_page_mkwrite BUGs (VM_BUG_ON_PAGE), and without
//      CONFIG_DEBUG_VM the fault maps the detached page (I5) and the store
//      lands where no write reaches the file (the ledger's lost write);
//   4. with the fix, ceph_page_mkwrite locks the faulting page, finds it
//      truncated and returns VM_FAULT_NOPAGE: the fault is retried on the
//      page the file now has.
TEST(CephWriteBeginTest, ATruncatedFaultPageMakesWriteBeginLockAnotherPage) {
  ExpectLossRevertedNoneIn(
      {"4af6b2257ee0", "modern", "ceph", "truncate", "0*3,1*8,0*6", nullptr,
       {"preempted at page_mkwrite:before_lock_page", "truncate: truncate_inode_page",
        "mmap0: page_cache_alloc", "grab_cache_page_write_begin locked another page",
        "[locked not the faulting page", "⇒ fs kernel_bug (data-losing)",
        "⇒ I5 pte_after_truncate"},
       {"preempted at page_mkwrite:before_lock_page", "truncate: truncate_inode_page",
        "mmap0: returns VM_FAULT_NOPAGE", "write fault on a missing pte",
        "fs metadata attached"}});
}

// 5.15's own race (fixed later, by 5df397dec7c4): the same schedule on
// `zap`, where mapping 0 is the page's only mapping.  5.15 flushes under the
// ptl, but page_remove_rmap has already run: writeback's page_mkclean sees
// an unmapped page (page_mapped()), takes no ptl, and cleans it while the
// stale entry is still live.  Every modeled era loses the store here.
TEST(ZapTest, FiveFifteenCleansAnUnmappedPageBeforeTheFlush) {
  const Scenario s = LoadScenario("zap").value();
  for (const char* scheme : {"legacy", "locked", "modern"}) {
    SCOPED_TRACE(scheme);
    std::vector<std::string> story;
    auto r = Forced("", false, scheme, "nfs", s, "0,2*9,1,0", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GT(r->data_losing_reports, 0u);
    const bool v515 = std::string(scheme) == "modern";
    EXPECT_TRUE(StoryHasInOrder(
        story,
        {"mmap0: pte_clear",
         v515 ? "[window opens: between page_remove_rmap" : "[window opens: between dropping the ptl",
         "writeback: clear_page_dirty_for_io", "->writepage",
         "mmap1: the store lands through a stale TLB entry", "⇒ I0 lost_dirty (data-losing)"}));
  }
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// 016eb4a0ed06's check, forced (scenario `drop` on the control adapter):
//   1. gup0 pins page 0 for a direct read: a write fault maps it writable
//      and dirty, get_user_pages takes it; preempted before the device
//      writes;
//   2. writeback cleans it: page_mkclean write-protects the pte, ->writepage
//      sends the page as it is (without the device's data, still to come);
//   3. io completes the write;
//   4. reclaim unmaps the page (try_to_unmap clears the read-only pte) and
//      keeps it (pinned: is_page_cache_freeable fails), then drops it
//      (invalidate_mapping_pages): clean, not under writeback, unmapped.
//      Reverted, invalidate_complete_page removes it under the pin (the
//      transition removed_referenced_page); with the fix the reference
//      freeze fails and the page stays;
//   5. the device writes into the page and set_page_dirty_lock dirties it:
//      reverted, a detached page no one writes back, and the final sync
//      finds the store gone (the ledger); with the fix, the page in the
//      cache, written by the final sync.
TEST(InvalidateTest, ADropUnderAPinDetachesThePageTheDeviceWritesTo) {
  ExpectLossRevertedNoneIn(
      {"016eb4a0ed06", "modern", "none", "drop", "0*5,1*7,3*5,2", nullptr,
       {"gup0: write fault on a missing pte", "get_user_pages takes the page",
        "preempted at get_user_pages:after_pin", "writeback: clear_page_dirty_for_io",
        "->writepage", "io: end_page_writeback", "reclaim: pte_clear",
        "[removed a clean, unmapped page from the page cache while someone",
        "invalidate_complete_page: the page leaves the page cache",
        "gup0: the device writes into the page",
        "⇒ ledger lost_write (data-losing)"},
       {"gup0: write fault on a missing pte", "get_user_pages takes the page",
        "writeback: clear_page_dirty_for_io", "->writepage", "io: end_page_writeback",
        "reclaim: pte_clear", "gup0: the device writes into the page", "set_page_dirty"},
       /*data_losing=*/1});
}

// invalidate_inode_pages2 on a dirty, mapped page (scenario `launder`),
// told as steps:
//   1. (setup) mmap0 stores to page 0: dirty, its pte writable; on nfs a
//      write request covers it;
//   2. reclaim invalidates page 0 (NFS's revalidation): the page locked,
//      unmap_mapping_range zaps the pte and hands its dirtiness to
//      set_page_dirty, then the TLB flush;
//   3. nfs: the page is dirty, so ->launder_page (nfs_wb_page) writes it,
//      waits for the write (io completes it) and COMMITs, all under the page
//      lock; invalidate_complete_page2 then removes the clean page;
//   4. mmap0's store faults the page in again from the server, which has
//      the setup's stamp, and dirties it; the final sync writes it: nothing
//      lost.
// buffer has no ->launder_page: invalidate_complete_page2 finds the page
// dirty and gives up (-EBUSY); the page stays cached, dirty, and mmap0's
// store faults on the missing pte of the same page.
TEST(InvalidateTest, Invalidate2LaundersADirtyMappedPageOrLeavesItBusy) {
  const Scenario s = LoadScenario("launder").value();
  std::vector<std::string> story;
  auto r = Forced("", false, "modern", "nfs", s, "1", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(
      story, {"reclaim: pte_clear", "set_page_dirty", "TLB flushed", "->launder_page",
              "clear_page_dirty_for_io", "->writepage", "io: commit_pending",
              "end_page_writeback", "reclaim: clear_page_dirty_for_io",
              "fs metadata retired", "the page leaves the page cache", "mmap0: page_cache_alloc",
              "readpage", "->page_mkwrite (nfs_vm_page_mkwrite)"}));
  r = Forced("", false, "modern", "buffer", s, "1", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(
      story, {"reclaim: pte_clear", "set_page_dirty", "TLB flushed",
              "invalidate_complete_page2 gives up", "mmap0: read fault"}));
  EXPECT_FALSE(StoryHasInOrder(story, {"the page leaves the page cache"}));
  EXPECT_FALSE(StoryHasInOrder(story, {"->launder_page"}));
}

// e3db7691e9f3's window, forced (scenario `release`, locked/nfs, schedule
// 0*9,1,2*2; page 0 dirty and writable in mapping 0 after setup, counted in
// NR_FILE_DIRTY):
//   1. writeback writes page 0: clear_page_dirty_for_io write-protects it
//      and un-counts it; nfs_writepage sends the request's WRITE.  The
//      pass's COMMIT finds nothing complete yet.
//   2. io completes the WRITE: the request waits for its COMMIT, the page
//      is clean and keeps PG_private.
//   3. reclaim invalidates page 0 (invalidate_inode_pages2): the read-only
//      pte goes; the page is clean, so nothing is laundered, and
//      invalidate_complete_page2 asks ->releasepage (GFP_KERNEL).
//      Reverted (v2.6.20-rc's nfs_release_page): SetPageDirty by hand, not
//      counted, then nfs_wb_page, whose clear_page_dirty_for_io un-counts
//      it: NR_FILE_DIRTY is -1 (I10, not data-losing); the WRITE goes
//      again, the COMMIT follows and the page leaves the cache.
//      With the fix, nfs_release_page keeps a page with a request:
//      invalidate_complete_page2 gives up (-EBUSY) and the final sync
//      commits the request; nothing is reported.
TEST(InvalidateTest, ReleasepageWritingACleanPageUnCountsAPageNeverCounted) {
  const Scenario s = LoadScenario("release").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "e3db7691e9f3 reverted" : "e3db7691e9f3 in");
    std::vector<std::string> story;
    auto r = Forced("e3db7691e9f3", reverted, "locked", "nfs", s, reverted ? "0*9,1,2*2" : "0*9,1,2",
                    &story);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->data_losing_reports, 0u);
    if (!reverted) {
      EXPECT_EQ(r->race_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(
          story, {"writeback: clear_page_dirty_for_io", "->writepage", "io: commit_pending",
                  "reclaim: pte_clear", "invalidate_complete_page2 gives up"}));
      EXPECT_FALSE(StoryHasInOrder(story, {"the page leaves the page cache"}));
      continue;
    }
    EXPECT_EQ(r->race_reports, 1u);
    ASSERT_EQ(r->races.size(), 1u);
    EXPECT_EQ(r->races[0].first.kind, RaceKind::kDirtyAccountingSkew);
    EXPECT_TRUE(StoryHasInOrder(
        story, {"writeback: clear_page_dirty_for_io", "->writepage", "io: commit_pending",
                "reclaim: pte_clear", "[set PG_dirty by hand on a clean page",
                "clear_page_dirty_for_io", "⇒ I10 dirty_accounting_skew", "->writepage",
                "fs metadata retired", "the page leaves the page cache"}));
  }
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// Page migration (scenario `migrate`: page 0 dirty through a pwrite, no
// writable pte, read-only in mapping 1), reclaim first, told as steps:
//   1. reclaim migrates page 0 (compaction, MIGRATE_ASYNC): it trylocks the
//      page and clears its pte;
//   2. buffer (buffer_migrate_page): a new page takes the slot with the old
//      one's PG_dirty and buffers, and the pte comes back on it, read-only;
//   3. reclaim shrinks the new page: dirty, so pageout writes it (the
//      pwrite's data); had PG_dirty stayed behind with the old page, the new
//      one would be clean with bytes the store lacks and its eviction I0
//      (no writable pte to take the dirtiness over);
//   4. mmap0's store faults the page in again and the final sync writes
//      it: nothing lost.
// 5.15 with no ->migratepage (`none`: fallback_migrate_page) keeps a dirty
// page in async mode (-EBUSY): the ptes come back on the old page, no new
// one.  5.15 NFS (nfs_migrate_page) keeps a page with a request the same
// way.  v2.6.29 has no async mode: its fallback writes the dirty page out
// (writeout: clear_page_dirty_for_io, ->writepage) and fails this attempt.
TEST(MigrateTest, ADirtyMappedPageMovesWithItsDirtinessOrStays) {
  const Scenario s = LoadScenario("migrate").value();
  std::vector<std::string> story;
  auto r = Forced("", false, "modern", "buffer", s, "1", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(
      story, {"reclaim: pte_clear", "migrate_page: a new page takes the slot",
              "installs a read-only pte", "pte_clear", "pageout", "->writepage"}));
  for (const char* fs : {"none", "nfs"}) {
    SCOPED_TRACE(fs);
    r = Forced("", false, "modern", fs, s, "1", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->race_reports, 0u);
    EXPECT_TRUE(StoryHasInOrder(story, {"reclaim: pte_clear", "installs a read-only pte",
                                        "pageout", "->writepage"}));
    EXPECT_FALSE(StoryHasInOrder(story, {"migrate_page"}));
  }
  r = Forced("", false, "legacy", "none", s, "1", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->race_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(story, {"reclaim: pte_clear", "installs a read-only pte",
                                      "clear_page_dirty_for_io", "->writepage"}));
  EXPECT_FALSE(StoryHasInOrder(story, {"migrate_page"}));
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// 25f3c5021985 on 5.15's btrfs (scenario `dio`), forced, told as steps:
//   1. gup0's write fault reads page 0 in; btrfs_page_mkwrite reserves and
//      sets delalloc; get_user_pages pins it for a direct read (preempted
//      at get_user_pages:after_pin);
//   2. writeback writes the page: its delalloc becomes the extent in flight;
//   3. gup0: the device writes into the page and set_page_dirty_lock
//      dirties it: dirty, with no delalloc (I2);
//   4. the final sync: write_cache_pages' clear_page_dirty_for_io cleans the
//      page and ->writepage finds no delalloc (I3) and queues the fixup
//      worker.  Reverted, the start hook returns -EBUSY and the page stays
//      clean; the worker (at the end of the pass) gives up on a clean page:
//      the device's data is never written (I0, data-losing, under
//      btrfs_writepage_cow_fixup/fixup_left_clean).  With the fix it returns
//      -EAGAIN, the page is redirtied, the worker reserves and sets
//      delalloc, and the next pass writes it: nothing is lost.
TEST(BtrfsFixupTest, APageTheFixupLeavesCleanIsNeverWritten) {
  const Scenario s = LoadScenario("dio").value();
  for (const bool reverted : {true, false}) {
    SCOPED_TRACE(reverted ? "25f3c5021985 reverted" : "25f3c5021985 in");
    std::vector<std::string> story;
    auto r = Forced("25f3c5021985", reverted, "modern", "btrfs", s, "0*8,1*7,0*3,2*3", &story);
    ASSERT_TRUE(r.ok()) << r.status();
    const std::vector<const char*> common = {
        "gup0: write fault on a missing pte", "get_user_pages takes the page",
        "preempted at get_user_pages:after_pin", "writeback: clear_page_dirty_for_io",
        "->writepage", "gup0: the device writes into the page", "⇒ I2 dirty_without_metadata",
        "⇒ I3 writepage_without_metadata", "->writepage sends nothing"};
    EXPECT_TRUE(StoryHasInOrder(story, common));
    if (reverted) {
      EXPECT_GT(r->data_losing_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(
          story, {"->writepage sends nothing", "[left a page dirtied behind the filesystem's back clean",
                  "⇒ I0 lost_dirty (data-losing)", "⇒ ledger lost_write (data-losing)"}));
    } else {
      EXPECT_EQ(r->data_losing_reports, 0u);
      EXPECT_TRUE(StoryHasInOrder(story, {"->writepage sends nothing", "fs metadata attached",
                                          "clear_page_dirty_for_io", "->writepage",
                                          "set_page_writeback"}));
    }
  }
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// 1d1d1a767206 (v3.9), a relaxation, on 5.15's ext4 (`buffer`, scenario
// `seed`: writeback writes page 0 while mmap0 stores to it):
//   - with the fix, block_page_mkwrite's wait_for_stable_page does not wait
//     on a device without stable writes: some schedule makes the pte
//     writable while the page is under writeback, and nothing is lost (the
//     page is dirty again; the next pass writes it);
//   - reverted (v3.0-v3.8), it waits for writeback on every device: no
//     schedule does, and nothing is lost either;
//   - on a device that needs stable pages (`buffer:stable_writes`) it waits
//     with the fix too: none does, and I7 holds.
TEST(StablePagesTest, TheRelaxationLetsAStoreMeetWritebackOnlyWhereNoDeviceNeedsStablePages) {
  auto search = [](const char* fs, bool reverted) {
    return Search(RevertCase{"1d1d1a767206", "modern", fs, "seed", "I7", false, 1}, reverted);
  };
  const ExploreResult in = search("buffer", false);
  const ExploreResult reverted = search("buffer", true);
  const ExploreResult stable = search("buffer:stable_writes", false);
  for (const ExploreResult* r : {&in, &reverted, &stable}) {
    EXPECT_TRUE(r->complete);
    EXPECT_TRUE(r->violations.empty()) << Describe(*r);
  }
  EXPECT_GT(in.writable_during_writeback_schedules, 0u);
  EXPECT_EQ(reverted.writable_during_writeback_schedules, 0u);
  EXPECT_EQ(stable.writable_during_writeback_schedules, 0u);
}

}  // namespace
}  // namespace pagerace

namespace pagerace {
namespace {

// ea3d7209ca01 (v4.5) on 5.15's ext4 (`buffer`, scenario `punch`: page 0
// stored to and written back in the setup, clean and read-only in mapping
// 0), forced with the schedule 1*2,0*7,1*2 (threads: mmap0, truncate, io):
//   1. truncate: ext4_punch_hole with the fix reverted (v4.4: no lock that
//      faults take): truncate_pagecache_range zaps page 0's pte and takes
//      the page out of the page cache (->invalidatepage drops its buffers);
//      its blocks are still the file's.  The ledger's seqcount for page 0
//      goes even again here: a store from now on is owed.  Preempted at
//      punch_hole:after_truncate_pagecache_range.
//   2. mmap0 stores to page 0: the read-back's read fault reads the page
//      back in from the blocks about to go; the store's write fault runs
//      ext4_page_mkwrite, whose block_page_mkwrite finds those blocks
//      mapped: buffers attached on them, the page dirty, the pte writable,
//      the store lands.
//   3. truncate frees the blocks (ext4_ext_remove_space): the page's
//      buffers stay mapped to them (the transition
//      pagecache_truncated_before_blocks_freed), and the file reads zeros
//      there.
//   4. The final sync writes the page (I3: its buffers' blocks are not the
//      file's), to the freed blocks (write_to_freed_block): the page, clean,
//      holds the store and the file does not (I0), and the ledger finds the
//      store gone; both data-losing, under the fix's window.
// With the fix the same schedule is infeasible at step 4: mmap0's
// filemap_fault waits for the invalidate_lock the punch holds until the
// blocks are freed, so the fault reads the hole (zeros) and its store gets
// new blocks; the complete searches (RevertTest) are clean.
TEST(PunchTest, AFaultBetweenPagecacheTruncationAndBlockFreeingLosesTheStore) {
  const Scenario s = LoadScenario("punch").value();
  std::vector<std::string> story;
  auto r = Forced("ea3d7209ca01", /*reverted=*/true, "modern", "buffer", s, "1*2,0*7,1*2", &story);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->data_losing_reports, 0u);
  EXPECT_TRUE(StoryHasInOrder(
      story, {"1. truncate:", "truncate_inode_page", "[window opens: between truncate_pagecache_range",
              "preempted at punch_hole:after_truncate_pagecache_range", "2. mmap0: read fault",
              "readpage", "fs metadata attached: mapped buffers", "pte_mkwrite", "finishes",
              "3. truncate: [between truncate_pagecache_range", "punch_free_blocks",
              "⇒ I3 writepage_without_metadata", "->writepage", "write_to_freed_block",
              "⇒ I0 lost_dirty (data-losing)", "⇒ ledger lost_write (data-losing)"}));
  ASSERT_FALSE(r->races.empty());
  for (const RaceGroup& g : r->races) {
    EXPECT_EQ(RootCause::Unpack(g.first.cause).Id(),
              "ext4_punch_hole/pagecache_truncated_before_blocks_freed/transition")
        << RaceKindName(g.first.kind);
  }

  RunConfig in = Base("modern", "buffer");
  auto fixed = RunSchedule(in, s, sched::ParseSchedule("1*2,0*7,1*2").value());
  ASSERT_TRUE(fixed.ok()) << fixed.status();
  EXPECT_EQ(fixed->infeasible.step, 4);
  EXPECT_EQ(fixed->infeasible.thread, 0);  // mmap0, blocked on the invalidate_lock
  EXPECT_EQ(fixed->infeasible.why, "lock");
  EXPECT_EQ(fixed->infeasible.lock, "invalidate_lock") << fixed->infeasible.message;
  EXPECT_EQ(fixed->race_reports, 0u);      // the default picks from there lose nothing
}

}  // namespace
}  // namespace pagerace
