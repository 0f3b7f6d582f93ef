// Regression tests: the seed's races, forced deterministically with the
// `ordered` schedule policy, and the same interleaving asked of `locked`,
// where the page lock makes it impossible (the ordered wait is dropped when
// every thread is blocked, which the test asserts).
//
// Race 1 — do_wp_page (DESIGN §2; the NFS data loss, bugzilla 12913):
//   0. setup: page 0 was stored to, written back and committed: clean, pte
//      read-only in mapping 0, no NFS request.
//   1. fault thread F stores to page 0 -> do_wp_page: drops the ptl, calls
//      ->page_mkwrite, which creates a request and dirties the page; under
//      `legacy` it returns with the page unlocked.
//   2. writeback thread W: lock_page, clear_page_dirty_for_io (page_mkclean
//      finds no writable pte; PG_dirty cleared), writepage sends the request
//      (old bytes), unlock; the WRITE completes and COMMIT retires the request.
//   3. F retakes the ptl: pte_same holds, the pte becomes writable, and
//      set_page_dirty dirties a page the fs holds no request for (I2, with
//      the pte writable).
//   4. F's store lands.  The next writeback write-protects the page and
//      writepage sends nothing (I3); the page is clean with bytes the server
//      never got (I0, data-losing), and the final check finds the store lost
//      (ledger, data-losing).
//   Forced by: do_wp_page:after_mkwrite < write_cache_pages:begin and
//              commit:end < do_wp_page:before_ptl_relock.
//
// Race 1b — the same under `locked`, when ->page_mkwrite returns unlocked
// (fs/nfs/file.c as of v2.6.30): between mkwrite's unlock_page and the VM's
// lock_page a whole writeback runs and retires the request; the VM then
// relocks, finds the mapping intact and the pte unchanged, and dirties a page
// without a request.  The seed only closes the window for filesystems that
// return VM_FAULT_LOCKED, which NFS did from v2.6.30-rc5 on (7fdf5230).
//   Forced by: do_wp_page:after_mkwrite < write_cache_pages:begin and
//              commit:end < do_wp_page:before_relock_page.
//
// Race 2 — __do_fault's window (legacy):
//   1. F stores to page 0 with no pte: ->fault, unlock, ->page_mkwrite
//      (request, PG_dirty), relock, install a writable pte, unlock the page.
//   2. W runs a whole writeback: page_mkclean write-protects F's fresh pte,
//      the request is sent, completed, committed and retired.
//   3. F calls set_page_dirty: PG_dirty without a request (I2), but every pte
//      is read-only (the report says so), so the next store re-faults into
//      mkwrite and heals: nothing is lost, and the ledger stays whole.
//   Forced by: __do_fault:before_ptl_lock < write_cache_pages:begin and
//              commit:end < __do_fault:before_set_page_dirty.
#include <thread>

#include "harness/check/invariants.h"
#include "harness/mm/filemap.h"
#include "fs_adapters/ceph.h"
#include "fs_adapters/nfs.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "tests/forced_race.h"
#include "test_machine.h"

namespace pagerace {
namespace {

// A dependency bound to a page ("end_io:done@5<B") is met by that page's
// I/O completion, not another's: a window derived from page 5's trace stays
// open while page 4's I/O completes (issue 19, point 9: an unrelated
// completion closed the window and the replay ran clean, naming nothing).
TEST(OrderedDepTest, APageBoundDependencyWaitsForItsPage) {
  TestThread main_thread("main");  // a running participant: F's wait is not dropped
  sched::Options so;
  so.policy = sched::Policy::kOrdered;
  so.deps = sched::ParseOrderedDeps("end_io:done@5<truncate:begin").value();
  sched::Configure(so);
  SCHED_POINT_PAGE(kEndIoDone, 4);  // another page's completion, before F waits
  std::atomic<bool> passed{false}, page5{false};
  bool saw_page5 = false;
  std::thread f([&] {
    TestThread t("truncate");
    SCHED_POINT(kTruncateBegin);
    saw_page5 = page5.load();
    passed.store(true);
  });
  // F either waits (the bound dependency is unmet) or, wrongly, passes.
  while (!passed.load() && sched::OrderedWaiters() == 0) std::this_thread::yield();
  EXPECT_FALSE(passed.load()) << "page 4's completion met a dependency bound to page 5";
  page5.store(true);
  SCHED_POINT_PAGE(kEndIoDone, 5);
  f.join();
  EXPECT_TRUE(saw_page5);
  EXPECT_EQ(sched::OrderedSkipped(), 0u);
  sched::Reset();
}

constexpr char kRace1[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "commit:end<do_wp_page:before_ptl_relock";
constexpr char kRace1b[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "commit:end<do_wp_page:before_relock_page";
constexpr char kRace2[] =
    "__do_fault:before_ptl_lock<write_cache_pages:begin,"
    "commit:end<__do_fault:before_set_page_dirty";

class SeedRaceTest : public ::testing::TestWithParam<const char*> {};

TEST_P(SeedRaceTest, LegacyDoWpPageLosesTheStore) {
  TestMachine m("legacy", GetParam(), 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1);
  TestThread t("check");
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(o.i2_writable, 1u);   // writable pte, no request
  EXPECT_GE(o.i3, 1u);          // writepage entered without a request
  EXPECT_GE(o.i0, 1u);          // clean page, bytes not on the server
  EXPECT_FALSE(o.store_persisted);
  EXPECT_EQ(m.load(0, 0, 0), kStamp);  // still in memory...
  ASSERT_TRUE(shrink_page(*m.mm, 0).evicted);  // ...until reclaim drops the "clean" page
  EXPECT_NE(m.load(1, 0, 0), kStamp);  // re-read from the server: lost
}

TEST(SeedRaceLockedTest, LockedClosesTheDoWpPageWindow) {
  TestMachine m("locked", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1);
  EXPECT_EQ(o.ordered_skipped, 1u) << "the page lock should forbid this interleaving";
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
}

TEST(SeedRaceLockedTest, LockedStillRacesWhenMkwriteReturnsUnlocked) {
  TestMachine m("locked", "nfs:unlocked", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1b);
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(o.i2_writable, 1u);
  EXPECT_GE(o.i0, 1u);
  EXPECT_FALSE(o.store_persisted);
}

TEST(SeedRaceLockedTest, LockedWithLockedMkwriteForbidsRace1b) {
  TestMachine m("locked", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1b);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
}

TEST_P(SeedRaceTest, LegacyDoFaultWindowLeavesDirtyWithoutRequest) {
  TestMachine m("legacy", GetParam(), 2, 2);
  CleanUnmappedPage(m);
  Outcome o = RunInterleaving(m, kRace2);
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(o.i2, 1u);
  EXPECT_EQ(o.i2_writable, 0u);  // the pte was write-protected: the store re-faulted
  EXPECT_TRUE(o.store_persisted);
}

TEST_P(SeedRaceTest, LockedClosesTheDoFaultWindow) {
  TestMachine m("locked", GetParam(), 2, 2);
  CleanUnmappedPage(m);
  Outcome o = RunInterleaving(m, kRace2);
  EXPECT_EQ(o.ordered_skipped, 1u);
  EXPECT_EQ(m.races(), 0u);
  EXPECT_TRUE(o.store_persisted);
}

INSTANTIATE_TEST_SUITE_P(Nfs, SeedRaceTest, ::testing::Values("nfs", "nfs:unlocked"),
                         [](const auto& info) {
                           return std::string(info.param) == "nfs" ? std::string("returns_locked")
                                                                   : std::string("returns_unlocked");
                         });

// Race C — ceph (v2.6.34 fs/ceph/addr.c) under `legacy`.  "legacy + ceph"
// never shipped: ceph_page_mkwrite has v2.6.30's (vma, vmf) prototype and
// returned VM_FAULT_LOCKED from its first version (1d3576fd10f0, v2.6.34).
// It stands for an fs whose writeback keeps per-page context under the
// 2.6.29 VM.  ceph_writepages_start keeps each page locked until
// writepages_finish has dropped the page's snap context, ended writeback and
// unlocked it; ceph_set_page_dirty attaches a context to a newly dirty page
// only, without the page lock, overwriting page->private.
//
// C1 — do_wp_page's wide window is closed by its wait_on_page_locked:
//   0. setup: page 0 clean, read-only in mapping 0, no snap context.
//   1. F stores -> do_wp_page -> ceph_page_mkwrite attaches context S and
//      (under legacy) returns with the page unlocked.
//   2. W: lock_page, clear_page_dirty_for_io, the OSD write starts with S;
//      the page stays locked, handed to the write.
//   3. F: pte writable, then wait_on_page_locked sleeps until
//      writepages_finish has dropped S, ended writeback and unlocked.  The
//      order asking the completion to wait for F's set_page_dirty is dropped
//      (everyone blocked).
//   4. F's set_page_dirty finds the page clean and attaches a new context:
//      nothing is lost.
constexpr char kRaceCeph[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "write_cache_pages:end<do_wp_page:before_ptl_relock,"
    "fault:after_set_page_dirty<end_io:begin";

TEST(CephRaceTest, LegacyDoWpPageWaitsPastTheCompletion) {
  TestMachine m("legacy", "ceph", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRaceCeph);
  EXPECT_EQ(o.ordered_skipped, 1u) << "wait_on_page_locked should outwait the completion";
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
  EXPECT_EQ(static_cast<CephAdapter&>(*m.fs).wrbuffer_ref(), 0);
}

// C2 — the gap do_wp_page still leaves, between wait_on_page_locked
// returning and set_page_dirty:
//   1. F: mkwrite attaches S, pte writable, wait_on_page_locked returns at
//      once (nobody holds the page).
//   2. W: lock_page, clear_page_dirty_for_io (page_mkclean write-protects
//      F's pte), the write of S starts; the page stays locked.
//   3. F: set_page_dirty finds the page clean; ceph_set_page_dirty attaches
//      a second context to a page under writeback (wrbuffer_ref 2: I4).
//   4. writepages_finish drops the page's context (the new one) and
//      unlocks.  F's store re-faults: mkwrite finds no older context and
//      set_page_dirty finds the page already dirty, so nothing is attached:
//      a dirty, writable page with no context (I2, writable).  Writeback
//      then reaches it without one (I3; v2.6.34's ceph_writepages_start
//      would dereference the NULL context) and the store never reaches the
//      OSD.
constexpr char kRaceCephGap[] =
    "do_wp_page:after_wait_on_page_locked<write_cache_pages:begin,"
    "write_cache_pages:end<do_wp_page:before_set_page_dirty,"
    "fault:after_set_page_dirty<end_io:begin";

TEST(CephRaceTest, LegacyDoWpPageGapAfterTheWaitLosesTheStore) {
  TestMachine m("legacy", "ceph", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRaceCephGap);
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(m.races(RaceKind::kCounterDrift), 1u) << Describe(m);
  EXPECT_GE(o.i2_writable, 1u) << Describe(m);
  EXPECT_GE(o.i3, 1u);
  EXPECT_FALSE(o.store_persisted);
}

// C3 — __do_fault (legacy), the loss path with no wait at all:
//   0. setup: page 0 cached and clean, no pte, no context.
//   1. F: ->fault, unlock, mkwrite attaches S, relock, install a writable
//      pte, unlock_page — and set_page_dirty only afterwards.
//   2. W: lock_page, clear_page_dirty_for_io (F's pte write-protected), the
//      write of S starts; the page stays locked.
//   3. F: set_page_dirty attaches a second context to the page in flight.
//   4. writepages_finish drops it; F's store re-faults and attaches
//      nothing (already dirty): dirty, writable, no context (I2,
//      writable), then I3 and the store is lost, as in C2.
constexpr char kRaceCephDoFault[] =
    "__do_fault:before_ptl_lock<write_cache_pages:begin,"
    "write_cache_pages:end<__do_fault:before_set_page_dirty,"
    "fault:after_set_page_dirty<end_io:begin";

TEST(CephRaceTest, LegacyDoFaultLosesTheStore) {
  TestMachine m("legacy", "ceph", 2, 2);
  CleanUnmappedPage(m);
  Outcome o = RunInterleaving(m, kRaceCephDoFault);
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(m.races(RaceKind::kCounterDrift), 1u) << Describe(m);
  EXPECT_GE(o.i2_writable, 1u) << Describe(m);
  EXPECT_GE(o.i3, 1u);
  EXPECT_FALSE(o.store_persisted);
}

// C4 — `locked` (the seed's VM) with `ceph:unlocked` (mkwrite returning
// unlocked, as no released ceph did): between mkwrite's unlock and the VM's
// relock, writeback takes the page, and the lock stays with the write until
// writepages_finish.  The VM's lock_page therefore returns only after the
// completion dropped the old context: it sees a clean page without one, and
// its set_page_dirty (under the lock) attaches a fresh context.  Asked to
// complete the write after F's set_page_dirty, the order is dropped; asked
// to relock after the completion, F finds the same clean page.
constexpr char kRaceCephRelockInFlight[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "write_cache_pages:end<do_wp_page:before_relock_page,"
    "fault:after_set_page_dirty<end_io:begin";
constexpr char kRaceCephRelockAfter[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "end_io:done<do_wp_page:before_relock_page";

TEST(CephRaceTest, LockedUnlockedMkwriteRelocksAfterTheCompletion) {
  for (const char* deps : {kRaceCephRelockInFlight, kRaceCephRelockAfter}) {
    SCOPED_TRACE(deps);
    TestMachine m("locked", "ceph:unlocked", 2, 2);
    CleanReadOnlyPage(m);
    Outcome o = RunInterleaving(m, deps);
    EXPECT_EQ(o.ordered_skipped, deps == kRaceCephRelockAfter ? 0u : 1u);
    EXPECT_EQ(m.races(), 0u) << Describe(m);
    EXPECT_TRUE(o.store_persisted);
    EXPECT_EQ(static_cast<CephAdapter&>(*m.fs).wrbuffer_ref(), 0);
  }
}

TEST(CephRaceTest, LockedForbidsIt) {
  TestMachine m("locked", "ceph", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRaceCeph);
  EXPECT_GE(o.ordered_skipped, 1u) << "the page lock should forbid this interleaving";
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
}

// Race B — buffer.c's partial EOF page before pagecache_isize_extended
// (v3.18), under `legacy` and `locked` alike (the seed: "block allocation
// under dirty pages might be susceptible to i_size changing under partial
// page at the end of file ... cannot be fixed properly without this patch"):
//   0. setup: a full disk; i_size ends 1 KiB into page 3, whose first block
//      alone is allocated; page 3 clean, read-only in mapping 0.
//   1. F stores to page 3 -> do_wp_page -> block_page_mkwrite allocates for
//      the buffers inside the *old* i_size (one).
//   2. T grows the file to 4 pages: v2.6.29/30 vmtruncate writes i_size and
//      nothing else — no page lock, no write-protection.
//   3. F: pte writable, set_page_dirty.  A store into page 3's last buffer,
//      now inside i_size, lands without a fault: it has no block (I2,
//      writable).
//   4. Writeback must allocate that block, finds the disk full and drops
//      the data: the store never reaches the disk.
// Under `modern` (v5.15) the extension locks page 3 and write-protects it
// (pagecache_isize_extended): step 2 cannot come between F's mkwrite and
// its pte update, which hold the page lock, and the store of step 3 faults
// and is refused (ENOSPC).
//   Forced by: do_wp_page:after_mkwrite < truncate:begin and
//              truncate:end < do_wp_page:before_ptl_relock.
TEST(BufferIsizeRaceTest, LegacyLosesAStorePastTheOldEof) {
  TestMachine m("legacy", "buffer", 4, 2);
  IsizeOutcome o = RunIsizeRace(m);
  EXPECT_EQ(o.skipped, 0u) << "the interleaving was not forced";
  EXPECT_TRUE(o.second_store_landed);  // no fault: the pte was writable
  EXPECT_FALSE(o.persisted);
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << Describe(m);
}

TEST(BufferIsizeRaceTest, LockedLosesItToo) {
  // v2.6.30 had the page lock across mkwrite..set_page_dirty but no
  // pagecache_isize_extended: growth does not wait for that lock.
  TestMachine m("locked", "buffer", 4, 2);
  IsizeOutcome o = RunIsizeRace(m);
  EXPECT_EQ(o.skipped, 0u) << "the interleaving was not forced";
  EXPECT_TRUE(o.second_store_landed);
  EXPECT_FALSE(o.persisted);
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << Describe(m);
}

TEST(BufferIsizeRaceTest, ModernWithIsizeExtendedRefusesIt) {
  TestMachine m("modern", "buffer", 4, 2);
  IsizeOutcome o = RunIsizeRace(m);
  EXPECT_GE(o.skipped, 1u) << "the page lock should forbid this interleaving";
  EXPECT_FALSE(o.second_store_landed);  // it faulted: ENOSPC, SIGBUS
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// The NFS growth window, v2.6.30 and v5.15 alike (nfs_setattr: the flush —
// v2.6.30 nfs_wb_all, 5.15 nfs_sync_inode — then the SETATTR call, then
// nfs_vmtruncate writes i_size; no page lock across, and no
// pagecache_isize_extended anywhere in fs/nfs):
//   0. setup: i_size ends 1 KiB into page 3; page 3 clean, read-only in
//      mapping 0, no request.
//   1. T grows the file to 4 pages: the flush (page 3 already clean).
//   2. F stores to page 3 -> do_wp_page -> nfs_vm_page_mkwrite: the request
//      is bounded by nfs_page_length at the old size (1 KiB), returns
//      locked; pte writable.
//   3. T writes i_size.
//   4. A store at 3 KiB into page 3, now inside i_size, lands through the
//      writable pte: no fault, the request stays 1 KiB long.
//   5. Writeback sends the request's 1 KiB; COMMIT; the page is clean and
//      the store never reaches the server.
// 5.15's nfs_vm_page_mkwrite still bounds the request by nfs_page_length and
// its wait_on_page_writeback changes nothing here (page 3 is not under
// writeback), so `modern` loses the store the same way.  Detected by I0
// (the clean page differs from the server) and by the persisted bytes.
constexpr char kNfsGrowthWindow[] =
    "truncate:grow_after_setattr<do_wp_page:after_unlock_ptl,"
    "do_wp_page:before_set_page_dirty<truncate:grow_before_i_size";

struct NfsGrowthOutcome {
  uint64_t skipped = 0;
  bool persisted = false;
};

NfsGrowthOutcome RunNfsGrowthWindow(TestMachine& m) {
  const int64_t ps = static_cast<int64_t>(m.mm->page_size());
  {
    TestThread t("setup");
    vmtruncate(*m.mm, 3 * ps + 1024);
    m.store(0, 3, 0, 1);
    m.writeback();
    EXPECT_EQ(m.pte(0, 3), kPteReadOnly);
  }
  NfsGrowthOutcome o;
  o.skipped = RunPair(
      kNfsGrowthWindow, "fault", [&] { m.store(0, 3, 0, 2); }, "truncate",
      [&] { vmtruncate(*m.mm, 4 * ps); });
  TestThread t("main");
  m.store(0, 3, kSlotInLastBuffer, kStamp);
  sync_mapping(*m.mm, /*drain=*/true);
  m.mm->audit_all();
  o.persisted = m.persisted_slot(3, kSlotInLastBuffer) == kStamp;
  return o;
}

TEST(NfsGrowthTest, V2630LosesAStoreThroughAPteMadeWritableBeforeTheSizeChange) {
  TestMachine m("locked", "nfs", 4, 2);
  NfsGrowthOutcome o = RunNfsGrowthWindow(m);
  EXPECT_EQ(o.skipped, 0u) << "the interleaving was not forced";
  EXPECT_FALSE(o.persisted);
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << Describe(m);
}

TEST(NfsGrowthTest, V515LosesItToo) {
  TestMachine m("modern", "nfs", 4, 2);
  NfsGrowthOutcome o = RunNfsGrowthWindow(m);
  EXPECT_EQ(o.skipped, 0u) << "the interleaving was not forced";
  EXPECT_FALSE(o.persisted);
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << Describe(m);
}

// Truncate up follows the scheme's era (truncate.h):
//   1. H locks the old EOF page (page 3; i_size ends 1 KiB into it).
//   2. T grows the file to 4 pages.
//   3. v2.6.29/30 (legacy, locked): vmtruncate only writes i_size, so T
//      completes while H still holds the lock.  v5.15 (modern): the growth
//      locks the EOF page (pagecache_isize_extended), so T sleeps on it
//      until H unlocks.
// Detected without sleeps: the test waits until T has either returned or
// registered as a lock waiter (CurrentLockWaits), whichever comes first.
bool GrowthWaitsForEofPageLock(const char* scheme) {
  TestMachine m(scheme, "buffer", 4, 2);
  const int64_t ps = static_cast<int64_t>(m.mm->page_size());
  TestThread main_thread("main");
  vmtruncate(*m.mm, 3 * ps + 1024);
  m.store(0, 3, 0, 1);  // page 3 cached (and its pte writable)
  Page* eof = m.mm->mapping().find_lock_page(3);  // H: the test thread
  EXPECT_NE(eof, nullptr);
  std::atomic<bool> grown{false};
  std::thread t([&] {
    TestThread reg("truncate");
    vmtruncate(*m.mm, 4 * ps);
    grown.store(true);
  });
  while (!grown.load() && CurrentLockWaits().empty()) std::this_thread::yield();
  const bool waited = !grown.load();
  if (waited) EXPECT_EQ(m.mm->mapping().i_size(), 3 * ps + 1024);  // not raised yet
  unlock_page(eof);
  put_page(eof);
  t.join();
  EXPECT_EQ(m.mm->mapping().i_size(), 4 * ps);
  return waited;
}

TEST(TruncateUpTest, V2629And30DoNotLockTheEofPage) {
  EXPECT_FALSE(GrowthWaitsForEofPageLock("legacy"));
  EXPECT_FALSE(GrowthWaitsForEofPageLock("locked"));
}

TEST(TruncateUpTest, V515LocksTheEofPage) { EXPECT_TRUE(GrowthWaitsForEofPageLock("modern")); }

// Race 1 on btrfs (delalloc): the same window leaves a writable page
// without delalloc (I2, writable); its next
// writepage meets it unprepared (I3) and goes through the fixup path — in
// v2.6.29/30-era btrfs (v2.6.30-34) the start hook's -EAGAIN, a redirtied
// page and the worker setting delalloc without a reservation, written on a
// later pass (FinalSync's) — so with free space the store still reaches the
// disk: nothing is data-losing.
// btrfs has no COMMIT: F waits for the write's completion instead.
constexpr char kRace1Btrfs[] =
    "do_wp_page:after_mkwrite<write_cache_pages:begin,"
    "end_io:done<do_wp_page:before_ptl_relock";

TEST(BtrfsRaceTest, LegacyWindowGoesThroughTheFixupPath) {
  TestMachine m("legacy", "btrfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1Btrfs);
  EXPECT_EQ(o.ordered_skipped, 0u) << "the interleaving was not forced";
  EXPECT_GE(o.i2_writable, 1u) << Describe(m);
  EXPECT_GE(o.i3, 1u);
  EXPECT_TRUE(o.store_persisted);  // saved by the fixup worker
  EXPECT_EQ(o.i0, 0u) << Describe(m);
  EXPECT_EQ(o.losing, 0u) << Describe(m);  // reported, but not data-losing
}

TEST(BtrfsRaceTest, LockedForbidsIt) {
  TestMachine m("locked", "btrfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1Btrfs);
  EXPECT_EQ(o.ordered_skipped, 1u);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
}

// The control: with no ->page_mkwrite there is no fs metadata to lose, and
// the same attempted interleaving is harmless under both schemes.
TEST(SeedRaceControlTest, NoneAdapterIsCleanUnderBothSchemes) {
  for (const char* scheme : {"legacy", "locked"}) {
    TestMachine m(scheme, "none", 2, 2);
    CleanReadOnlyPage(m);
    Outcome o = RunInterleaving(m, kRace1);
    EXPECT_EQ(m.races(), 0u) << scheme;
    EXPECT_TRUE(o.store_persisted) << scheme;
  }
}

// --- Mutants (DESIGN §6): each deliberate bug trips the invariant it
// declares, deterministically; the real scheme, asked the same, stays clean.

// mutant:unlock_before_set_page_dirty reopens legacy's window inside
// `locked`:
//   1. F: mkwrite (request, PG_dirty), pte_mkwrite, then unlock_page (the bug).
//   2. W: lock_page, page_mkclean write-protects F's pte, the request is sent,
//      completed, committed and retired.
//   3. F: set_page_dirty on a page without a request (I2).
constexpr char kUnlockWindow[] =
    "do_wp_page:after_pte_mkwrite<write_cache_pages:begin,"
    "commit:end<do_wp_page:before_set_page_dirty";

TEST(MutantTest, UnlockBeforeSetPageDirtyTripsI2) {
  TestMachine m("mutant:unlock_before_set_page_dirty", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kUnlockWindow);
  EXPECT_EQ(m.scheme->trips(), std::string("I2"));
  EXPECT_EQ(o.ordered_skipped, 0u);
  EXPECT_GE(o.i2, 1u) << Describe(m);
}

TEST(MutantTest, LockedKeepsTheLockThroughSetPageDirty) {
  TestMachine m("locked", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kUnlockWindow);
  EXPECT_EQ(o.ordered_skipped, 1u);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// mutant:skip_set_page_dirty: a write fault on a mapping without
// ->page_mkwrite makes the pte writable and never dirties the page, so
// writeback never writes it.
TEST(MutantTest, SkipSetPageDirtyTripsI1AndLosesTheStore) {
  for (const char* scheme : {"mutant:skip_set_page_dirty", "locked"}) {
    TestMachine m(scheme, "none", 2, 2);
    TestThread t("worker");
    m.load(0, 0, 0);       // read-only pte
    m.store(0, 0, 0, kStamp);  // reuse path
    m.mm->audit_all();
    sync_mapping(*m.mm, /*drain=*/true);
    const bool mutant = std::string(scheme) != "locked";
    EXPECT_EQ(m.races(RaceKind::kWritableNotDirty) > 0, mutant) << scheme << Describe(m);
    EXPECT_EQ(m.persisted_slot(0, 0) == kStamp, !mutant) << scheme;
  }
}

// mutant:clear_dirty_before_mkclean: writeback clears PG_dirty while the pte
// is still writable (the order before v2.6.20).
TEST(MutantTest, ClearDirtyBeforeMkcleanTripsI1) {
  for (const char* fs : {"nfs", "none"}) {
    for (const char* scheme : {"mutant:clear_dirty_before_mkclean", "locked"}) {
      TestMachine m(scheme, fs, 2, 2);
      TestThread t("worker");
      m.store(0, 0, 0, kStamp);  // dirty, writable
      m.writeback();
      const bool mutant = std::string(scheme) != "locked";
      EXPECT_EQ(m.races(RaceKind::kWritableNotDirty) > 0, mutant) << scheme << "/" << fs;
      EXPECT_EQ(m.races(), m.races(RaceKind::kWritableNotDirty)) << Describe(m);
    }
  }
}

// mutant:no_stable_wait (`modern` without wait_for_stable_page):
//   1. page 0 is dirty and writable; writeback write-protects it and starts
//      its WRITE (PG_writeback).
//   2. the WRITE completes at the server (request commit-pending) but
//      end_page_writeback has not run yet.
//   3. F stores: mkwrite turns the commit-pending request dirty again and
//      returns locked; without the stable-page wait the pte becomes writable
//      while PG_writeback is still set (I7).  With it, F sleeps until step 4.
//   4. end_page_writeback.
// Forced by: end_io:done < do_wp_page:after_unlock_ptl and
//            do_wp_page:before_set_page_dirty < end_page_writeback:before.
uint64_t StableWaitInterleaving(TestMachine& m, uint64_t* skipped) {
  {
    TestThread setup("setup");
    m.store(0, 0, 0, 1);
    WritebackControl wbc;
    write_cache_pages(*m.mm, wbc);  // PG_writeback, I/O queued
  }
  *skipped = RunPair(
      "end_io:done<do_wp_page:after_unlock_ptl,"
      "do_wp_page:before_set_page_dirty<end_page_writeback:before",
      "fault", [&] { m.store(0, 0, 0, kStamp); }, "io", [&] { m.mm->io().Drain(); });
  TestThread main_thread("main");
  sync_mapping(*m.mm, /*drain=*/true);
  return m.races(RaceKind::kStoreDuringWriteback);
}

TEST(MutantTest, NoStableWaitTripsI7) {
  TestMachine m("mutant:no_stable_wait", "nfs", 2, 2);
  uint64_t skipped;
  EXPECT_GE(StableWaitInterleaving(m, &skipped), 1u) << Describe(m);
  EXPECT_EQ(skipped, 0u);
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp);  // I7 is about stability, not loss
}

TEST(MutantTest, ModernWaitsForStablePages) {
  TestMachine m("modern", "nfs", 2, 2);
  uint64_t skipped;
  EXPECT_EQ(StableWaitInterleaving(m, &skipped), 0u);
  EXPECT_EQ(skipped, 1u) << "the stable-page wait should forbid this interleaving";
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp);
}

// The same interleaving on buffer.c under 5.15 (`modern`).  5.15's
// block_page_mkwrite ends in wait_for_stable_page, which waits only when the
// device requires stable writes (SB_I_STABLE_WRITES):
//   - `buffer` (an ordinary disk): F does not wait; at step 3 the pte
//     becomes writable while PG_writeback is set, which 5.15 allows: no I7,
//     nothing lost (the buffers keep their blocks and are dirty again).
//   - `buffer:stable_writes`: F sleeps until step 4 (the dependency is
//     skipped); no I7.
//   - mutant:no_stable_wait on `buffer:stable_writes`: F does not wait, I7.
TEST(StablePagesTest, BufferWaitsOnlyOnAStableWritesDevice) {
  struct Case {
    const char* scheme;
    const char* fs;
    bool waits;     // the stable-page wait forbids the interleaving
    bool trips_i7;  // I7 applies and is broken
  };
  for (const Case& c : {Case{"modern", "buffer", false, false},
                        Case{"modern", "buffer:stable_writes", true, false},
                        Case{"mutant:no_stable_wait", "buffer:stable_writes", false, true},
                        Case{"modern", "buffer:block_page_mkwrite", false, false}}) {
    TestMachine m(c.scheme, c.fs, 2, 2);
    uint64_t skipped;
    const uint64_t i7 = StableWaitInterleaving(m, &skipped);
    EXPECT_EQ(skipped, c.waits ? 1u : 0u) << c.scheme << "/" << c.fs;
    EXPECT_EQ(i7 > 0, c.trips_i7) << c.scheme << "/" << c.fs << Describe(m);
    EXPECT_EQ(m.races(), i7) << c.scheme << "/" << c.fs << Describe(m);
    EXPECT_EQ(m.persisted_slot(0, 0), kStamp) << c.scheme << "/" << c.fs;
  }
}

// mutant:pte_write_before_mkwrite: the pte is writable before ->page_mkwrite
// runs; when mkwrite fails the fault is refused (SIGBUS) but the pte stays
// writable, so the next store lands without the fs having agreed (I6).
TEST(MutantTest, PteWriteBeforeMkwriteTripsI6) {
  for (const char* scheme : {"mutant:pte_write_before_mkwrite", "locked", "modern"}) {
    TestMachine m(scheme, "nfs", 2, 2);
    TestThread t("worker");
    m.load(0, 0, 0);  // read-only pte
    ASSERT_TRUE(m.fs->InjectMkwriteFailures(1));  // every mkwrite fails
    const bool stored = guarded_store(m.user(0, 0, 0), kStamp);
    EXPECT_FALSE(stored) << scheme;  // SIGBUS: refused
    EXPECT_EQ(t.count(Stat::kRefused), 1u) << scheme;
    const bool mutant = std::string(scheme) == "mutant:pte_write_before_mkwrite";
    EXPECT_EQ(m.races(RaceKind::kStoreAfterFailedMkwrite) > 0, mutant) << scheme;
    EXPECT_EQ(m.pte(0, 0) == kPteWritable, mutant) << scheme;
    uint64_t v = 0;
    ASSERT_TRUE(guarded_load(m.user(0, 0, 0), &v));
    EXPECT_EQ(v, 0u) << scheme;  // the refused store did not land
  }
}

// mutant:no_mapping_recheck (the truncate race the seed's `!mapping` check
// exists for), on an adapter whose mkwrite returns unlocked:
//   1. F stores to page 0 with no pte: ->fault, unlock, ->page_mkwrite
//      (request made, page unlocked again).
//   2. T truncates the file to zero: i_size, unmap, the page's request is
//      invalidated and the page leaves the cache (mapping = NULL).
//   3. F relocks the page.  `locked` sees !mapping and retries: the retry is
//      past EOF, so the store is refused (SIGBUS).  The mutant carries on and
//      installs a writable pte for the detached page (I5).
// Forced by: __do_fault:after_mkwrite < truncate:begin and
//            truncate:end < __do_fault:before_relock_page.
TEST(MutantTest, NoMappingRecheckTripsI5) {
  for (const char* scheme : {"mutant:no_mapping_recheck", "locked"}) {
    TestMachine m(scheme, "nfs:unlocked", 2, 2);
    CleanUnmappedPage(m);
    bool stored = true;
    const uint64_t skipped = RunPair(
        "__do_fault:after_mkwrite<truncate:begin,truncate:end<__do_fault:before_relock_page",
        "fault", [&] { stored = guarded_store(m.user(0, 0, 0), kStamp); }, "truncate",
        [&] { vmtruncate(*m.mm, 0); });
    const bool mutant = std::string(scheme) != "locked";
    EXPECT_EQ(skipped, 0u) << scheme;
    EXPECT_EQ(m.races(RaceKind::kPteAfterTruncate) > 0, mutant) << scheme << Describe(m);
    EXPECT_EQ(stored, mutant) << scheme << ": the retry past EOF must be refused";
  }
}

// vmtruncate removes the pages past the new end: ptes zapped, NFS requests
// cancelled, the store cut; faults past EOF are refused; growing back reads
// zeros.
TEST(TruncateTest, ShrinkRemovesPagesAndGrowReadsZeros) {
  TestMachine m("locked", "nfs", 4, 2);
  TestThread t("worker");
  for (uint64_t i = 0; i < 4; ++i) m.store(static_cast<int>(i % 2), i, 0, 100 + i);
  m.writeback();
  m.store(0, 3, 1, 7);  // page 3 dirty with a request again
  auto& nfs = static_cast<NfsAdapter&>(*m.fs);
  ASSERT_EQ(nfs.request_state(3), NfsAdapter::ReqState::kDirty);
  vmtruncate(*m.mm, 2 * static_cast<int64_t>(m.mm->page_size()));
  EXPECT_EQ(m.mm->mapping().find_get_page(2), nullptr);
  EXPECT_EQ(m.mm->mapping().find_get_page(3), nullptr);
  EXPECT_EQ(m.pte(1, 3), kPteNone);
  EXPECT_EQ(nfs.request_state(3), NfsAdapter::ReqState::kNone);
  EXPECT_EQ(m.persisted_slot(3, 0), 0u);
  uint64_t v;
  EXPECT_FALSE(guarded_load(m.user(0, 3, 0), &v));      // past EOF: SIGBUS
  EXPECT_FALSE(guarded_store(m.user(0, 2, 0), 1));
  EXPECT_TRUE(guarded_load(m.user(0, 1, 0), &v));       // below EOF: intact
  EXPECT_EQ(v, 101u);
  vmtruncate(*m.mm, 4 * static_cast<int64_t>(m.mm->page_size()));
  EXPECT_TRUE(guarded_load(m.user(1, 3, 0), &v));
  EXPECT_EQ(v, 0u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// NFS and a page wholly past EOF (fs/nfs/file.c:nfs_vm_page_mkwrite, v2.6.30
// and v2.6.29 alike: nfs_page_length() == 0 returns success — VM_FAULT_LOCKED
// in v2.6.30, 0 with the page unlocked in v2.6.29 — and makes no request):
//   0. setup: i_size is two pages; page 1 was stored to, written back and
//      committed: clean, read-only pte in mapping 0, no request.
//   1. F stores to page 1 -> do_wp_page: get_page, drops the ptl.
//   2. T shrinks the file to one page: i_size is set (page 1 now lies wholly
//      past EOF) but nothing is unmapped or removed yet.
//   3. F: nfs_vm_page_mkwrite locks page 1; the mapping is intact, pagelen is
//      0: success, no request.  do_wp_page retakes the ptl; pte_same holds
//      (T has not zapped), so the pte becomes writable and set_page_dirty
//      dirties a page NFS holds no request for.  F's store lands.
//   4. T: unmap_mapping_range zaps the pte; truncate_inode_pages locks page
//      1, cancels its dirtiness and removes it.  The store goes with it.
// Verdict: the kernel state of step 3 is real (writable, dirty, no request),
// but it is not a race: the only bytes a store can put in a page wholly past
// EOF are past EOF, which are not file data, and a page is wholly past EOF
// while still cached only inside the truncate that moved EOF, which drops it
// whatever its state.  The store is concurrent with the truncate, and the
// outcome is one that ordering allows (the store landed, then the truncate
// cut it off), as if no SIGBUS was due; no store that belongs to the file is
// lost.  The harness used to report I2 (dirty_without_metadata,
// data-losing: the pte was writable) at step 3 — a false race, since fixed
// in the oracle's view: I2 and I3 are not asked of a page wholly past EOF
// (PageState::past_eof).
// Forced by: truncate:after_i_size < do_wp_page:after_unlock_ptl and
//            generic_perform_write:after_lock_page < truncate:before_unmap
//            (F's pwrite to page 0 after its store marks the store done).
class NfsEofTest : public ::testing::TestWithParam<const char*> {
 protected:
  NfsEofTest() : m("locked", GetParam(), 2, 2) {
    TestThread t("setup");
    m.store(0, 1, 0, 1);
    m.writeback();
    EXPECT_EQ(m.pte(0, 1), kPteReadOnly);
    EXPECT_EQ(nfs().request_state(1), NfsAdapter::ReqState::kNone);
    page1 = m.mm->mapping().find_get_page(1);
  }
  ~NfsEofTest() override {
    if (page1) put_page(page1);
  }
  NfsAdapter& nfs() { return static_cast<NfsAdapter&>(*m.fs); }
  int64_t ps() const { return static_cast<int64_t>(m.mm->page_size()); }
  TestMachine m;
  Page* page1 = nullptr;
};

TEST_P(NfsEofTest, MkwritePastEofDirtiesWithoutARequestAndLosesNoFileData) {
  bool stored = false, dirty = false, writable = false, past_eof = false;
  NfsAdapter::ReqState req = NfsAdapter::ReqState::kDirty;
  const uint64_t skipped = RunPair(
      "truncate:after_i_size<do_wp_page:after_unlock_ptl,"
      "generic_perform_write:after_lock_page<truncate:before_unmap",
      "fault",
      [&] {
        stored = guarded_store(m.user(0, 1, 1), kStamp);
        // Step 3's state, while T waits before its unmap.
        dirty = PageDirty(page1);
        writable = m.pte(0, 1) == kPteWritable;
        req = nfs().request_state(1);
        past_eof = m.mm->mapping().i_size() <= ps();
        generic_perform_write(*m.mm, 0, 0, 7);
      },
      "truncate", [&] { vmtruncate(*m.mm, ps()); });
  TestThread t("check");
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  EXPECT_TRUE(stored);    // mkwrite succeeded: no SIGBUS, no retry
  EXPECT_TRUE(past_eof);  // ... for a page wholly past EOF
  EXPECT_TRUE(dirty);
  EXPECT_TRUE(writable);
  EXPECT_EQ(req, NfsAdapter::ReqState::kNone);  // and no request
  // Step 4: the truncate removed the page and the store with it.
  EXPECT_EQ(page1->mapping.load(), nullptr);
  EXPECT_EQ(m.pte(0, 1), kPteNone);
  EXPECT_EQ(nfs().nr_requests(), 1);  // page 0's, from F's pwrite
  m.writeback();
  m.mm->audit_all();
  sync_mapping(*m.mm, /*drain=*/true);
  EXPECT_EQ(m.persisted_slot(0, 0), 7u);
  EXPECT_EQ(m.persisted_slot(1, 1), 0u);
  // Grown back, page 1 reads zeros: the store was past EOF, not file data.
  vmtruncate(*m.mm, 2 * ps());
  TestThread w("worker");
  uint64_t v = 1;
  ASSERT_TRUE(guarded_load(m.user(1, 1, 1), &v));
  EXPECT_EQ(v, 0u);
  EXPECT_EQ(m.races(), 0u) << "bytes past EOF are not file data" << Describe(m);
}

// NFS and a page truncated under mkwrite (nfs_vm_page_mkwrite, v2.6.30 and
// v2.6.29 alike: `page->mapping` is not the inode's, -EINVAL, which v2.6.30
// maps to VM_FAULT_SIGBUS and v2.6.29's do_wp_page turns into
// VM_FAULT_SIGBUS because it is negative; neither returns VM_FAULT_NOPAGE,
// so neither retries):
//   0. setup: as above, page 1 clean and read-only in mapping 0.
//   1. F stores to page 1 -> do_wp_page: get_page, drops the ptl, calls
//      ->page_mkwrite, which has not locked the page yet.
//   2. T shrinks the file to one page (page 1 unmapped, removed from the
//      cache: mapping NULL), grows it back to two, and pwrites page 0.
//   3. F: lock_page, the mapping is gone: SIGBUS.  The store is refused —
//      though offset 1 of page 1 is inside i_size again, where a NOPAGE
//      retry would have faulted in a fresh page and landed it: I9, the
//      race 56a76f8275c3 closed for buffer.c and btrfs (v2.6.30) and not
//      for NFS (5.15's NFS retries).  Nothing is lost.
// Forced by: do_wp_page:after_unlock_ptl < truncate:begin and
//            generic_perform_write:after_lock_page <
//            page_mkwrite:before_lock_page.
TEST_P(NfsEofTest, TruncateUnderMkwriteRefusesTheStore) {
  bool stored = true;
  const uint64_t skipped = RunPair(
      "do_wp_page:after_unlock_ptl<truncate:begin,"
      "generic_perform_write:after_lock_page<page_mkwrite:before_lock_page",
      "fault", [&] { stored = guarded_store(m.user(0, 1, 1), kStamp); }, "truncate",
      [&] {
        vmtruncate(*m.mm, ps());
        vmtruncate(*m.mm, 2 * ps());
        generic_perform_write(*m.mm, 0, 0, 7);
      });
  TestThread t("worker");
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  EXPECT_FALSE(stored) << "mkwrite on a truncated page is SIGBUS, not a retry";
  EXPECT_EQ(page1->mapping.load(), nullptr);
  uint64_t v = 1;
  ASSERT_TRUE(guarded_load(m.user(0, 1, 1), &v));  // a fresh page, inside EOF
  EXPECT_EQ(v, 0u);                                // the refused store never landed
  EXPECT_TRUE(guarded_store(m.user(0, 1, 1), 5));  // the next store is fine
  m.writeback();
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(1, 1), 5u);
  EXPECT_EQ(m.races(RaceKind::kSigbusInsideIsize), 1u) << Describe(m);
  EXPECT_EQ(m.races(), 1u) << "nothing else: the refusal loses no data" << Describe(m);
}

INSTANTIATE_TEST_SUITE_P(Nfs, NfsEofTest, ::testing::Values("nfs", "nfs:unlocked"),
                         [](const auto& info) {
                           return std::string(info.param) == "nfs" ? std::string("v2_6_30")
                                                                   : std::string("v2_6_29");
                         });

// --- Reclaim (mm/vmscan.c:shrink_page_list and pageout, v2.6.29) ---
//
// Race R1 — the pte-dirty transfer meets retired fs metadata (legacy):
//   0. setup: page 0 clean, read-only in mapping 0, no fs metadata.
//   1. F stores to page 0 -> do_wp_page: ->page_mkwrite attaches the fs's
//      metadata and dirties the page; under `legacy` it returns unlocked.
//   2. W: a whole writeback pass: clear_page_dirty_for_io, ->writepage, the
//      write completes and the fs retires the page's metadata (NFS: at
//      COMMIT; ceph and btrfs: at the write's completion).
//   3. F retakes the ptl: pte_same holds, the pte becomes writable; F has
//      not called set_page_dirty yet, and holds no page lock.
//   4. W reclaims page 0: trylock_page succeeds; try_to_unmap clears F's
//      writable pte and moves its dirtiness into set_page_dirty, which meets
//      a page the fs's writeback already finished with.  What happens next
//      is the adapter's ->set_page_dirty, as in the kernel:
//        nfs     __set_page_dirty_nobuffers: PG_dirty, no request (I2);
//        btrfs   __set_page_dirty_nobuffers: PG_dirty, no delalloc (I2);
//        ceph    ceph_set_page_dirty attaches a fresh snap context: none;
//        buffer  __set_page_dirty_buffers re-dirties the kept buffers: none.
//      (`none` has no ->page_mkwrite, so no step 1 and nothing to retire.)
//      The I2 is read-only: no pte is writable and F's store has not
//      landed.  pageout() then refuses the page: F still holds the
//      reference do_wp_page took before ->page_mkwrite, so
//      is_page_cache_freeable fails (PAGE_KEEP), and so would
//      __remove_mapping.
//   5. F: wait_on_page_locked, set_page_dirty, return; its store finds the
//      pte gone, faults into __do_fault and ->page_mkwrite, which attaches
//      metadata again: the store reaches the backing store.
//   Forced by: do_wp_page:after_mkwrite < write_cache_pages:begin,
//              <retire> < do_wp_page:before_ptl_relock,
//              do_wp_page:after_pte_mkwrite < shrink_page:after_lock_page and
//              shrink_page:after_try_to_unmap < do_wp_page:before_set_page_dirty
//              (F's wait_on_page_locked may run before reclaim's trylock:
//              the last pair keeps F's set_page_dirty after the unmap).
struct TransferCase {
  const char* fs;
  const char* retire;  // the point after which the fs holds no metadata
  bool i2;             // reclaim's set_page_dirty meets no metadata
};

void PrintTo(const TransferCase& c, std::ostream* os) { *os << c.fs; }

std::string TransferDeps(const TransferCase& c) {
  return std::string("do_wp_page:after_mkwrite<write_cache_pages:begin,") + c.retire +
         "<do_wp_page:before_ptl_relock,do_wp_page:after_pte_mkwrite<shrink_page:after_lock_page,"
         "shrink_page:after_try_to_unmap<do_wp_page:before_set_page_dirty";
}

class ReclaimTransferTest : public ::testing::TestWithParam<TransferCase> {};

TEST_P(ReclaimTransferTest, LegacyTransferMeetsRetiredMetadata) {
  const TransferCase& c = GetParam();
  TestMachine m("legacy", c.fs, 2, 2);
  CleanReadOnlyPage(m);
  ShrinkResult r;
  const uint64_t skipped = RunPair(
      TransferDeps(c).c_str(), "fault", [&] { m.store(0, 0, 0, kStamp); }, "reclaim",
      [&] {
        m.writeback();
        r = shrink_page(*m.mm, 0);
      });
  TestThread t("check");
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  EXPECT_TRUE(r.pte_dirty) << "try_to_unmap found no writable pte";
  EXPECT_FALSE(r.paged_out) << "pageout wrote a page the fault still holds";
  EXPECT_FALSE(r.evicted);
  uint64_t i2 = 0, i2_writable = 0;
  for (const RaceGroup& g : m.mm->oracle().Groups()) {
    if (g.first.kind != RaceKind::kDirtyWithoutMetadata) continue;
    ++i2;
    if (IsWritableI2(g)) ++i2_writable;
  }
  EXPECT_EQ(i2 > 0, c.i2) << Describe(m);
  EXPECT_EQ(i2_writable, 0u) << Describe(m);
  EXPECT_EQ(m.mm->oracle().data_losing_total(), 0u) << Describe(m);
  EXPECT_EQ(m.load(1, 0, 0), kStamp);
  m.writeback();
  m.mm->audit_all();
  sync_mapping(*m.mm, /*drain=*/true);
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp) << "the re-fault heals: the store is kept";
  EXPECT_EQ(m.races(), i2) << "nothing but reclaim's I2" << Describe(m);
}

INSTANTIATE_TEST_SUITE_P(
    Adapters, ReclaimTransferTest,
    ::testing::Values(TransferCase{"nfs", "commit:end", true},
                      TransferCase{"nfs:unlocked", "commit:end", true},
                      TransferCase{"btrfs", "end_io:done", true},
                      TransferCase{"ceph", "end_io:done", false},
                      TransferCase{"buffer", "end_io:done", false}),
    [](const auto& info) {
      std::string n = info.param.fs;
      for (char& ch : n) {
        if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return n;
    });

// The same interleaving under `locked`: ->page_mkwrite returns with the page
// locked and the VM keeps it through set_page_dirty, so writeback cannot run
// in step 2 nor reclaim lock the page in step 4.
TEST(ReclaimTransferLockedTest, LockedForbidsIt) {
  TestMachine m("locked", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  // Race R1's first three dependencies: its fourth would wait for a
  // try_to_unmap that never comes, since reclaim's trylock_page fails here.
  const uint64_t skipped = RunPair(
      "do_wp_page:after_mkwrite<write_cache_pages:begin,commit:end<do_wp_page:before_ptl_relock,"
      "do_wp_page:after_pte_mkwrite<shrink_page:after_lock_page",
      "fault",
      [&] { m.store(0, 0, 0, kStamp); }, "reclaim",
      [&] {
        m.writeback();
        shrink_page(*m.mm, 0);
      });
  TestThread t("check");
  EXPECT_GE(skipped, 1u) << "the page lock should forbid this interleaving";
  sync_mapping(*m.mm, /*drain=*/true);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp);
}

// Race R2 — pageout() and legacy's window (v2.6.29 do_wp_page takes a page
// reference before ->page_mkwrite and drops it after set_page_dirty):
//   0. setup: page 0 clean, read-only in mapping 0, no request.
//   1. F stores -> do_wp_page: get_page, ->page_mkwrite makes a request and
//      dirties the page, returns unlocked (the window is open).
//   2. W reclaims page 0: trylock_page succeeds (nobody holds the lock);
//      try_to_unmap clears the read-only pte (nothing to transfer); the page
//      is dirty, so pageout() -- but is_page_cache_freeable sees F's
//      reference: PAGE_KEEP, no ->writepage.  Reclaim's pageout cannot
//      enter a fault's window; only write_cache_pages, which checks no
//      reference count, can (race 1).
//   3. F retakes the ptl: the pte changed (pte_same fails), F retries; the
//      store re-faults through __do_fault and lands.
//   Forced by: do_wp_page:after_mkwrite < shrink_page:begin and
//              shrink_page:after_try_to_unmap < do_wp_page:before_ptl_relock.
TEST(ReclaimPageoutTest, PageoutCannotEnterLegacysWindow) {
  TestMachine m("legacy", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  // Completes any write reclaim starts, so a model whose pageout does enter
  // the window fails the checks below rather than hanging F's re-fault
  // (nfs_updatepage waits for the write in flight).
  TestIoThread io(m);
  ShrinkResult r;
  const uint64_t skipped = RunPair(
      "do_wp_page:after_mkwrite<shrink_page:begin,"
      "shrink_page:after_try_to_unmap<do_wp_page:before_ptl_relock",
      "fault", [&] { m.store(0, 0, 0, kStamp); }, "reclaim", [&] { r = shrink_page(*m.mm, 0); });
  TestThread t("check");
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  EXPECT_FALSE(r.pte_dirty);
  EXPECT_FALSE(r.paged_out) << "is_page_cache_freeable must see the fault's reference";
  EXPECT_FALSE(r.evicted);
  EXPECT_EQ(sched::Hits(sched::kPageoutAfterClearDirty), 0u);
  sync_mapping(*m.mm, /*drain=*/true);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp);
}

// Race R3 — pageout() writes outside write_cache_pages, and makes the seed's
// loss permanent by itself (legacy, NFS):
//   1-3. race 1 (kRace1): writeback retires the request inside legacy's
//      window; F dirties a writable page NFS holds no request for (I2,
//      writable) and its store lands.
//   4. reclaim (no writeback thread): try_to_unmap clears the writable pte
//      (the page is already PG_dirty: set_page_dirty does nothing new);
//      pageout(): no fault holds the page now, clear_page_dirty_for_io,
//      ->writepage with wbc.for_reclaim -- NFS has no request and sends
//      nothing (I3); the page is clean, so reclaim relocks it, releases it
//      and __remove_mapping frees it: the clean page differs from the
//      server (I0), and the next load reads the server's old bytes.
// Under `locked` the same interleaving is forbidden (race 1's test): the
// store reaches the server, whichever of writeback and pageout writes it.
TEST(ReclaimPageoutTest, PageoutMakesTheSeedsLossPermanent) {
  TestMachine m("legacy", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  const uint64_t skipped = RunPair(
      kRace1, "fault", [&] { m.store(0, 0, 0, kStamp); }, "writeback", [&] { m.writeback(); });
  TestThread t("reclaim");
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  ASSERT_GE(m.races(RaceKind::kDirtyWithoutMetadata), 1u);
  const uint64_t writebacks = t.count(Stat::kWritebacks);
  ShrinkResult r = shrink_page(*m.mm, 0);
  EXPECT_TRUE(r.pte_dirty);
  EXPECT_TRUE(r.paged_out);
  EXPECT_EQ(t.count(Stat::kWritebacks), writebacks + 1) << "->writepage from reclaim";
  EXPECT_TRUE(r.evicted) << "NFS sent nothing, so the page was clean at once";
  EXPECT_GE(m.races(RaceKind::kWritepageWithoutMetadata), 1u) << Describe(m);
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << Describe(m);
  EXPECT_NE(m.persisted_slot(0, 0), kStamp);
  EXPECT_NE(m.load(1, 0, 0), kStamp);  // re-read from the server: lost
}

TEST(ReclaimPageoutTest, LockedKeepsTheStoreThroughPageout) {
  TestMachine m("locked", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  const uint64_t skipped = RunPair(
      kRace1, "fault", [&] { m.store(0, 0, 0, kStamp); }, "writeback", [&] { m.writeback(); });
  TestThread t("reclaim");
  EXPECT_EQ(skipped, 1u) << "the page lock should forbid this interleaving";
  m.store(0, 0, 1, kStamp);  // dirty and writable again, for pageout
  ShrinkResult r = shrink_page(*m.mm, 0);
  EXPECT_TRUE(r.pte_dirty);
  EXPECT_TRUE(r.paged_out);
  EXPECT_FALSE(r.evicted);  // under writeback
  m.mm->io().Drain();
  m.mm->a_ops().commit();
  EXPECT_TRUE(shrink_page(*m.mm, 0).evicted);
  EXPECT_EQ(m.load(1, 0, 0), kStamp);
  EXPECT_EQ(m.load(1, 0, 1), kStamp);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// pagevec_strip (v2.6.29 shrink_active_list while buffer_heads_over_limit):
// a clean, mapped buffer.c page loses its buffer heads and stays cached and
// mapped; a dirty one keeps them (try_to_free_buffers: a dirty buffer is
// busy); NFS keeps a page with a request (nfs_release_page).  The stripped
// page's next store faults into ->page_mkwrite, which rebuilds the buffers
// from the block map without allocating, and writeback writes it.
// v2.6.30 ext4 returns from ->page_mkwrite unlocked (its early return when
// every buffer is mapped), so under the seed's VM reclaim can strip the
// page's buffer heads before the VM relocks it:
//   0. setup: page 0 clean, read-only in mapping 0, buffers attached and
//      every block allocated.
//   1. F stores -> do_wp_page -> ext4_page_mkwrite: all buffers mapped,
//      return 0 with the page unlocked.
//   2. R (pagevec_strip, buffer heads over their limit): trylock_page,
//      try_to_release_page: clean buffers, so they go.
//   3. F relocks, pte writable, set_page_dirty: __set_page_dirty_buffers
//      finds no buffers and dirties the page alone.
//   4. Writeback: __block_write_full_page creates the buffers again and
//      get_block finds the blocks: the store reaches the disk.
// Nothing is lost, and no oracle may say otherwise (the buffer adapter
// judges a page without buffer heads by the block map).  Found as a false
// I2 in the matrix's locked/buffer:ext4_v2.6.30 cell.
constexpr char kStripInExt4Window[] =
    "do_wp_page:after_mkwrite<pagevec_strip:begin,"
    "pagevec_strip:end<do_wp_page:before_relock_page";

TEST(ReclaimStripTest, StripInExt4V2630WindowLosesNothing) {
  TestMachine m("locked", "buffer:ext4_v2.6.30", 2, 2);
  CleanReadOnlyPage(m);
  bool stripped = false;
  const uint64_t skipped = RunPair(
      kStripInExt4Window, "fault", [&] { m.store(0, 0, 0, kStamp); }, "reclaim",
      [&] { stripped = pagevec_strip(*m.mm, 0); });
  EXPECT_EQ(skipped, 0u) << "the interleaving was not forced";
  EXPECT_TRUE(stripped);
  TestThread t("check");
  Page* p = m.mm->mapping().find_get_page(0);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_FALSE(PagePrivate(p)) << "dirtied without buffers";
  put_page(p);
  m.mm->audit_all();
  m.writeback();
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(0, 0), kStamp);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

TEST(ReclaimStripTest, StripsCleanMappedBuffersOnly) {
  TestMachine m("locked", "buffer", 2, 2);
  TestThread t("worker");
  m.store(0, 0, 0, 1);
  m.store(0, 1, 0, 1);
  m.writeback();
  m.store(0, 1, 0, 2);  // page 1 dirty again, buffers dirty
  Page* p0 = m.mm->mapping().find_get_page(0);
  Page* p1 = m.mm->mapping().find_get_page(1);
  ASSERT_TRUE(PagePrivate(p0));
  EXPECT_TRUE(pagevec_strip(*m.mm, 0));
  EXPECT_FALSE(PagePrivate(p0));
  EXPECT_EQ(m.pte(0, 0), kPteReadOnly);  // still mapped...
  EXPECT_EQ(m.mm->mapping().find_get_page(0), p0);  // ...and cached
  put_page(p0);
  EXPECT_FALSE(pagevec_strip(*m.mm, 1));
  EXPECT_TRUE(PagePrivate(p1));
  m.store(0, 0, 0, 3);  // re-faults: block_page_mkwrite rebuilds the buffers
  EXPECT_TRUE(PagePrivate(p0));
  m.writeback();
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(0, 0), 3u);
  EXPECT_EQ(m.persisted_slot(1, 0), 2u);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  put_page(p0);
  put_page(p1);

  TestMachine n("locked", "nfs", 2, 2);
  n.store(0, 0, 0, 1);  // a dirty request
  EXPECT_FALSE(pagevec_strip(*n.mm, 0));
  n.writeback();  // committed: the request is gone, and PG_private with it
  EXPECT_FALSE(pagevec_strip(*n.mm, 0)) << "no private data left to strip";
}

// `modern` closes the seed's windows as `locked` does.
TEST(ModernTest, ClosesTheDoWpPageWindow) {
  TestMachine m("modern", "nfs", 2, 2);
  CleanReadOnlyPage(m);
  Outcome o = RunInterleaving(m, kRace1);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
  EXPECT_TRUE(o.store_persisted);
}

// Each scheme's write fault on a not-present pte fires the schedule points of
// the kernel function it models: __do_fault:* for the v2.6.29/30 schemes,
// do_shared_fault:* for `modern`; never do_wp_page:*, which belong to the
// present-pte path.
TEST(SchedPointTest, NotPresentWriteFiresItsOwnEraPoints) {
  for (const char* scheme : {"legacy", "locked", "naive", "modern"}) {
    TestMachine m(scheme, "nfs", 2, 2);
    TestThread t("worker");
    sched::Reset();
    sched::Options so;
    so.policy = sched::Policy::kJitter;  // counts points; the rare delay is harmless
    so.jitter_max_us = 1;
    sched::Configure(so);
    m.store(0, 0, 0, kStamp);  // no pte yet: the not-present write path
    const bool modern = std::string(scheme) == "modern";
    EXPECT_EQ(sched::Hits(sched::kDoFaultAfterFault), modern ? 0u : 1u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoFaultBeforePtlLock), modern ? 0u : 1u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoSharedFaultAfterFault), modern ? 1u : 0u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoSharedFaultAfterMkwrite), modern ? 1u : 0u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoSharedFaultBeforePtlLock), modern ? 1u : 0u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoSharedFaultBeforeSetPageDirty), modern ? 1u : 0u)
        << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoWpPageAfterMkwrite), 0u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kDoWpPageBeforeRelockPage), 0u) << scheme;
    EXPECT_EQ(sched::Hits(sched::kFaultAfterSetPageDirty), 1u) << scheme;
    sched::Reset();
    EXPECT_EQ(m.races(), 0u) << scheme << Describe(m);
  }
}

}  // namespace
}  // namespace pagerace
