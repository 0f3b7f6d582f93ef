// The btrfs adapter: space reserved before the page lock and turned into
// delalloc, consumed by writeback; the fixup path for a page dirtied behind
// btrfs's back (v2.6.30: asynchronous and unreserved; 5.15: reserves late and
// drops the data on ENOSPC).
#include "fs_adapters/btrfs.h"

#include "harness/mm/filemap.h"
#include "harness/mm/truncate.h"
#include "test_machine.h"

namespace pagerace {
namespace {

BtrfsAdapter& btrfs(TestMachine& m) { return static_cast<BtrfsAdapter&>(*m.fs); }

TEST(BtrfsTest, MkwriteReservesAndSetsDelalloc) {
  TestMachine m("locked", "btrfs", 4, 2);
  TestThread t("worker");
  const int64_t free0 = btrfs(m).free_space();
  m.store(0, 1, 0, 5);
  EXPECT_TRUE(btrfs(m).delalloc(1));
  EXPECT_EQ(btrfs(m).free_space(), free0 - 1);
  m.store(1, 1, 1, 6);  // the same page again: no second reservation kept
  EXPECT_EQ(btrfs(m).free_space(), free0 - 1);
  m.writeback();
  EXPECT_FALSE(btrfs(m).delalloc(1));
  EXPECT_EQ(btrfs(m).free_space(), free0);
  EXPECT_EQ(m.persisted_slot(1, 0), 5u);
  EXPECT_EQ(m.persisted_slot(1, 1), 6u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

TEST(BtrfsTest, TruncateReleasesTheReservation) {
  TestMachine m("locked", "btrfs", 4, 2);
  TestThread t("worker");
  const int64_t free0 = btrfs(m).free_space();
  m.store(0, 3, 0, 5);
  vmtruncate(*m.mm, 2 * static_cast<int64_t>(m.mm->page_size()));
  EXPECT_EQ(btrfs(m).free_space(), free0);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

// A page dirty without delalloc (dirtied behind btrfs's back).
Page* DirtyBehindBtrfsBack(TestMachine& m, uint64_t index, uint64_t value) {
  bool created;
  Page* p = m.mm->mapping().find_or_create_page(index, &created);  // locked
  SetPageFlag(p, PG_uptodate);
  reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(index))[0] = value;
  __set_page_dirty_nobuffers(p);
  unlock_page(p);
  return p;
}

// 5.15 (modern): btrfs_writepage_cow_fixup queues the worker and returns
// -EAGAIN, so the pass redirties the page; the worker reserves late and sets
// delalloc, and the next pass writes it.  I3 reports the page writepage met
// unprepared.
TEST(BtrfsTest, V515FixupWritesAPageDirtiedBehindItsBack) {
  TestMachine m("modern", "btrfs", 4, 2);
  TestThread t("worker");
  Page* p = DirtyBehindBtrfsBack(m, 0, 7);
  const int64_t free0 = btrfs(m).free_space();
  m.writeback();
  EXPECT_EQ(btrfs(m).fixups(), 1u);
  EXPECT_TRUE(PageDirty(p)) << "-EAGAIN: redirty_page_for_writepage";
  EXPECT_TRUE(btrfs(m).delalloc(0)) << "the worker set delalloc";
  EXPECT_EQ(btrfs(m).free_space(), free0 - 1) << "with a reservation";
  EXPECT_EQ(m.persisted_slot(0, 0), 0u);
  m.writeback();
  EXPECT_EQ(btrfs(m).fixups(), 1u);
  EXPECT_EQ(btrfs(m).dropped(), 0u);
  EXPECT_EQ(m.persisted_slot(0, 0), 7u);
  EXPECT_EQ(m.races(RaceKind::kWritepageWithoutMetadata), 1u);
  put_page(p);
}

// v2.6.30 (locked): btrfs_writepage_start_hook queues the fixup worker and
// returns -EAGAIN, so the first pass redirties the page and writes nothing;
// the worker sets delalloc without a reservation; the next pass writes it.
TEST(BtrfsTest, V2630FixupRedirtiesAndWritesOnTheNextPass) {
  TestMachine m("locked", "btrfs", 4, 2);
  TestThread t("worker");
  Page* p = DirtyBehindBtrfsBack(m, 0, 7);
  const int64_t free0 = btrfs(m).free_space();
  m.writeback();
  EXPECT_EQ(btrfs(m).fixups(), 1u);
  EXPECT_TRUE(PageDirty(p)) << "-EAGAIN: redirty_page_for_writepage";
  EXPECT_TRUE(btrfs(m).delalloc(0)) << "the fixup worker ran at the end of the pass";
  EXPECT_EQ(btrfs(m).free_space(), free0) << "no space was reserved for it";
  EXPECT_EQ(m.persisted_slot(0, 0), 0u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(0, 0), 7u);
  EXPECT_EQ(btrfs(m).fixups(), 1u);
  EXPECT_EQ(m.races(RaceKind::kWritepageWithoutMetadata), 1u);
  EXPECT_EQ(m.races(RaceKind::kKernelBug), 0u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(RaceKind::kCounterDrift), 0u);
  put_page(p);
}

TEST(BtrfsTest, V515FixupDropsTheDataOnEnospc) {
  TestMachine m("modern", "btrfs", 4, 2);
  TestThread t("worker");
  ASSERT_TRUE(m.fs->InjectMkwriteFailures(1000));  // one page of space in all
  Page* p0 = DirtyBehindBtrfsBack(m, 0, 7);
  Page* p1 = DirtyBehindBtrfsBack(m, 1, 9);
  // Both go to the fixup worker, which runs page 1's first (the queue's
  // last): it takes the one page of space, and page 0's late reservation
  // fails: a mapping error, the page cleaned, its data dropped.
  m.writeback();
  EXPECT_EQ(btrfs(m).fixups(), 2u);
  EXPECT_EQ(btrfs(m).dropped(), 1u);
  EXPECT_FALSE(PageDirty(p0)) << "ENOSPC: clear_page_dirty_for_io";
  EXPECT_TRUE(PageDirty(p1));
  EXPECT_EQ(btrfs(m).free_space(), 0);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(0, 0), 0u);
  EXPECT_EQ(m.persisted_slot(1, 0), 9u);
  m.mm->audit_all();
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u);  // clean, and not on disk
  put_page(p0);
  put_page(p1);
}

// v2.6.30 on a full file system: the worker's unreserved delalloc meets
// cow_file_range with no extent to allocate: BUG_ON(ret), a crash.
TEST(BtrfsTest, V2630FixupHitsBugOnAFullFileSystem) {
  TestMachine m("locked", "btrfs", 4, 2);
  TestThread t("worker");
  ASSERT_TRUE(m.fs->InjectMkwriteFailures(1000));  // one page of space in all
  Page* p = DirtyBehindBtrfsBack(m, 0, 7);
  m.writeback();  // -EAGAIN; the worker sets delalloc, reserving nothing
  ASSERT_TRUE(btrfs(m).delalloc(0));
  m.store(0, 1, 0, 5);  // ->page_mkwrite takes the only page of space
  ASSERT_EQ(btrfs(m).free_space(), 0);
  m.writeback();  // page 0 first: cow_file_range finds no extent
  EXPECT_EQ(m.races(RaceKind::kKernelBug), 1u);
  EXPECT_EQ(m.persisted_slot(0, 0), 0u);
  EXPECT_EQ(m.persisted_slot(1, 0), 5u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(RaceKind::kCounterDrift), 0u);
  put_page(p);
}

// I4 both ways: a second write to a page that already has delalloc must give
// its reservation back; the leak_reservation mutant keeps it, and space is no
// longer conserved.
class BtrfsReservationTest : public ::testing::TestWithParam<const char*> {};

TEST_P(BtrfsReservationTest, SecondReservationOfAPageIsReleased) {
  const bool mutant = std::string(GetParam()) == "btrfs:leak_reservation";
  TestMachine m("locked", GetParam(), 4, 2);
  TestThread t("worker");
  const int64_t free0 = btrfs(m).free_space();
  m.store(0, 1, 0, 5);                                  // mkwrite: reserve, delalloc
  ASSERT_TRUE(generic_perform_write(*m.mm, 1, 1, 6));   // again, through pwrite
  EXPECT_EQ(btrfs(m).free_space(), mutant ? free0 - 2 : free0 - 1);
  m.mm->audit_all();
  EXPECT_EQ(m.races(RaceKind::kCounterDrift), mutant ? 1u : 0u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 1), 6u);  // the data is fine either way
}

INSTANTIATE_TEST_SUITE_P(Btrfs, BtrfsReservationTest,
                         ::testing::Values("btrfs", "btrfs:leak_reservation"),
                         [](const auto& info) {
                           return std::string(info.param) == "btrfs" ? std::string("releases")
                                                                     : std::string("mutant");
                         });

}  // namespace
}  // namespace pagerace
