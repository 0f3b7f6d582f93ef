// The XFS adapter (docs/adapters.md), in two kernel releases:
//
//   `xfs`, `xfs:1k`  5.15 (iomap), 4 KiB and 1 KiB blocks.  The write fault
//                    takes the MMAPLOCK shared (in 5.15 the mapping's
//                    invalidate_lock) around iomap_page_mkwrite, which locks
//                    the page, checks truncation (a retry), reserves delalloc
//                    for the blocks inside i_size (xfs_buffered_write_iomap_begin:
//                    ENOSPC is SIGBUS), dirties the page and returns it
//                    locked.  Writeback is ->writepages only (no ->writepage,
//                    so reclaim keeps a dirty page): iomap_writepage_map
//                    writes every block inside i_size that has a place,
//                    converting delalloc (xfs_map_blocks), and skips a hole
//                    without a word.  xfs_setattr_size holds the MMAPLOCK
//                    exclusively across the size change and calls
//                    truncate_setsize, whose pagecache_isize_extended
//                    write-protects the old EOF page (1 KiB blocks).
//   `xfs:v2.6.30`    v2.6.30, 1 KiB blocks.  xfs_vm_page_mkwrite is
//                    block_page_mkwrite with xfs_get_blocks (delalloc for the
//                    in-EOF buffers), returning locked, with no XFS lock.
//                    xfs_vm_writepage writes every uptodate buffer inside
//                    i_size and allocates the ones without a block
//                    (BMAPI_WRITE|BMAPI_MMAP); when that allocation fails the
//                    whole page is dropped (ClearPageUptodate, not redirtied).
//                    Growth only writes i_size: a pte made writable while the
//                    page was the EOF page stays writable over the new blocks,
//                    the shape pagecache_isize_extended (v3.18) was written for.
//
// Per page the adapter keeps the block map (block_map.h: mapped and delalloc
// blocks) and which blocks may carry the user's data (`data`: dirtied while
// inside i_size).  5.15 iomap tracks no per-block dirty state (only
// uptodate), so its writeback writes every block with a place, dirty or not.
//
// Adapter invariant I4 (BlockMap::Check): free + the file's mapped and
// delalloc blocks == capacity.
//
// Thread-safety: the block map and per-page state are protected by i_lock_
// (the ILOCK), taken after the page lock.
#ifndef PAGERACE_FS_ADAPTERS_XFS_H_
#define PAGERACE_FS_ADAPTERS_XFS_H_

#include <cstdint>
#include <memory>
#include <string>

#include "fs_adapters/backing_store.h"
#include "fs_adapters/block_map.h"
#include "harness/base/futex.h"
#include "harness/base/lock_order.h"
#include "harness/base/shared.h"

namespace pagerace {

struct XfsOptions {
  const char* name = "xfs";  // the registry name
  bool v2630 = false;        // v2.6.30's XFS (block_page_mkwrite), else 5.15's (iomap)
  uint32_t blocksize = 4096;
};

std::unique_ptr<StoreBackedOps> MakeXfsAdapter(const XfsOptions& options);

class XfsAdapter : public StoreBackedOps {
 public:
  explicit XfsAdapter(const XfsOptions& options) : options_(options) {}

  void Attach(MmContext* mm) override;
  const char* name() const override { return options_.name; }
  bool has_page_mkwrite() const override { return true; }
  // 5.15's xfs_address_space_operations have ->writepages only.
  bool has_writepage() const override { return options_.v2630; }
  const char* page_mkwrite_name() const override {
    return options_.v2630 ? "block_page_mkwrite" : "iomap_page_mkwrite";
  }
  const char* metadata_name() const override { return "delalloc blocks"; }
  vm_fault_t page_mkwrite(VmFault& vmf) override;
  int set_page_dirty(Page* page) override;
  int writepage(Page* page, WritebackControl& wbc) override;
  void end_io(Page* page) override;
  int write_begin(Page* page, uint32_t offset, uint32_t len) override;
  int write_end(Page* page, uint32_t offset, uint32_t len) override;  // dirties: 1
  bool releasepage(Page* page, Gfp gfp) override;
  // iomap_migrate_page (5.15), buffer_migrate_page (v2.6.30): the page's
  // private state moves with it.
  Migrate migratepage(KernelEra) const override { return Migrate::kMovePrivate; }
  void invalidatepage(Page* page) override;
  void invalidate_partial(Page* page, uint32_t offset) override;
  // v2.6.30's xfs_setattr has no pagecache_isize_extended to call.
  bool setattr_calls_pagecache_isize_extended(KernelEra era) const override {
    return !options_.v2630 && HasPagecacheIsizeExtended(era);
  }
  void setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) override;
  // 5.15 xfs_setattr_size holds the MMAPLOCK (the invalidate_lock)
  // exclusively across the whole size change; xfs_filemap_page_mkwrite takes
  // it shared.
  bool setattr_holds_invalidate_lock() const override { return !options_.v2630; }
  std::string punch_hole_refusal() const override {
    return "its hole punch is not modeled (xfs_file_fallocate writes the range back before "
           "truncate_pagecache_range; punch.h models 5.15 ext4's: --fs=buffer)";
  }
  bool FillDisk() override;
  void truncate_store(int64_t size) override;
  MetadataState metadata_state(const Page* page, bool writable) const override;
  void check_invariants() override;
  // The disk nearly full: delalloc reservations (and v2.6.30's allocation
  // at writepage) run short.
  bool InjectMkwriteFailures(uint32_t one_in) override;

  // For tests.
  uint32_t mapped_mask(uint64_t index) const;
  uint32_t delay_mask(uint64_t index) const;
  int64_t free_blocks() const;
  void set_free_blocks(int64_t n);
  // Blocks with the user's data that writeback skipped (5.15: a hole) or
  // dropped (v2.6.30: the page's allocation failed).
  uint64_t dropped_blocks() const { return dropped_.load(); }
  uint64_t mapping_errors() const { return mapping_errors_.load(); }

 private:
  struct PageState {
    uint32_t data = 0;       // blocks that may carry the user's data
    uint32_t in_flight = 0;  // blocks being written
  };
  uint32_t blocks_in_isize(uint64_t index) const;
  // iomap_page_mkwrite (5.15) or block_page_mkwrite with xfs_get_blocks
  // (v2.6.30): 0 with the page locked, else NOPAGE/SIGBUS, page unlocked.
  vm_fault_t mkwrite_locked(VmFault& vmf);
  // Whether the run's kernel has the MMAPLOCK as the invalidate_lock.
  bool mmaplock() const;

  const XfsOptions options_;
  BlockGeometry geo_;  // constant after Attach
  // lock_order.h: invalidate_lock (MMAPLOCK) -> page lock -> ILOCK -> store.
  mutable FutexMutex i_lock_{LockClass::kInodeLock, "xfs ILOCK"};
  std::unique_ptr<PageState[]> pages_ ABSL_GUARDED_BY(i_lock_);
  BlockMap blocks_ ABSL_GUARDED_BY(i_lock_);
  Shared<uint64_t> dropped_{0};
  Shared<uint64_t> mapping_errors_{0};
};

}  // namespace pagerace

#endif  // PAGERACE_FS_ADAPTERS_XFS_H_
