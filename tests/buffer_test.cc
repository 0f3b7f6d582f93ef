// The buffer.c adapter: blocks allocated by ->page_mkwrite, ENOSPC refusing
// the store, the pwrite path failing before it copies, blocks returned on
// truncate.
#include "fs_adapters/buffer.h"

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "harness/mm/filemap.h"
#include "harness/mm/recovery.h"
#include "harness/mm/truncate.h"
#include "test_machine.h"
#include "tests/forced_race.h"

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
  EXPECT_EQ(m.metadata(p), MetadataState::kDirtyCapable);
  EXPECT_TRUE(PageDirty(p));
  put_page(p);
  m.store(1, 1, 1, 6);  // same page, other mapping: no new blocks
  EXPECT_EQ(fs.free_blocks(), before - 4);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 0), 5u);
  EXPECT_EQ(m.persisted_slot(1, 1), 6u);
  EXPECT_EQ(m.races(), 0u);
}

// __block_prepare_write (v2.6.30) maps only the buffers a write covers: a
// pwrite into a page of holes allocates one block, writeback writes that
// buffer, and the rest stay holes.  A later store through a mapping goes
// through ->page_mkwrite, which maps every buffer inside i_size.
TEST(BufferTest, PwriteMapsOnlyTheWrittenRange) {
  TestMachine m("locked", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  const int64_t before = fs.free_blocks();
  ASSERT_TRUE(generic_perform_write(*m.mm, 1, 130, 7));  // slot 130: bytes 1040.., buffer 1
  EXPECT_EQ(fs.mapped_mask(1), 0b0010u);
  EXPECT_EQ(fs.free_blocks(), before - 1);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 130), 7u);
  EXPECT_EQ(fs.mapped_mask(1), 0b0010u) << "writeback must not fill the holes";
  m.store(0, 1, 0, 5);
  EXPECT_EQ(fs.mapped_mask(1), 0b1111u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 0), 5u);
  EXPECT_EQ(m.races(), 0u);
}

// v2.6.30 ext4_page_mkwrite returns with the page unlocked: through
// write_begin/write_end when a buffer inside i_size has no block, and at
// once, mapping nothing, when every one has.  The v2.6.30 VM (`locked`)
// relocks and dirties the page.
TEST(BufferTest, Ext4V2630MkwriteReturnsUnlocked) {
  TestMachine m("locked", "buffer:ext4_v2.6.30", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  const int64_t before = fs.free_blocks();
  m.store(0, 2, 0, 9);  // write_begin/write_end over the page
  EXPECT_EQ(fs.mapped_mask(2), 0b1111u);
  EXPECT_EQ(fs.free_blocks(), before - 4);
  m.writeback();
  m.store(0, 2, 1, 10);  // every buffer mapped: the early return
  EXPECT_EQ(fs.free_blocks(), before - 4);
  Page* p = m.mm->mapping().find_get_page(2);
  EXPECT_TRUE(PageDirty(p));
  EXPECT_FALSE(PageLocked(p));
  put_page(p);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(2, 0), 9u);
  EXPECT_EQ(m.persisted_slot(2, 1), 10u);
  EXPECT_EQ(m.races(), 0u);
}

// create_empty_buffers (v2.6.30, 5.15): the buffers created for a page
// that is already dirty are all dirty.  A page is dirty without buffers
// after get_user_pages' set_page_dirty_lock on a page whose buffers reclaim
// released; a pwrite to one block of it then creates the buffers, and the
// next ->writepage must write the device's bytes in the other blocks too.
TEST(BufferTest, NewBuffersOfADirtyPageAreAllDirty) {
  TestMachine m("modern", "buffer:block_page_mkwrite", 4, 1);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  EXPECT_EQ(m.load(0, 1, 0), 0u);  // read fault: page 1 cached, no buffers
  Page* p = m.mm->mapping().find_get_page(1);
  ASSERT_NE(p, nullptr);
  ASSERT_FALSE(PageDirty(p));
  // "The device" writes slot 0 (buffer 0) through the kernel alias, and the
  // direct I/O's completion dirties the page as set_page_dirty_lock does
  // (page lock, set_page_dirty): no buffers, so PG_dirty alone.
  const uint64_t device = 0x5a5a;
  std::memcpy(m.mm->mmu().kmap(1), &device, sizeof(device));
  lock_page(p);
  m.mm->set_page_dirty(p);
  unlock_page(p);
  ASSERT_TRUE(PageDirty(p));
  EXPECT_EQ(fs.mapped_mask(1), 0u);
  // A pwrite to slot 130 (bytes 1040..: buffer 1) maps that block only and
  // creates the page's buffers.
  ASSERT_TRUE(generic_perform_write(*m.mm, 1, 130, 7));
  EXPECT_EQ(fs.mapped_mask(1), 0b0010u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(1, 130), 7u);
  EXPECT_EQ(m.persisted_slot(1, 0), device) << "buffer 0, dirty with its page, was not written";
  put_page(p);
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

// --- The partial-EOF page (DESIGN §7) ---

constexpr int64_t kPage = 4096;
constexpr uint32_t kSlotInBuffer3 = 3 * 1024 / 8;  // first slot of the page's last buffer

TEST(BufferEofTest, MkwriteOnTheEofPageAllocatesOnlyInsideIsize) {
  TestMachine m("locked", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  vmtruncate(*m.mm, 3 * kPage + 1500);  // page 3 ends inside its second buffer
  m.store(0, 3, 0, 7);
  EXPECT_EQ(fs.mapped_mask(3), 0b0011u);
  m.writeback();
  EXPECT_EQ(m.persisted_slot(3, 0), 7u);
  m.mm->audit_all();
  EXPECT_EQ(m.races(), 0u);
}

TEST(BufferEofTest, ShrinkingIntoAPageZeroesItsTailAndFreesItsBlocks) {
  TestMachine m("locked", "buffer", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  m.store(0, 3, kSlotInBuffer3, 9);
  m.writeback();
  ASSERT_EQ(fs.mapped_mask(3), 0b1111u);
  const int64_t free_before = fs.free_blocks();
  vmtruncate(*m.mm, 3 * kPage + 1024);
  EXPECT_EQ(fs.mapped_mask(3), 0b0001u);
  EXPECT_EQ(fs.free_blocks(), free_before + 3);
  EXPECT_EQ(m.load(0, 3, kSlotInBuffer3), 0u);  // the page is still mapped: zeroed tail
  EXPECT_EQ(m.persisted_slot(3, kSlotInBuffer3), 0u);
}

// The extension of a partial EOF page on a full disk: a pte made writable
// while the page was the EOF page must not let a store land past the old EOF
// without a block.  pagecache_isize_extended (v3.18) write-protects it, so
// the store faults and is refused (ENOSPC -> SIGBUS); without it the store
// lands and writeback drops it.  Under `modern` (v5.15) `buffer` has it;
// under `locked` (v2.6.30) it did not exist yet, so `buffer` loses the store
// as `buffer:no_isize_extended` does.
struct IsizeCase {
  const char* scheme;
  const char* fs;
  bool fixed;
};
class BufferIsizeTest : public ::testing::TestWithParam<IsizeCase> {};

TEST_P(BufferIsizeTest, ExtensionOfThePartialEofPage) {
  const bool fixed = GetParam().fixed;
  TestMachine m(GetParam().scheme, GetParam().fs, 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  ASSERT_TRUE(fs.FillDisk());
  vmtruncate(*m.mm, 3 * kPage + 1024);  // frees page 3's last three blocks, to others
  ASSERT_EQ(fs.free_blocks(), 0);
  m.store(0, 3, 0, 1);                  // writable pte on the EOF page
  vmtruncate(*m.mm, 4 * kPage);         // grow: page 3 whole again
  EXPECT_EQ(m.pte(0, 3), fixed ? kPteReadOnly : kPteWritable);
  const bool landed = guarded_store(m.user(0, 3, kSlotInBuffer3), 0xfeed);
  EXPECT_EQ(landed, !fixed);  // with the fix: the fault asks for a block, ENOSPC
  m.mm->audit_all();
  sync_mapping(*m.mm, /*drain=*/true);
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(3, 0), 1u);
  if (fixed) {
    EXPECT_EQ(m.races(), 0u);
    EXPECT_EQ(fs.dropped_buffers(), 0u);
  } else {
    EXPECT_GE(m.races(RaceKind::kDirtyWithoutMetadata), 1u);  // writable, no block
    EXPECT_GE(fs.dropped_buffers(), 1u);                      // ENOSPC at writeback
    EXPECT_GE(m.races(RaceKind::kLostDirty), 1u);
    EXPECT_EQ(m.persisted_slot(3, kSlotInBuffer3), 0u);       // the store is gone
  }
}

INSTANTIATE_TEST_SUITE_P(Buffer, BufferIsizeTest,
                         ::testing::Values(IsizeCase{"modern", "buffer", true},
                                           IsizeCase{"modern", "buffer:no_isize_extended", false},
                                           IsizeCase{"locked", "buffer", false}),
                         [](const auto& info) {
                           std::string n = std::string(info.param.scheme) + "_" +
                                           (std::string(info.param.fs) == "buffer"
                                                ? "with_isize_extended"
                                                : "without_isize_extended");
                           return n;
                         });

// v2.6.30 ext4 (nodelalloc: ext4_ordered_aops / ext4_writeback_aops) does not
// lose the store past the old EOF silently: ext4_normal_writepage BUG_ONs on
// a page with buffers whose dirty buffers inside i_size are not all mapped
// (ext4_bh_unmapped_or_delay), before block_write_full_page could drop them.
//   0. setup: a full disk; i_size ends 1 KiB into page 3, whose first block
//      alone is allocated; page 3 clean, read-only.
//   1. A store to page 3 -> do_wp_page -> v2.6.30 ext4_page_mkwrite: every
//      buffer inside i_size is mapped, so it returns at once, unlocked; the
//      VM relocks, makes the pte writable and calls set_page_dirty, whose
//      __set_page_dirty_buffers dirties all four buffers, those past EOF
//      included.
//   2. The file grows to 4 pages: v2.6.30 vmtruncate writes i_size alone, so
//      the pte stays writable (no pagecache_isize_extended before v3.18).
//   3. A store at 3 KiB lands through it, in a buffer with no block.
//   4. Writeback: ext4_normal_writepage finds dirty unmapped buffers inside
//      the new i_size -> BUG_ON (kernel_bug).  The dirty past-EOF buffers of
//      step 1 alone would trip it: step 3 only makes the loss visible.
// Detected by the kernel_bug report; `buffer:block_page_mkwrite` (v2.6.30
// block_page_mkwrite, as xfs called it, with block_write_full_page) takes
// the same steps and drops the store silently (I0, ledger).
uint64_t RunExt4V2630Growth(const char* fs_name, uint64_t* lost_dirty) {
  TestMachine m("locked", fs_name, 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  EXPECT_TRUE(fs.FillDisk());
  vmtruncate(*m.mm, 3 * kPage + 1024);
  m.writeback();
  m.store(0, 3, 0, 1);                                   // 1
  vmtruncate(*m.mm, 4 * kPage);                          // 2
  EXPECT_EQ(m.pte(0, 3), kPteWritable);
  EXPECT_TRUE(guarded_store(m.user(0, 3, kSlotInBuffer3), 0xfeed));  // 3
  sync_mapping(*m.mm, /*drain=*/true);                   // 4
  m.mm->audit_all();
  EXPECT_EQ(m.persisted_slot(3, 0), 1u);
  EXPECT_EQ(m.persisted_slot(3, kSlotInBuffer3), 0u);
  *lost_dirty = m.races(RaceKind::kLostDirty);
  return m.races(RaceKind::kKernelBug);
}

TEST(Ext4V2630WritepageTest, GrowthPastADirtyEofPageIsABugOn) {
  uint64_t lost = 0;
  EXPECT_GE(RunExt4V2630Growth("buffer:ext4_v2.6.30", &lost), 1u);
}

TEST(Ext4V2630WritepageTest, BlockWriteFullPageDropsItSilently) {
  uint64_t lost = 0;
  EXPECT_EQ(RunExt4V2630Growth("buffer:block_page_mkwrite", &lost), 0u);
  EXPECT_GE(lost, 1u);
}

// __block_write_full_page's recover: path (v2.6.30; 5.15's is the same).
// The first walk maps dirty buffers in order and jumps to recover: at the
// first get_block failure, trying none after it; recover: writes every
// mapped dirty buffer, clears the dirty bit of every other one (its data is
// gone), sets PG_error and the mapping's error, and does not redirty the
// page.
//   0. setup: a full disk; i_size ends 2 KiB into page 3 (buffers 0 and 1
//      allocated); a store to page 3 dirties all four buffers
//      (__set_page_dirty_buffers); the file grows to 4 pages (v2.6.30: the
//      pte stays writable) and stores land in buffers 2 and 3, which have no
//      block.
//   1. One block becomes free.
//   2. Writeback: buffer 2 gets the block, buffer 3 fails (ENOSPC) ->
//      recover: buffers 0, 1 and 2 are written, buffer 3 is dropped; the
//      page is clean and not redirtied.
// Detected by the persisted bytes, the mapping error and I0 (the clean page
// differs from the disk at buffer 3).  With a counting allocator the first
// failure leaves no block for the buffers after it, so stopping there drops
// what trying each buffer would have dropped.
TEST(BlockWriteFullPageTest, RecoverWritesTheMappedBuffersAndDropsTheRest) {
  TestMachine m("locked", "buffer:block_page_mkwrite", 4, 2);
  TestThread t("worker");
  auto& fs = static_cast<BufferAdapter&>(*m.fs);
  ASSERT_TRUE(fs.FillDisk());
  vmtruncate(*m.mm, 3 * kPage + 2048);
  m.writeback();
  constexpr uint32_t kSlotInBuffer2 = 2 * 1024 / 8;
  m.store(0, 3, 0, 1);
  vmtruncate(*m.mm, 4 * kPage);
  ASSERT_TRUE(guarded_store(m.user(0, 3, kSlotInBuffer2), 2));
  ASSERT_TRUE(guarded_store(m.user(0, 3, kSlotInBuffer3), 3));
  EXPECT_EQ(fs.mapped_mask(3), 0b0011u);
  fs.set_free_blocks(1);                                          // 1
  sync_mapping(*m.mm, /*drain=*/true);                            // 2
  EXPECT_EQ(fs.mapped_mask(3), 0b0111u);
  EXPECT_EQ(fs.free_blocks(), 0);
  EXPECT_EQ(fs.mapping_errors(), 1u);
  EXPECT_EQ(m.persisted_slot(3, 0), 1u);
  EXPECT_EQ(m.persisted_slot(3, kSlotInBuffer2), 2u);
  EXPECT_EQ(m.persisted_slot(3, kSlotInBuffer3), 0u);             // dropped
  Page* p = m.mm->mapping().find_get_page(3);
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(PageDirty(p));                                     // not redirtied
  put_page(p);
  m.mm->audit_all();
  EXPECT_GE(m.races(RaceKind::kLostDirty), 1u);
}

// 5.15 ext4_setattr holds the invalidate_lock for writing across a
// truncation (filemap_invalidate_lock ... filemap_invalidate_unlock), and
// ext4_page_mkwrite holds it for reading: a truncation cannot run while a
// fault is inside ext4_page_mkwrite.  The test thread holds the lock as such
// a fault does; the truncation either sleeps on it or runs through.
// block_page_mkwrite alone (5.15's callers without the ext4 lock) takes it
// on neither side: the truncation runs through.
TEST(BufferInvalidateLockTest, TruncateWaitsForAFaultInExt4PageMkwrite) {
  for (const char* fs : {"buffer", "buffer:block_page_mkwrite"}) {
    TestMachine m("modern", fs, 4, 2);
    const int64_t ps = static_cast<int64_t>(m.mm->page_size());
    FutexRwSem& lock = m.mm->mapping().invalidate_lock();
    TestThread t("fault");
    lock.ReadLock();  // inside ext4_page_mkwrite
    std::atomic<bool> done{false};
    std::thread truncate([&] {
      TestThread tt("truncate");
      vmtruncate(*m.mm, ps);
      done.store(true);
    });
    while (!done.load() && lock.sleepers() == 0) std::this_thread::yield();
    const bool ran_through = done.load();
    lock.ReadUnlock();
    truncate.join();
    EXPECT_TRUE(done.load());
    EXPECT_EQ(m.mm->mapping().i_size(), ps);
    if (std::string(fs) == "buffer") {
      EXPECT_FALSE(ran_through) << "truncate ran while ext4_page_mkwrite held the invalidate_lock";
    } else {
      EXPECT_TRUE(ran_through) << fs << ": nothing should exclude the truncation";
    }
    EXPECT_EQ(m.races(), 0u) << fs << Describe(m);
  }
}

}  // namespace
}  // namespace pagerace
