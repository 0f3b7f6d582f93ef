// The NFS adapter's request lifecycle: dirty -> in flight -> commit-pending
// -> retired, and what writepage sends in each state.
#include "fs_adapters/nfs.h"

#include "harness/mm/filemap.h"
#include "test_machine.h"

namespace pagerace {
namespace {

using ReqState = NfsAdapter::ReqState;

class NfsTest : public ::testing::TestWithParam<bool> {
 protected:
  NfsTest() : m("locked", GetParam() ? "nfs" : "nfs:unlocked") {}
  NfsAdapter& nfs() { return static_cast<NfsAdapter&>(*m.fs); }
  Page* page(uint64_t i) { return m.mm->mapping().find_get_page(i); }
  TestMachine m;
  TestThread t{"worker"};
};

TEST_P(NfsTest, MkwriteCreatesARequestAndDirtiesThePage) {
  m.store(0, 1, 0, 1);
  EXPECT_EQ(t.count(Stat::kMkwriteCalls), 1u);
  EXPECT_EQ(nfs().request_state(1), ReqState::kDirty);
  EXPECT_EQ(nfs().nr_requests(), 1);
  Page* p = page(1);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_TRUE(PagePrivate(p));
  EXPECT_FALSE(PageLocked(p));  // the fault path unlocked it, whatever mkwrite returned
  EXPECT_EQ(m.metadata(p), MetadataState::kDirtyCapable);
  put_page(p);
}

TEST_P(NfsTest, RequestLifecycleThroughWritebackAndCommit) {
  m.store(0, 2, 3, 33);
  WritebackControl wbc;
  write_cache_pages(*m.mm, wbc);
  EXPECT_EQ(nfs().request_state(2), ReqState::kInFlight);
  Page* p = page(2);
  EXPECT_TRUE(PageWriteback(p));
  EXPECT_EQ(m.metadata(p), MetadataState::kNotDirtyCapable);
  EXPECT_EQ(m.persisted_slot(2, 3), 0u);  // not yet on the server
  m.mm->io().Drain();
  EXPECT_FALSE(PageWriteback(p));
  EXPECT_EQ(nfs().request_state(2), ReqState::kCommitPending);
  EXPECT_EQ(m.persisted_slot(2, 3), 33u);
  // A page with a request cannot be released.
  lock_page(p);
  EXPECT_FALSE(nfs().releasepage(p, Gfp::kFs));
  unlock_page(p);
  nfs().commit();
  EXPECT_EQ(nfs().request_state(2), ReqState::kNone);
  EXPECT_FALSE(PagePrivate(p));
  EXPECT_EQ(nfs().nr_requests(), 0);
  put_page(p);
}

// I2's check after a set_page_dirty made without the page lock (legacy's
// fault path after it unlocked, reclaim's try_to_unmap): a whole writeback
// may clean the page and retire its request before the check reads it.  A
// clean page without a request is no violation; a dirty one is.
TEST_P(NfsTest, DirtyWithoutRequestCheckIgnoresAPageWritebackCleaned) {
  m.store(0, 1, 0, 7);
  m.writeback();
  nfs().commit();
  Page* p = page(1);
  ASSERT_EQ(nfs().request_state(1), ReqState::kNone);
  ASSERT_FALSE(PageDirty(p));
  m.mm->check_dirty_has_metadata(p);
  EXPECT_EQ(m.races(RaceKind::kDirtyWithoutMetadata), 0u);
  // The same page dirtied behind the fs's back: reported.
  lock_page(p);
  m.mm->set_page_dirty(p);
  unlock_page(p);
  m.mm->check_dirty_has_metadata(p);
  EXPECT_EQ(m.races(RaceKind::kDirtyWithoutMetadata), 1u);
  put_page(p);
}

TEST_P(NfsTest, WritepageWithoutARequestSendsNothing) {
  m.store(0, 0, 0, 5);
  m.writeback();  // sent, committed, retired
  ASSERT_EQ(nfs().request_state(0), ReqState::kNone);
  // Dirty the page behind the adapter's back (what the legacy race does):
  // the VM's set_page_dirty without ->page_mkwrite.
  uint64_t* alias = reinterpret_cast<uint64_t*>(m.mm->mmu().kmap(0));
  Page* p = page(0);
  lock_page(p);
  alias[0] = 6;
  m.mm->set_page_dirty(p);
  unlock_page(p);
  WritebackPass pass = m.writeback();
  EXPECT_EQ(pass.written, 1);
  EXPECT_EQ(m.persisted_slot(0, 0), 5u);  // nothing was sent
  EXPECT_FALSE(PageDirty(p));             // and the page counts as clean
  EXPECT_EQ(m.races(RaceKind::kWritepageWithoutMetadata), 1u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(RaceKind::kLostDirty), 1u);  // I0: clean but not persisted
  put_page(p);
}

TEST_P(NfsTest, RedirtyingACommitPendingRequestResendsIt) {
  m.store(0, 1, 0, 1);
  WritebackControl wbc;
  write_cache_pages(*m.mm, wbc);
  m.mm->io().Drain();
  ASSERT_EQ(nfs().request_state(1), ReqState::kCommitPending);
  m.store(0, 1, 0, 2);  // write-protected: faults into mkwrite
  EXPECT_EQ(nfs().request_state(1), ReqState::kDirty);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 0), 2u);
  EXPECT_EQ(m.races(), 0u);
}

TEST_P(NfsTest, PwriteCreatesARequestForItsRange) {
  generic_perform_write(*m.mm, 3, 7, 77);
  EXPECT_EQ(nfs().request_state(3), ReqState::kDirty);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(3, 7), 77u);
  EXPECT_EQ(m.races(), 0u);
}

INSTANTIATE_TEST_SUITE_P(MkwriteConvention, NfsTest, ::testing::Bool(),
                         [](const auto& info) {
                           return std::string(info.param ? "returns_locked" : "returns_unlocked");
                         });

}  // namespace
}  // namespace pagerace
