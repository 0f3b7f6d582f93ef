// The buffer.c adapter: blocks allocated by ->page_mkwrite, ENOSPC refusing
// the store, the pwrite path failing before it copies, blocks returned on
// truncate.
#include "fs_adapters/buffer.h"

#include "harness/mm/filemap.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "test_machine.h"

namespace pagerace {
namespace {

TEST(BufferTest, MkwriteAllocatesTheBlocksOfThePage) {
  TestMachine m("locked", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  const int64_t before = fs.free_blocks();
  m.store(0, 1, 0, 5);
  EXPECT_EQ(fs.free_blocks(), before - 4);  // 4 KiB page, 1 KiB blocks
  Page* p = m.mm->mapping().find_get_page(1);
  EXPECT_EQ(fs.metadata_state(p), MetadataState::kDirtyCapable);
  EXPECT_TRUE(PageDirty(p));
  put_page(p);
  m.store(1, 1, 1, 6);  // same page, other mapping: no new blocks
  EXPECT_EQ(fs.free_blocks(), before - 4);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 0), 5u);
  EXPECT_EQ(m.persisted_slot(1, 1), 6u);
  EXPECT_EQ(m.races(), 0u);
}

TEST(BufferTest, EnospcInMkwriteRefusesTheStore) {
  TestMachine m("locked", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  ASSERT_TRUE(fs.InjectMkwriteFailures(2));  // half the file's blocks
  EXPECT_TRUE(guarded_store(m.user(0, 0, 0), 1));
  EXPECT_TRUE(guarded_store(m.user(0, 1, 0), 2));
  EXPECT_EQ(fs.free_blocks(), 0);
  EXPECT_FALSE(guarded_store(m.user(0, 2, 0), 3));  // SIGBUS: no block
  EXPECT_EQ(t.count(Stat::kRefused), 1u);
  EXPECT_FALSE(generic_perform_write(*m.mm, 3, 0, 4));  // pwrite: -ENOSPC
  uint64_t v = 1;
  EXPECT_TRUE(guarded_load(m.user(1, 2, 0), &v));
  EXPECT_EQ(v, 0u);  // nothing landed
  // Truncating the file gives the blocks back.
  vmtruncate(*m.mm, static_cast<int64_t>(m.mm->page_size()));
  EXPECT_EQ(fs.free_blocks(), 4);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

TEST(BufferTest, MkwriteTakesTheJournalBeforeThePageLock) {
  // Under `locked` the fs lock is taken first, as writeback does: no
  // inversion.  Under `naive` the page lock is already held: inversion.
  for (const char* scheme : {"locked", "naive"}) {
    ResetLockOrder();
    TestMachine m(scheme, "buffer", 2, 1);
    TestThread t("worker");
    m.store(0, 0, 0, 1);
    m.writeback();  // the journal, then page locks
    m.store(0, 0, 0, 2);
    EXPECT_EQ(!LockOrderInversion().empty(), std::string(scheme) == "naive") << scheme;
  }
}

}  // namespace
}  // namespace pagerace
