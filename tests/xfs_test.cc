// The XFS adapter (fs_adapters/xfs.h): its forced races and what each of its
// kernel releases does with them.  5.15 (`xfs`, `xfs:1k`: iomap, the
// MMAPLOCK, no ->writepage) and v2.6.30 (`xfs:v2.6.30`: block_page_mkwrite,
// a writepage that allocates).
#include <cstdint>

#include "fs_adapters/xfs.h"
#include "gtest/gtest.h"
#include "harness/mm/filemap.h"
#include "harness/mm/truncate.h"
#include "harness/mm/writeback.h"
#include "tests/forced_race.h"
#include "tests/test_machine.h"

namespace pagerace {
namespace {

XfsAdapter& Xfs(TestMachine& m) { return *static_cast<XfsAdapter*>(m.fs); }

// iomap_page_mkwrite reserves delalloc for the blocks inside i_size, and
// writeback converts it: the store reaches the disk, the blocks stay mapped
// and the space is conserved.
TEST(XfsTest, MkwriteReservesDelallocAndWritebackConvertsIt) {
  for (const char* fs : {"xfs", "xfs:1k", "xfs:v2.6.30"}) {
    TestMachine m("modern", fs, 4, 1);
    TestThread t("main");
    const int64_t free = Xfs(m).free_blocks();
    m.store(0, 1, 0, kStamp);
    const uint32_t all = std::string(fs) == "xfs" ? 0x1u : 0xfu;  // 4 KiB pages
    EXPECT_EQ(Xfs(m).delay_mask(1), all) << fs;
    EXPECT_EQ(Xfs(m).mapped_mask(1), 0u) << fs;
    EXPECT_LT(Xfs(m).free_blocks(), free) << fs;
    m.writeback();
    EXPECT_EQ(Xfs(m).delay_mask(1), 0u) << fs;
    EXPECT_EQ(Xfs(m).mapped_mask(1), all) << fs;
    EXPECT_EQ(m.persisted_slot(1, 0), kStamp) << fs;
    m.mm->audit_all();
    EXPECT_EQ(m.races(), 0u) << fs << Describe(m);
  }
}

// A full disk: iomap_page_mkwrite's reservation fails (ENOSPC), the fault
// is SIGBUS and the store never lands.
TEST(XfsTest, MkwriteOnAFullDiskIsSigbus) {
  TestMachine m("modern", "xfs:1k", 4, 1);
  TestThread t("main");
  Xfs(m).set_free_blocks(0);
  EXPECT_FALSE(guarded_store(m.user(0, 2, 0), kStamp));
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// mm/vmscan.c:pageout() (v2.6.29 and 5.15): 5.15 XFS has no ->writepage, so
// reclaim activates a dirty page instead of writing it; v2.6.30 XFS has one
// and the page is paged out.  Either way nothing is lost.
TEST(XfsTest, ReclaimKeepsA515PageAndPagesOutAV2630One) {
  for (const char* fs : {"xfs", "xfs:v2.6.30"}) {
    TestMachine m("modern", fs, 4, 1);
    TestThread t("reclaim");
    m.store(0, 1, 0, kStamp);
    const ShrinkResult r = shrink_page(*m.mm, 1);
    EXPECT_TRUE(r.pte_dirty) << fs;
    EXPECT_EQ(r.paged_out, std::string(fs) == "xfs:v2.6.30") << fs;
    m.mm->io().Drain();
    m.writeback();
    sync_mapping(*m.mm, /*drain=*/true);
    EXPECT_EQ(m.persisted_slot(1, 0), kStamp) << fs;
    EXPECT_EQ(m.races(), 0u) << fs << Describe(m);
  }
}

// The partial-EOF growth race (forced_race.h, RunIsizeRace), on a full disk:
//   0. setup: i_size ends 1 KiB into page 3, whose first block alone is
//      allocated; page 3 clean, read-only in mapping 0.
//   1. F stores to page 3 -> do_wp_page -> ->page_mkwrite: delalloc for the
//      block inside the *old* i_size (one).
//   2. T grows the file to 4 pages.
//   3. F: pte writable, set_page_dirty.  A store at 3 KiB, now inside i_size,
//      lands without a fault in a block with no place.
//   4. Writeback.
// v2.6.30 (`xfs:v2.6.30`): growth only writes i_size (xfs_setattr ->
// vmtruncate); xfs_page_state_convert allocates the hole (BMAPI_MMAP), the
// full disk refuses, and the whole page is dropped (ClearPageUptodate, not
// redirtied): the store is lost, under legacy and locked alike.
TEST(XfsIsizeRaceTest, V2630LosesThePageUnderLegacyAndLocked) {
  for (const char* scheme : {"legacy", "locked"}) {
    TestMachine m(scheme, "xfs:v2.6.30", 4, 2);
    IsizeOutcome o = RunIsizeRace(m);
    EXPECT_EQ(o.skipped, 0u) << scheme << ": the interleaving was not forced";
    EXPECT_TRUE(o.second_store_landed) << scheme;  // no fault: the pte was writable
    EXPECT_FALSE(o.persisted) << scheme;
    EXPECT_GE(Xfs(m).mapping_errors(), 1u) << scheme;
    EXPECT_GE(m.races(RaceKind::kLostDirty), 1u) << scheme << Describe(m);
  }
}

// 5.15 with 1 KiB blocks: xfs_setattr_size holds the MMAPLOCK and the EOF
// page's lock across the growth, whose truncate_setsize ->
// pagecache_isize_extended write-protects page 3: step 2 cannot come
// between F's ->page_mkwrite and its pte update, and the store of step 3
// faults and is refused (ENOSPC).
TEST(XfsIsizeRaceTest, V515WriteProtectsTheOldEofPage) {
  TestMachine m("modern", "xfs:1k", 4, 2);
  IsizeOutcome o = RunIsizeRace(m);
  EXPECT_GE(o.skipped, 1u) << "the page lock should forbid this interleaving";
  EXPECT_FALSE(o.second_store_landed);  // it faulted: ENOSPC, SIGBUS
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// 5.15 with 4 KiB blocks: the page is one block, reserved whole by the
// first ->page_mkwrite, so a store past the old EOF lands in a block with a
// place and is written (pagecache_isize_extended returns at once).
TEST(XfsIsizeRaceTest, V515With4kBlocksKeepsTheStore) {
  TestMachine m("modern", "xfs", 4, 2);
  const int64_t ps = static_cast<int64_t>(m.mm->page_size());
  TestThread t("main");
  vmtruncate(*m.mm, 3 * ps + 1024);
  m.store(0, 3, 0, 1);
  vmtruncate(*m.mm, 4 * ps);
  EXPECT_TRUE(guarded_store(m.user(0, 3, kSlotInLastBuffer), kStamp));
  sync_mapping(*m.mm, /*drain=*/true);
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(3, kSlotInLastBuffer), kStamp);
  EXPECT_EQ(m.races(), 0u) << Describe(m);
}

// Growth under a writable pte with free space, under v2.6.30's VM (growth
// only writes i_size; no race needed: the pte stays writable across it).
// v2.6.30 XFS: writepage allocates the hole and writes the store.  5.15's
// iomap XFS under that VM (a mix that never shipped: 5.15 has
// pagecache_isize_extended) shows what the v3.18 fix prevents there:
// iomap_writepage_map skips the hole and the store is lost silently.
TEST(XfsIsizeRaceTest, GrowthUnderAWritablePte) {
  for (const char* fs : {"xfs:v2.6.30", "xfs:1k"}) {
    const bool v2630 = std::string(fs) == "xfs:v2.6.30";
    TestMachine m("locked", fs, 4, 1);
    const int64_t ps = static_cast<int64_t>(m.mm->page_size());
    TestThread t("main");
    vmtruncate(*m.mm, 3 * ps + 1024);
    m.store(0, 3, 0, 1);
    vmtruncate(*m.mm, 4 * ps);
    EXPECT_TRUE(guarded_store(m.user(0, 3, kSlotInLastBuffer), kStamp)) << fs;
    sync_mapping(*m.mm, /*drain=*/true);
    m.mm->audit_all();
    if (v2630) {
      EXPECT_EQ(m.persisted_slot(3, kSlotInLastBuffer), kStamp);
      EXPECT_EQ(m.races(), 0u) << Describe(m);
    } else {
      EXPECT_NE(m.persisted_slot(3, kSlotInLastBuffer), kStamp);
      EXPECT_GE(Xfs(m).dropped_blocks(), 1u);
      EXPECT_GE(m.races(), 1u);
    }
  }
}

// The MMAPLOCK (5.15's invalidate_lock): xfs_setattr_size holds it for
// writing across the size change, the write fault for reading around
// iomap_page_mkwrite.  A fault cannot reach the page lock inside a
// truncate under 5.15 (whichever takes the lock first, the other waits: the
// truncate's i_size write comes after it took the lock); v2.6.30's fault
// takes no XFS lock.
TEST(XfsTest, TheMmaplockKeepsTheFaultOutOfTruncate) {
  constexpr char kDeps[] =
      "truncate:after_i_size<page_mkwrite:before_lock_page,"
      "page_mkwrite:before_lock_page<truncate:end";
  for (const char* fs : {"xfs", "xfs:v2.6.30"}) {
    TestMachine m(std::string(fs) == "xfs" ? "modern" : "locked", fs, 4, 1);
    CleanReadOnlyPage(m);
    const int64_t ps = static_cast<int64_t>(m.mm->page_size());
    const uint64_t skipped = RunPair(
        kDeps, "fault", [&] { guarded_store(m.user(0, 0, 0), kStamp); }, "truncate",
        [&] { vmtruncate(*m.mm, 3 * ps); });
    if (std::string(fs) == "xfs") {
      EXPECT_GE(skipped, 1u) << "the MMAPLOCK should forbid this interleaving";
    } else {
      EXPECT_EQ(skipped, 0u) << fs << ": the interleaving was not forced";
    }
    EXPECT_EQ(m.races(), 0u) << fs << Describe(m);
  }
}

// The seed's window under legacy (v2.6.29's do_wp_page: writeback between
// ->page_mkwrite and set_page_dirty): the page's blocks keep their place
// across writeback and set_page_dirty redirties the page, so the store is
// written by the next pass.
TEST(XfsTest, TheSeedWindowLosesNothing) {
  for (const char* fs : {"xfs", "xfs:1k", "xfs:v2.6.30"}) {
    TestMachine m("legacy", fs, 4, 1);
    CleanReadOnlyPage(m);
    const Outcome o =
        RunInterleaving(m, "do_wp_page:after_mkwrite<write_cache_pages:begin,"
                           "write_cache_pages:end<do_wp_page:before_ptl_relock");
    EXPECT_EQ(o.ordered_skipped, 0u) << fs;
    EXPECT_TRUE(o.store_persisted) << fs;
    EXPECT_EQ(o.losing, 0u) << fs << Describe(m);
  }
}

}  // namespace
}  // namespace pagerace
