// Dirty accounting (NR_FILE_DIRTY, address_space.h) and I10, validated both
// ways: every path that sets PG_dirty through set_page_dirty counts the
// page, every path that clears it un-counts it, and un-counting a page
// whose PG_dirty was set by hand (a bare SetPageDirty, as NFS's
// ->releasepage did before e3db7691e9f3) is reported.
#include "harness/mm/address_space.h"
#include "harness/mm/invalidate.h"
#include "harness/mm/migrate.h"
#include "harness/mm/truncate.h"
#include "test_machine.h"

namespace pagerace {
namespace {

struct Accounting : ::testing::Test {
  TestMachine m{"modern", "none"};
  TestThread t{"worker"};
  AddressSpace& mapping() { return m.mm->mapping(); }
  Page* page(uint64_t i) { return mapping().find_get_page(i); }
};

// Silent on the correct paths: a store counts the page, writeback's
// clear_page_dirty_for_io un-counts it, and the count ends at zero.
TEST_F(Accounting, SetPageDirtyCountsAndWritebackUnCounts) {
  m.store(0, 1, 0, 7);
  EXPECT_EQ(mapping().nr_file_dirty(), 1);
  m.store(0, 1, 1, 8);  // already dirty: counted once
  EXPECT_EQ(mapping().nr_file_dirty(), 1);
  m.writeback();
  EXPECT_EQ(mapping().nr_file_dirty(), 0);
  EXPECT_EQ(m.races(), 0u);
}

// Truncation's cancel_dirty_page un-counts a dirty page it throws away.
TEST_F(Accounting, TruncateCancelsACountedPage) {
  m.store(0, 2, 0, 7);
  m.store(0, 3, 0, 7);
  EXPECT_EQ(mapping().nr_file_dirty(), 2);
  vmtruncate(*m.mm, static_cast<int64_t>(2 * m.mm->page_size()));
  EXPECT_EQ(mapping().nr_file_dirty(), 0);
  EXPECT_EQ(m.races(), 0u);
}

// Migration moves the page's share with PG_dirty (buffer_migrate_page,
// 5.15): the new page is un-counted by the next writeback without a report.
TEST(AccountingMigrateTest, MigrationMovesTheShareWithPgDirty) {
  TestMachine m{"modern", "buffer"};
  TestThread t{"worker"};
  m.store(0, 0, 0, 7);
  m.mm->mmu().zap_index(0);  // unmapped: nothing holds the page but the cache
  Page* before = m.mm->mapping().find_get_page(0);
  put_page(before);
  ASSERT_EQ(migrate_page_one(*m.mm, 0), MigrateResult::kMoved);
  Page* after = m.mm->mapping().find_get_page(0);
  EXPECT_NE(before, after);
  EXPECT_TRUE(PageDirty(after));
  EXPECT_EQ(after->dirty_accounted.load(), 1);
  put_page(after);
  EXPECT_EQ(m.mm->mapping().nr_file_dirty(), 1);
  m.writeback();
  EXPECT_EQ(m.mm->mapping().nr_file_dirty(), 0);
  EXPECT_EQ(m.races(), 0u);
}

// Fires: PG_dirty set by hand on a clean cached page, then un-counted by
// clear_page_dirty_for_io (the pre-e3db7691e9f3 nfs_release_page's steps).
TEST_F(Accounting, UnCountingABareSetPageDirtyFires) {
  m.store(0, 1, 0, 7);
  m.writeback();
  Page* p = page(1);
  ASSERT_FALSE(PageDirty(p));
  lock_page(p);
  SetPageFlag(p, PG_dirty);  // no account_page_dirtied
  EXPECT_EQ(clear_page_dirty_for_io(*m.mm, p), 1);
  unlock_page(p);
  put_page(p);
  EXPECT_EQ(mapping().nr_file_dirty(), -1);
  EXPECT_EQ(m.races(RaceKind::kDirtyAccountingSkew), 1u);
  EXPECT_EQ(m.mm->oracle().data_losing_total(), 0u);
}

// Silent: a set_page_dirty between its TestSetPageDirty and its accounting
// (here held open by hand) when clear_page_dirty_for_io un-counts the page.
// The kernel's count comes right once the setter counts the page, and the
// model's does too; I10 does not claim the drift left when the page leaves
// the cache in between (address_space.h, SetPageDirtyScope).
TEST_F(Accounting, ASetterBetweenItsFlagAndItsCountIsNotReported) {
  m.store(0, 1, 0, 7);
  m.writeback();
  Page* p = page(1);
  {
    SetPageDirtyScope setter(p);
    ASSERT_FALSE(TestSetPageFlag(p, PG_dirty));
    lock_page(p);
    EXPECT_EQ(clear_page_dirty_for_io(*m.mm, p), 1);
    unlock_page(p);
    EXPECT_EQ(mapping().nr_file_dirty(), -1);
    mapping().tag_dirty(p);  // the setter's account_page_dirtied
  }
  put_page(p);
  EXPECT_EQ(mapping().nr_file_dirty(), 0);
  EXPECT_EQ(m.races(), 0u);
}

}  // namespace
}  // namespace pagerace
