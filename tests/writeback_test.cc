// Writeback: cleans pages, write-protects them in every mapping, persists
// their bytes; the next store faults into ->page_mkwrite again.
#include "harness/mm/writeback.h"

#include "harness/mm/filemap.h"
#include "test_machine.h"

namespace pagerace {
namespace {

class WritebackTest : public ::testing::TestWithParam<const char*> {};

TEST_P(WritebackTest, CleansAndWriteProtectsInEveryMapping) {
  TestMachine m("locked", GetParam(), 4, 3);
  TestThread t("worker");
  m.store(0, 1, 0, 11);
  m.store(1, 1, 1, 12);
  m.store(2, 1, 2, 13);
  for (int v = 0; v < 3; ++v) ASSERT_EQ(m.pte(v, 1), kPteWritable);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 1u);

  WritebackPass pass = m.writeback();
  EXPECT_EQ(pass.written, 1);
  for (int v = 0; v < 3; ++v) EXPECT_EQ(m.pte(v, 1), kPteReadOnly) << "mapping " << v;
  Page* p = m.mm->mapping().find_get_page(1);
  EXPECT_FALSE(PageDirty(p));
  EXPECT_FALSE(PageWriteback(p));
  put_page(p);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 0u);
  EXPECT_EQ(m.persisted_slot(1, 0), 11u);
  EXPECT_EQ(m.persisted_slot(1, 1), 12u);
  EXPECT_EQ(m.persisted_slot(1, 2), 13u);

  // The next store must fault again (write-protected), and dirty the page.
  const uint64_t faults = t.count(Stat::kFaultsWp);
  m.store(2, 1, 2, 14);
  EXPECT_EQ(t.count(Stat::kFaultsWp), faults + 1);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 1u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

TEST_P(WritebackTest, PwritePathDirtiesWithoutTouchingPtes) {
  TestMachine m("locked", GetParam());
  TestThread t("worker");
  m.load(0, 2, 0);
  generic_perform_write(*m.mm, 2, 9, 99);
  EXPECT_EQ(m.pte(0, 2), kPteReadOnly);
  Page* p = m.mm->mapping().find_get_page(2);
  EXPECT_TRUE(PageDirty(p));
  put_page(p);
  EXPECT_EQ(m.load(0, 2, 9), 99u);  // same file page
  m.writeback();
  EXPECT_EQ(m.persisted_slot(2, 9), 99u);
  EXPECT_EQ(m.races(), 0u);
}

TEST_P(WritebackTest, EvictedPageIsReadBackFromTheStore) {
  TestMachine m("locked", GetParam());
  TestThread t("worker");
  m.store(0, 3, 4, 44);
  m.writeback();
  ASSERT_TRUE(shrink_page(*m.mm, 3).evicted);
  EXPECT_EQ(m.pte(0, 3), kPteNone);
  EXPECT_EQ(m.mm->mapping().find_get_page(3), nullptr);
  EXPECT_EQ(m.load(1, 3, 4), 44u);  // re-read from the store by the fault
  EXPECT_EQ(m.races(), 0u);
}

// __remove_mapping (v2.6.29: page_freeze_refs(page, 2)): a clean page that
// someone besides the cache still holds -- a write fault between its lookup
// and ->page_mkwrite's page lock -- is unmapped but not evicted.
TEST_P(WritebackTest, ReferencedPageIsNotEvicted) {
  TestMachine m("locked", GetParam());
  TestThread t("worker");
  m.store(0, 2, 0, 7);
  m.writeback();
  Page* held = m.mm->mapping().find_get_page(2);  // the fault's reference
  ASSERT_NE(held, nullptr);
  EXPECT_FALSE(shrink_page(*m.mm, 2).evicted);
  EXPECT_EQ(m.mm->mapping().find_get_page(2), held);  // still cached...
  put_page(held);
  EXPECT_EQ(m.pte(0, 2), kPteNone);  // ...but unmapped, as try_to_unmap left it
  put_page(held);
  EXPECT_TRUE(shrink_page(*m.mm, 2).evicted);  // nobody holds it now
  EXPECT_EQ(m.load(1, 2, 0), 7u);
  EXPECT_EQ(m.races(), 0u);
}

// shrink_page_list (v2.6.29) on a page dirtied through a writable pte:
// try_to_unmap moves the pte's dirtiness to the page, pageout() writes it
// through ->writepage, and the page, now under writeback, is kept; a later
// pass, after the write completed, frees it.
TEST_P(WritebackTest, DirtyPageIsPagedOutThenEvicted) {
  TestMachine m("locked", GetParam());
  TestThread t("worker");
  m.store(0, 0, 0, 5);
  ShrinkResult r = shrink_page(*m.mm, 0);
  EXPECT_TRUE(r.pte_dirty);
  EXPECT_TRUE(r.paged_out);
  EXPECT_FALSE(r.evicted);
  EXPECT_EQ(m.pte(0, 0), kPteNone);
  m.mm->io().Drain();
  m.mm->a_ops().commit();
  EXPECT_EQ(m.persisted_slot(0, 0), 5u);
  EXPECT_TRUE(shrink_page(*m.mm, 0).evicted);
  EXPECT_EQ(m.load(0, 0, 0), 5u);  // re-read from the store
  EXPECT_EQ(m.races(), 0u);
}

TEST_P(WritebackTest, FinalSyncPersistsEverything) {
  TestMachine m("locked", GetParam(), 8, 2);
  TestThread t("worker");
  for (uint64_t i = 0; i < 8; ++i) m.store(static_cast<int>(i % 2), i, 1, 100 + i);
  sync_mapping(*m.mm, /*drain=*/true);
  for (uint64_t i = 0; i < 8; ++i) EXPECT_EQ(m.persisted_slot(i, 1), 100 + i);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 0u);
}

// test_set_page_writeback (v2.6.29) drops the dirty tag of a page whose
// PG_dirty clear_page_dirty_for_io cleared, while ->writepage still holds the
// page lock: an fsync that looks at the tags after the lock is dropped finds
// the page under writeback, never a tag that is about to go.
TEST(DirtyTagTest, SetPageWritebackDropsTheTagUnderThePageLock) {
  TestMachine m("locked", "nfs");
  TestThread t("worker");
  m.store(0, 1, 0, 11);
  ASSERT_EQ(m.mm->mapping().nr_dirty(), 1u);
  Page* p = m.mm->mapping().find_get_page(1);
  lock_page(p);
  ASSERT_EQ(clear_page_dirty_for_io(*m.mm, p), 1);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 1u);  // cleaned, not yet under writeback
  WritebackControl wbc;
  m.mm->a_ops().writepage(p, wbc);  // sets PG_writeback, unlocks
  EXPECT_TRUE(PageWriteback(p));
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 0u);
  m.mm->io().Drain();
  m.mm->a_ops().commit();
  put_page(p);
  EXPECT_EQ(m.persisted_slot(1, 0), 11u);

  // A page dirtied again before the write starts keeps its tag.
  m.store(0, 2, 0, 12);
  p = m.mm->mapping().find_get_page(2);
  lock_page(p);
  ASSERT_EQ(clear_page_dirty_for_io(*m.mm, p), 1);
  __set_page_dirty_nobuffers(p);
  m.mm->a_ops().writepage(p, wbc);
  EXPECT_EQ(m.mm->mapping().nr_dirty(), 1u);
  m.mm->io().Drain();
  m.mm->a_ops().commit();
  put_page(p);
}

// I8 (do_fsync) both ways on one page whose NFS request covers slot 0 only
// (a pwrite's): a slot holding bytes fsync did not persist is reported when
// its write was complete at the call, and left out while the write is still
// in flight (a pwrite(2) that has copied but not returned: fsync owes it
// nothing).  The bytes are put in the page directly, as the copy would.
TEST(FsyncInFlightTest, AWriteNotCompleteAtTheCallIsNotOwed) {
  for (const bool in_flight : {true, false}) {
    SCOPED_TRACE(in_flight ? "write in flight" : "write complete");
    TestMachine m("modern", "nfs", 1, 1);
    TestThread t("worker");
    ASSERT_TRUE(generic_perform_write(*m.mm, 0, 0, 7));
    uint64_t* slot5 = reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(0)) + 5;
    if (in_flight) m.mm->user_write_begin(0, 5);
    __atomic_store_n(slot5, 9, __ATOMIC_RELAXED);
    do_fsync(*m.mm, /*drain=*/true);
    if (in_flight) m.mm->user_write_end(0, 5);
    EXPECT_EQ(m.persisted_slot(0, 0), 7u);
    EXPECT_EQ(m.persisted_slot(0, 5), 0u);  // not in the request: not sent
    EXPECT_EQ(m.races(RaceKind::kFsyncMissed), in_flight ? 0u : 1u);
  }
}

INSTANTIATE_TEST_SUITE_P(Adapters, WritebackTest, ::testing::Values("nfs", "nfs:unlocked", "none"),
                         [](const auto& info) {
                           std::string n = info.param;
                           return n == "nfs:unlocked" ? std::string("nfs_unlocked") : n;
                         });

}  // namespace
}  // namespace pagerace
