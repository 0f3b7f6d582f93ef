// The ceph adapter: snap contexts attached to newly dirty pages and counted
// in wrbuffer_ref, dropped by the write's completion; writepage of a page
// without one sends nothing; a page dirty in an older snap context is
// written out before it is dirtied in the current one (and the
// `ceph:no_snap_flush` mutant, which skips that, trips the snap oracle).
#include "fs_adapters/ceph.h"

#include <thread>

#include "harness/mm/filemap.h"
#include "harness/mm/truncate.h"
#include "test_machine.h"

namespace pagerace {
namespace {

CephAdapter& ceph(TestMachine& m) { return static_cast<CephAdapter&>(*m.fs); }

TEST(CephTest, MkwriteAttachesTheCurrentSnapContext) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 1, 0, 5);
  EXPECT_EQ(ceph(m).page_snapc(1), ceph(m).snap_seq());
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 1);
  Page* p = m.mm->mapping().find_get_page(1);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_TRUE(PagePrivate(p));
  EXPECT_EQ(m.metadata(p), MetadataState::kDirtyCapable);
  put_page(p);
  m.store(1, 1, 1, 6);  // already dirty and writable in mapping 1 after its fault
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 1);
  EXPECT_EQ(m.races(), 0u);
}

// Reclaim's pageout() calls ->writepage directly: v2.6.34's ceph_writepage,
// writepage_nounlock (synchronous) then unlock_page — nothing left in
// flight, the page unlocked and clean, its context and reference dropped.
TEST(CephTest, PageoutWritesSynchronouslyThroughCephWritepage) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 1, 2, 44);
  ShrinkResult r = shrink_page(*m.mm, 1);
  EXPECT_TRUE(r.pte_dirty);
  EXPECT_TRUE(r.paged_out);
  EXPECT_EQ(m.persisted_slot(1, 2), 44u) << "written before pageout returned";
  EXPECT_EQ(m.mm->io().Drain(), 0) << "nothing was queued";
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 0);
  EXPECT_EQ(ceph(m).page_snapc(1), 0u);
  if (Page* p = m.mm->mapping().find_get_page(1)) {
    EXPECT_FALSE(PageLocked(p));
    EXPECT_FALSE(PageWriteback(p));
    EXPECT_FALSE(PageDirty(p));
    put_page(p);
  }
  EXPECT_EQ(m.races(), 0u);
}

TEST(CephTest, CompletionDropsTheContextAndTheReference) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 2, 3, 33);
  WritebackControl wbc;
  write_cache_pages(*m.mm, wbc);
  Page* p = m.mm->mapping().find_get_page(2);
  EXPECT_TRUE(PageWriteback(p));
  // The context now belongs to the write in flight, and so does the page
  // lock (ceph_writepages_start -> writepages_finish, v2.6.34).
  EXPECT_EQ(m.metadata(p), MetadataState::kNotDirtyCapable);
  EXPECT_TRUE(PageLocked(p));
  EXPECT_EQ(p->lock_owner.load(), kLockOwnerIo);
  EXPECT_FALSE(trylock_page(p));
  m.mm->io().Drain();
  EXPECT_FALSE(PageLocked(p));  // writepages_finish: end_page_writeback, unlock_page
  EXPECT_FALSE(PageWriteback(p));
  EXPECT_EQ(ceph(m).page_snapc(2), 0u);
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 0);
  EXPECT_FALSE(PagePrivate(p));
  EXPECT_EQ(m.persisted_slot(2, 3), 33u);
  put_page(p);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

TEST(CephTest, WritepageWithoutASnapContextSendsNothing) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 0, 0, 5);
  m.writeback();
  // PG_dirty without ceph_set_page_dirty (what the legacy race leaves).
  Page* p = m.mm->mapping().find_get_page(0);
  lock_page(p);
  reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(0))[0] = 6;
  __set_page_dirty_nobuffers(p);
  unlock_page(p);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(0, 0), 5u);
  EXPECT_FALSE(PageDirty(p));
  EXPECT_EQ(m.races(RaceKind::kWritepageWithoutMetadata), 1u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(RaceKind::kLostDirty), 1u);
  put_page(p);
}

TEST(CephTest, WrbufferRefDriftIsReported) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 0, 0, 5);
  WritebackControl wbc;
  write_cache_pages(*m.mm, wbc);  // in flight, context still attached
  Page* p = m.mm->mapping().find_get_page(0);
  // The page newly dirty while its write is in flight (the legacy window):
  // a second reference for one page.
  m.mm->set_page_dirty(p);
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 2);
  EXPECT_EQ(m.races(RaceKind::kCounterDrift), 1u);
  m.mm->io().Drain();  // drops the (new) context: dirty without one
  EXPECT_EQ(ceph(m).page_snapc(0), 0u);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_EQ(m.metadata(p), MetadataState::kAbsent);
  put_page(p);
}

TEST(CephTest, TruncateDropsTheContextAndTheReference) {
  TestMachine m("locked", "ceph", 4, 2);
  TestThread t("worker");
  m.store(0, 3, 0, 5);
  vmtruncate(*m.mm, 2 * static_cast<int64_t>(m.mm->page_size()));
  EXPECT_EQ(ceph(m).wrbuffer_ref(), 0);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

// A snapshot between two writes: the pwrite's write_begin must write the
// page's data of the older snap context out before dirtying it in the new
// one.  The mutant skips that and is caught.
class CephSnapTest : public ::testing::TestWithParam<const char*> {};

TEST_P(CephSnapTest, OlderSnapContextIsWrittenOutFirst) {
  const bool mutant = std::string(GetParam()) == "ceph:no_snap_flush";
  TestMachine m("locked", GetParam(), 4, 2);
  TestThread t("worker");
  uint64_t old_seq;
  {
    TestIoThread io(m);
    m.store(0, 0, 0, 1);
    old_seq = ceph(m).page_snapc(0);
    ceph(m).background_step();  // snapshot
    ASSERT_GT(ceph(m).snap_seq(), old_seq);
    ASSERT_TRUE(generic_perform_write(*m.mm, 0, 1, 2));
  }  // the I/O thread has completed everything
  if (mutant) {
    EXPECT_EQ(m.races(RaceKind::kSnapcOrder), 1u);
    EXPECT_EQ(ceph(m).page_snapc(0), old_seq);
    EXPECT_EQ(m.persisted_slot(0, 0), 0u);
  } else {
    EXPECT_EQ(m.races(), 0u);
    EXPECT_EQ(ceph(m).page_snapc(0), ceph(m).snap_seq());
    EXPECT_EQ(m.persisted_slot(0, 0), 1u);  // the older context's data, written first
  }
}

INSTANTIATE_TEST_SUITE_P(Ceph, CephSnapTest, ::testing::Values("ceph", "ceph:no_snap_flush"),
                         [](const auto& info) {
                           return std::string(info.param) == "ceph" ? std::string("flushes")
                                                                    : std::string("mutant");
                         });

}  // namespace
}  // namespace pagerace
