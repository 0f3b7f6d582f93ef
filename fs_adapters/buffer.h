// The buffer.c adapter (DESIGN §7), modeled on fs/buffer.c
// (block_page_mkwrite, __set_page_dirty_buffers, block_write_full_page) as
// of v2.6.30, inside an ext3/ext4-style journal.
//
// A page holds page_size / blocksize buffers (default 1 KiB: 4 a page).  The
// on-disk block map says which buffers have a block; buffer heads (PG_private)
// cache it while the page is in memory.  Blocks come from a finite
// allocator.  ->writepages holds a journal handle across its pass, so
// writeback takes the journal and then page locks.  ->writepage writes
// mapped dirty buffers; a dirty buffer without a block is allocated then, and
// on ENOSPC its data is dropped with only a mapping error.  ->write_begin
// (pwrite) gives blocks only to the buffers the write covers, as
// __block_prepare_write does, so a sparse page keeps its holes until a
// ->page_mkwrite maps the rest.
//
// ->page_mkwrite comes in three shapes (BufferMkwrite), one per kernel
// caller of buffer.c:
//   kExt4Journal       5.15 ext4_page_mkwrite without delalloc, its slow
//                      path: ext4_journal_start (the fs-level lock, *before*
//                      the page lock), then block_page_mkwrite, returning
//                      locked.  `naive` (page lock held across mkwrite)
//                      makes the ABBA with writeback.  On a device with
//                      stable writes (`buffer:stable_writes`),
//                      block_page_mkwrite's wait_for_stable_page waits.
//   kBlockPageMkwrite  block_page_mkwrite alone (v2.6.30, as xfs and nilfs2
//                      called it; 5.15 adds wait_for_stable_page): no
//                      journal, returns locked.
//   kExt4V2630         v2.6.30 ext4_page_mkwrite: an unlocked early return
//                      when every buffer inside i_size is mapped, else
//                      ->write_begin/->write_end over the in-EOF range
//                      (journal, then page lock), returning unlocked.
//   kNone              no ->page_mkwrite at all: v2.6.29/30 ext2 (and ext3,
//                      which journals around the same buffer.c calls):
//                      generic_file_mmap's generic_file_vm_ops has only
//                      ->fault, ->readpage is mpage_readpage (no buffer
//                      heads for a page on contiguous blocks), and
//                      ->writepage block_write_full_page gives a dirty
//                      buffer its block (`buffer:ext2`).  A page is dirtied
//                      through the mapping by set_page_dirty alone, without
//                      the page lock.
//
// The partial-EOF page (DESIGN §7): with i_size inside a page, mkwrite
// allocates only the buffers inside i_size.  From v3.18, when the file grows
// the fs's ->setattr calls pagecache_isize_extended, which write-protects
// that page so the next store past the old EOF faults into mkwrite for its
// blocks; the model does so under `modern` (v5.15).  Before v3.18 there was
// no such call: under `legacy` and `locked` (v2.6.29/30) a pte made writable
// while the page was the EOF page lets stores land in buffers with no block,
// and on a full disk writeback drops them.  `buffer:no_isize_extended` leaves
// the call out under `modern` too; under legacy/locked it is `buffer`.
//
// Which buffers may carry data is tracked apart from BH_Dirty (`data`):
// __set_page_dirty_buffers dirties every buffer, those past EOF included,
// but only bytes stored while a buffer was inside i_size are the user's;
// the oracles ask about those.
//
// Thread-safety: buffer and block-map state is protected by i_lock_ (the
// mapping's private_lock), taken after the page lock.
#ifndef PAGERACE_FS_ADAPTERS_BUFFER_H_
#define PAGERACE_FS_ADAPTERS_BUFFER_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "fs_adapters/backing_store.h"
#include "fs_adapters/block_map.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/lock_wait.h"
#include "harness/base/shared.h"

namespace pagerace {

// Which kernel ->page_mkwrite drives buffer.c (see the file comment).
enum class BufferMkwrite { kExt4Journal, kBlockPageMkwrite, kExt4V2630, kNone };

struct BufferOptions {
  const char* name = "buffer";  // the registry name
  BufferMkwrite mkwrite = BufferMkwrite::kExt4Journal;
  bool isize_extended = true;  // ->setattr calls pagecache_isize_extended
  bool stable_writes = false;  // the device requires stable writes (5.15)
  uint32_t blocksize = 1024;
  // ext3 data=ordered (`buffer:ext3`): ->write_end files the written
  // buffers with the running transaction (journal_dirty_data), and the
  // commit writes them by hand (fs_flush).
  bool journal_data = false;
};

class BufferAdapter : public StoreBackedOps {
 public:
  explicit BufferAdapter(const BufferOptions& options)
      : options_(options), blocksize_(options.blocksize) {}

  void Attach(MmContext* mm) override;
  const char* name() const override { return options_.name; }
  bool has_page_mkwrite() const override { return options_.mkwrite != BufferMkwrite::kNone; }
  // 5.15 ext4's punch (punch.h) is the model's: the ext4_page_mkwrite
  // variants only.
  std::string punch_hole_refusal() const override {
    return options_.mkwrite == BufferMkwrite::kExt4Journal
               ? ""
               : "its hole punch is not modeled (punch.h models 5.15 ext4's: --fs=buffer, "
                 "buffer:4k, buffer:stable_writes, buffer:no_isize_extended)";
  }
  const char* page_mkwrite_name() const override {
    switch (options_.mkwrite) {
      case BufferMkwrite::kBlockPageMkwrite: return "block_page_mkwrite";
      case BufferMkwrite::kNone: return "->page_mkwrite";
      case BufferMkwrite::kExt4Journal:
      case BufferMkwrite::kExt4V2630: break;
    }
    return "ext4_page_mkwrite";
  }
  const char* metadata_name() const override { return "mapped buffers"; }
  // 5.15's block_page_mkwrite calls wait_for_stable_page, which waits only
  // when the superblock has SB_I_STABLE_WRITES (a device that requires
  // stable writes); v2.6.30's does not wait at all.  kExt4V2630 returns
  // unlocked, so it is never held to I7.
  bool stable_writes() const override {
    return options_.stable_writes && options_.mkwrite != BufferMkwrite::kExt4V2630 &&
           options_.mkwrite != BufferMkwrite::kNone;
  }
  vm_fault_t page_mkwrite(VmFault& vmf) override;
  // 5.15 ext4's growth touches the old EOF page only through
  // pagecache_isize_extended, which returns at once for a block a page.
  // 5.15 ext4_setattr holds the invalidate_lock across the size change and
  // truncate_pagecache, the lock ext4_page_mkwrite takes shared (the ext4
  // variants; block_page_mkwrite alone and ext2/3 take none).
  bool setattr_holds_invalidate_lock() const override {
    return options_.mkwrite == BufferMkwrite::kExt4Journal;
  }
  bool growth_locks_eof_page() const override {
    return blocksize_ < page_size_ || options_.mkwrite != BufferMkwrite::kExt4Journal;
  }
  int set_page_dirty(Page* page) override;
  int writepage(Page* page, WritebackControl& wbc) override;
  void end_io(Page* page) override;
  int write_begin(Page* page, uint32_t offset, uint32_t len) override;
  int write_end(Page* page, uint32_t offset, uint32_t len) override;  // dirties: 1
  bool releasepage(Page* page, Gfp gfp) override;
  // buffer_migrate_page: ext2, ext3 and ext4 have it in v2.6.29/30 and
  // 5.15 (read): the buffers move with the page.
  Migrate migratepage(KernelEra) const override { return Migrate::kMovePrivate; }
  void fs_flush(uint64_t index) override;
  // ext3 (journal_data): the transaction's commit after a writeback pass
  // (kjournald's, which runs on its own timer in the kernel): fs_flush of
  // every page.
  void commit() override;
  void invalidatepage(Page* page) override;
  void invalidate_partial(Page* page, uint32_t offset) override;
  void setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) override;
  bool FillDisk() override;
  void truncate_store(int64_t size) override;
  // ext4_punch_hole's block freeing (punch.h): the journal, then the pages'
  // blocks back to the allocator and the range zeroed on disk.  A page a
  // racing fault brought back (buffers attached) keeps its buffers mapped
  // to the freed blocks (`stale`).
  void punch_store(uint64_t first, uint64_t npages) override;
  // The journal handle spans the pass (begin ... end): beyond the analysis.
  // The journal is held across a whole writeback pass.
  void writepages_begin() override ABSL_EXCLUSIVE_LOCK_FUNCTION(journal_) { journal_.Lock(); }
  void writepages_end() override ABSL_UNLOCK_FUNCTION(journal_) { journal_.Unlock(); }
  MetadataState metadata_state(const Page* page, bool writable) const override;
  bool InjectMkwriteFailures(uint32_t one_in) override;

  // For tests.
  int64_t free_blocks() const;
  void set_free_blocks(int64_t n);
  uint64_t dropped_buffers() const { return dropped_.load(); }
  // Writepages that took __block_write_full_page's recover: path
  // (mapping_set_error, PG_error).
  uint64_t mapping_errors() const { return mapping_errors_.load(); }
  // Dirty pages 5.15 ext4's writepage found without buffers and dropped.
  uint64_t ext4_pages_without_buffers() const { return ext4_no_buffers_.load(); }
  uint32_t mapped_mask(uint64_t index) const;
  // Buffers of page `index` mapped to blocks a punch freed under them.
  uint32_t stale_mask(uint64_t index) const;
  // Buffers writeback wrote to blocks the file no longer owned.
  uint64_t writes_to_freed_blocks() const { return freed_writes_.load(); }

 private:
  // The buffer heads of a page; the blocks behind them are blocks_'s
  // (block_map.h: mapped, and stale where a punch freed them under
  // attached buffer heads — ea3d7209ca01's race).
  struct PageBuffers {
    bool attached = false;   // buffer heads present (PG_private)
    uint32_t dirty = 0;      // dirty buffers (BH_Dirty)
    uint32_t data = 0;       // dirty buffers dirtied while inside i_size
    uint32_t in_flight = 0;  // buffers being written
    uint32_t jdata = 0;      // filed with the running transaction (ext3)
    uint32_t dirtied = 0;    // set_page_dirty calls (harness bookkeeping)
  };
  // Buffers of page `index` inside i_size, as a mask.
  uint32_t buffers_in_isize(uint64_t index) const;
  // Buffer heads attached (create_empty_buffers), traced once.
  void attach_buffers(Page* page, PageBuffers& pb) ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // block_page_mkwrite's body: page lock, the in-EOF buffers mapped and
  // dirtied, set_page_dirty, stable wait.  Returns with the page locked on
  // success; 0 on success, else NOPAGE/SIGBUS with the page unlocked.
  vm_fault_t block_page_mkwrite(VmFault& vmf);
  vm_fault_t ext4_page_mkwrite_v2630(VmFault& vmf);
  // 5.15 ext4_page_mkwrite's slow path (the kExt4Journal shape): the
  // invalidate_lock shared (with ea3d7209ca01), the journal, block_page_mkwrite.
  vm_fault_t ext4_page_mkwrite_v515(VmFault& vmf);
  // Whether ->writepage is 5.15 ext4's (the kExt4Journal shape under a
  // 5.15-era scheme): a dirty page without buffers is warned about and
  // dropped (ext4_writepage, mpage_prepare_extent_to_map, read at 5.15;
  // the check and its comment's link to Kara's report came with
  // cc5095747edf).  Elsewhere ->writepage is block_write_full_page, which in
  // v2.6.30 and 5.15 alike creates the buffers again (create_page_buffers)
  // and finds the page's blocks with get_block.
  bool ext4_drops_page_without_buffers() const;
  // __block_write_full_page's walks over the page's buffers (get_block up
  // to the first failure, recover:'s drops, PG_writeback, the snapshot);
  // returns the buffers sent.
  uint32_t write_buffers(Page* page, PageBuffers& pb, uint32_t in, uint32_t len)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);
  // Models the BUG_ON in fs/ext4/inode.c:ext4_normal_writepage() as of
  // v2.6.29/30 (the ->writepage of ext4_ordered_aops and ext4_writeback_aops,
  // which nodelalloc reaches; ext4_journalled_writepage has the same check):
  // a page with buffers whose dirty buffers inside i_size (`in`) are not all
  // mapped.  c364b22c9580 (v2.6.31) dropped the unmapped half: true for
  // `buffer:ext4_v2.6.30` where the era lacks that fix, and for 5.15's
  // ext4 (`buffer`) with it reverted.
  // The bytes of the page ->writepage writes (the rest zeroed): those
  // inside i_size, read after clear_page_dirty_for_io; with a056bdaae7a1
  // reverted on 5.15's ext4, inside the i_size write_cache_pages read
  // before it (WritebackControl::isize_before_wrprotect).
  uint32_t ext4_writepage_len(const Page* page, const WritebackControl& wbc) const;
  bool ext4_unmapped_dirty_bug(uint64_t index, const PageBuffers& pb, uint32_t in) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(i_lock_);

  const BufferOptions options_;
  const uint32_t blocksize_;
  BlockGeometry geo_;  // constant after Attach
  // lock_order.h: journal (fs-level) -> page lock -> i_lock -> store.
  OwnedMutex journal_{LockClass::kFsLevel, "journal"};
  mutable FutexMutex i_lock_ ABSL_ACQUIRED_AFTER(journal_){LockClass::kInodeLock,
                                                          "buffer private_lock"};
  std::unique_ptr<PageBuffers[]> bufs_ ABSL_GUARDED_BY(i_lock_);
  BlockMap blocks_ ABSL_GUARDED_BY(i_lock_);
  Shared<uint64_t> dropped_{0};  // data buffers dropped on ENOSPC at writeback
  Shared<uint64_t> mapping_errors_{0};  // recover: paths taken
  Shared<uint64_t> ext4_no_buffers_{0};  // pages 5.15 ext4 dropped for want of buffers
  Shared<uint64_t> freed_writes_{0};     // buffers written to freed blocks
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_BUFFER_H_
