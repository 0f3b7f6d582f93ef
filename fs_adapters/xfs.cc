#include "fs_adapters/xfs.h"

#include <bit>
#include <cstring>

#include "harness/mm/mm_context.h"
#include "harness/mm/truncate.h"
#include "harness/sched/sched.h"

namespace pagerace {

void XfsAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  geo_ = {.page_size = page_size_, .blocksize = options_.blocksize};
  FutexLock l(&i_lock_);
  pages_.reset(new PageState[mm->pages()]());
  blocks_.Init(mm->pages(), geo_);
}

uint32_t XfsAdapter::blocks_in_isize(uint64_t index) const {
  return geo_.in(index, mm_->mapping().i_size());
}

// The MMAPLOCK is 5.15's invalidate_lock (xfs_ilock's XFS_MMAPLOCK_* take
// VFS_I(ip)->i_mapping->invalidate_lock), which the run's kernel has where
// its era holds ea3d7209ca01 (the VM's filemap_fault takes it there too).
// XFS has had an MMAPLOCK since v4.1; v2.6.30's fault path takes no XFS lock.
bool XfsAdapter::mmaplock() const { return !options_.v2630 && mm_->has_fix(Fix::kea3d7209ca01); }

// The body of the 5.15 and v2.6.30 ->page_mkwrite after the fs locks:
//   5.15 fs/iomap/buffered-io.c:iomap_page_mkwrite(): lock_page;
//     page_mkwrite_check_truncate (another mapping, or wholly past EOF:
//     -EFAULT, which block_page_mkwrite_return makes VM_FAULT_NOPAGE); over
//     the bytes inside i_size, xfs_buffered_write_iomap_begin reserves
//     delalloc for each hole (xfs_bmapi_reserve_delalloc, the EOF block
//     whole; ENOSPC is VM_FAULT_SIGBUS: a fault asks for no speculative
//     preallocation, so the one retry frees nothing) and
//     iomap_page_mkwrite_iter calls set_page_dirty; wait_for_stable_page;
//     VM_FAULT_LOCKED.
//   v2.6.30 fs/buffer.c:block_page_mkwrite(vma, vmf, xfs_get_blocks):
//     lock_page; another mapping or page_offset > i_size is VM_FAULT_NOPAGE
//     (-EINVAL, SIGBUS, before 56a76f8275c3); block_prepare_write over
//     [0, end): xfs_get_blocks(create) gives each in-EOF buffer without a
//     block a delalloc one (xfs_iomap_write_delay; ENOSPC after its one
//     flush-and-retry is SIGBUS); block_commit_write dirties them and the
//     page; VM_FAULT_LOCKED.
// Differences: blocks are counted, not placed; xfs_iomap_write_delay's
// retry after xfs_flush_inodes and the quota reservation are not modeled;
// a page at exactly i_size is a retry in both (v2.6.30 maps nothing there
// and succeeds).
vm_fault_t XfsAdapter::mkwrite_locked(VmFault& vmf) {
  Page* page = vmf.page;
  mkwrite_lock_page(vmf);
  const uint32_t want = blocks_in_isize(page->index);
  if (!mkwrite_page_ok(page) || want == 0) {
    mkwrite_unlock_page(vmf);
    if (options_.v2630 && !mm_->has_fix(Fix::k56a76f8275c3)) return kVmFaultSigbus;  // -EINVAL
    return kVmFaultNoPage;
  }
  bool reserved;
  {
    FutexLock l(&i_lock_);
    reserved = blocks_.Delay(page->index, want);
    if (reserved) {
      pages_[page->index].data |= want;
      if (!PagePrivate(page)) {
        SetPageFlag(page, PG_private);  // the iomap_page / buffer heads
        mm_->trace(page->index, Event::kMetadataAttach);
      }
      blocks_.Check(mm_->oracle(), page->index);
    }
  }
  if (!reserved) {
    mkwrite_unlock_page(vmf);
    return kVmFaultSigbus;  // ENOSPC
  }
  mm_->set_page_dirty(page);
  mkwrite_wait_stable(page);  // 5.15 wait_for_stable_page; v2.6.30 has none
  return 0;
}

// Models fs/xfs/xfs_file.c:xfs_filemap_page_mkwrite() -> __xfs_filemap_fault()
// as of 5.15 (sb_start_pagefault, file_update_time, xfs_ilock(MMAPLOCK_SHARED),
// iomap_page_mkwrite, the MMAPLOCK dropped with the page still locked) and
// fs/xfs/linux-2.6/xfs_file.c:xfs_vm_page_mkwrite() as of v2.6.30
// (block_page_mkwrite, no XFS lock).  Differences: freeze protection and
// the timestamp update are not modeled.
vm_fault_t XfsAdapter::page_mkwrite(VmFault& vmf) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  FutexRwSem& invalidate_lock = mm_->mapping().invalidate_lock();
  const bool shared = mmaplock();
  if (shared) invalidate_lock.ReadLock();
  const vm_fault_t ret = mkwrite_locked(vmf);
  if (shared) invalidate_lock.ReadUnlock();
  return ret ? ret : mkwrite_done(vmf, /*returns_locked=*/true);
}

// 5.15: __set_page_dirty_nobuffers (xfs_address_space_operations'
// set_page_dirty).  v2.6.30: __set_page_dirty_buffers (XFS sets none), which
// dirties every buffer; its writepage reads no buffer's dirty bit, so the
// page's dirty bit says the same.  Either way a store may have landed in any
// block inside i_size.
int XfsAdapter::set_page_dirty(Page* page) {
  {
    FutexLock l(&i_lock_);
    pages_[page->index].data |= blocks_in_isize(page->index);
  }
  return __set_page_dirty_nobuffers(page);
}

// Models writeback of one page:
//   5.15 fs/iomap/buffered-io.c:iomap_do_writepage() and
//     iomap_writepage_map() under xfs_vm_writepages: a page wholly past EOF
//     is redirtied and left; the EOF page's tail past i_size is zeroed on
//     every pass; each block inside i_size is mapped by xfs_map_blocks: a
//     delalloc block is converted (xfs_bmapi_convert_delalloc, from space
//     reserved at delalloc time: no ENOSPC), a written one is written, and a
//     hole (IOMAP_HOLE) is skipped without a word: what a store left there
//     is never written, and the page is clean.
//   v2.6.30 fs/xfs/linux-2.6/xfs_aops.c:xfs_vm_writepage() ->
//     xfs_page_state_convert(startio=1): a page wholly past EOF is unlocked
//     and dropped; every uptodate buffer inside i_size is written (dirty or
//     not): a delalloc one converted (BMAPI_ALLOCATE), one without a block
//     allocated now (BMAPI_WRITE|BMAPI_MMAP, xfs_iomap_write_direct: a
//     transaction that can fail with ENOSPC).  On that failure the page's
//     queued buffers are cancelled, ClearPageUptodate, not redirtied: the
//     whole page's data is lost (mapping error).  No tail zeroing.
// Differences: asynchronous completion through the I/O queue for the whole
// page; delalloc becomes a written block at once (5.15 allocates it
// unwritten and converts at completion, with the on-disk size); no
// clustering into neighbouring pages; a dropped v2.6.30 page keeps its
// bytes in the cache (not uptodate in the kernel: the next read goes to
// disk), so the oracles see the loss as a clean page that differs from disk.
int XfsAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  const uint32_t len = bytes_in_isize(index);
  if (len == 0) {
    // Wholly past EOF: only a shrinking truncate leaves such a page cached,
    // and it discards it.
    if (!options_.v2630) __set_page_dirty_nobuffers(page);  // redirty_page_for_writepage
    return finish_writepage(page, /*send=*/false);
  }
  if (!options_.v2630 && len < page_size_) {
    memset(mm_->mmu().kmap(index) + len, 0, page_size_ - len);  // iomap_do_writepage
  }
  uint32_t send = 0;
  {
    FutexLock l(&i_lock_);
    PageState& ps = pages_[index];
    const uint32_t want = geo_.in(index, static_cast<int64_t>(index * page_size_) + len);
    const uint32_t data = ps.data & want;
    ps.data = 0;
    if (!options_.v2630) {
      send = want & blocks_.placed(index);
      const uint32_t skipped = data & ~send;
      if (skipped) {
        // A store landed in a hole: the pte was made writable before the
        // file grew over the block, and nothing wrote it protected since.
        mm_->blame(index, FaultWindow::kGrowthPastWritableEofPage);
        dropped_.fetch_add(std::popcount(skipped), std::memory_order_relaxed);
      }
    } else if (!blocks_.Allocate(index, want)) {
      // xfs_page_state_convert's error: the page is dropped whole.
      if (data & ~blocks_.placed(index)) {
        mm_->blame(index, FaultWindow::kGrowthPastWritableEofPage);
      }
      dropped_.fetch_add(std::popcount(data), std::memory_order_relaxed);
      mapping_errors_.fetch_add(1, std::memory_order_relaxed);
    } else {
      send = want;
    }
    blocks_.Convert(index, send);
    blocks_.Check(mm_->oracle(), index);
    if (send) {
      ps.in_flight = send;
      test_set_page_writeback(page);
      snapshot_blocks(index, send, geo_.blocksize);
    }
  }
  return finish_writepage(page, send != 0);
}

// The write's completion (5.15 iomap_finish_ioend / xfs_end_ioend, v2.6.30
// xfs_end_bio): each written block's bytes are on disk.
void XfsAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  PageState& ps = pages_[index];
  write_blocks(index, ps.in_flight, geo_.blocksize);
  ps.in_flight = 0;
}

// ->write_begin: 5.15 iomap_write_begin (xfs_buffered_write_iomap_begin:
// delalloc for the holes the write covers); v2.6.30 xfs_vm_write_begin ->
// block_write_begin with xfs_get_blocks (the same, buffer by buffer).  Only
// the written range gets blocks.  ENOSPC fails the write before any copy.
int XfsAdapter::write_begin(Page* page, uint32_t offset, uint32_t len) {
  const uint32_t want = geo_.in_range(offset, offset + len) & blocks_in_isize(page->index);
  FutexLock l(&i_lock_);
  if (!blocks_.Delay(page->index, want)) return -28;  // -ENOSPC
  if (!PagePrivate(page)) {
    SetPageFlag(page, PG_private);
    mm_->trace(page->index, Event::kMetadataAttach);
  }
  blocks_.Check(mm_->oracle(), page->index);
  return 0;
}

// ->write_end: 5.15 __iomap_write_end (__set_page_dirty_nobuffers), v2.6.30
// generic_write_end -> block_write_end (mark_buffer_dirty of the written
// buffers, the page through __set_page_dirty).  Returns 1: the page is
// dirtied here.
int XfsAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  {
    FutexLock l(&i_lock_);
    pages_[page->index].data |= geo_.in_range(offset, offset + len) & blocks_in_isize(page->index);
  }
  __set_page_dirty_nobuffers(page);
  mm_->trace(page->index, Event::kSetPageDirty);
  return 1;
}

// 5.15 iomap_releasepage: refused while the page is dirty or under
// writeback, else the iomap_page goes.  v2.6.30 xfs_vm_releasepage: a page
// with delalloc buffers is converted, not released (refused here).  The
// block map stays either way: it is the disk's.
bool XfsAdapter::releasepage(Page* page, Gfp /*gfp*/) {
  FutexLock l(&i_lock_);
  const PageState& ps = pages_[page->index];
  if (ps.in_flight || PageDirty(page)) return false;
  if (options_.v2630 && blocks_.delay(page->index)) return false;
  ClearPageFlag(page, PG_private);
  return true;
}

// 5.15 iomap_invalidatepage / v2.6.30 block_invalidatepage of the whole page
// (truncate): its state goes; the blocks go with truncate_store.
void XfsAdapter::invalidatepage(Page* page) {
  FutexLock l(&i_lock_);
  pages_[page->index].data = 0;
  ClearPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kInvalidatepage);
}

// The file now ends inside the page: what lies past the new end carries no
// data (5.15 iomap_invalidatepage ignores a partial range; the blocks past
// it go with truncate_store).
void XfsAdapter::invalidate_partial(Page* page, uint32_t offset) {
  FutexLock l(&i_lock_);
  pages_[page->index].data &= geo_.in(0, offset);
}

// Models the growth half of fs/xfs/xfs_iops.c:xfs_setattr_size() as of
// 5.15: truncate_setsize, whose pagecache_isize_extended write-protects the
// old EOF page when its block size is below the page size.  Differences:
// iomap_zero_range over [old size, new size) zeroes the page cache over
// delalloc and written blocks only; the model's growth (vmtruncate, the EOF
// page locked) zeroes the whole tail past the old EOF, holes included,
// where the kernel leaves what an mmap store put over a hole in the cache
// (not the file's bytes either way: writeback skips the hole).
void XfsAdapter::setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) {
  if (!options_.v2630 && HasPagecacheIsizeExtended(mm_->scheme().era()) &&
      !mm_->reverted(Fix::k90a8020278c1)) {
    pagecache_isize_extended(*mm_, eof_page, old_size, new_size, geo_.blocksize);
  }
}

bool XfsAdapter::FillDisk() {
  FutexLock l(&i_lock_);
  blocks_.Fill(mm_->mapping().i_size());
  return true;
}

bool XfsAdapter::InjectMkwriteFailures(uint32_t one_in) {
  FutexLock l(&i_lock_);
  blocks_.RunShort(one_in);
  return true;
}

// ->truncate's block freeing (5.15 xfs_itruncate_extents, v2.6.30
// xfs_itruncate_finish): blocks wholly past the new end, delalloc ones
// included, go back.
void XfsAdapter::truncate_store(int64_t size) {
  {
    FutexLock l(&i_lock_);
    blocks_.Truncate(size);
    blocks_.Check(mm_->oracle(), 0);
  }
  StoreBackedOps::truncate_store(size);
}

// What may carry the user's data must be written by the next writeback
// (block_map.h): every block inside i_size while a pte is writable, the
// blocks dirtied inside it otherwise.  5.15 writes a block only where it
// has a place (mapped or delalloc); v2.6.30 also allocates one for a block
// without, which only a full disk refuses.
MetadataState XfsAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  const uint32_t want = blocks_in_isize(page->index);
  const uint32_t need = writable ? want : (pages_[page->index].data & want);
  const uint32_t can = options_.v2630 && !blocks_.disk_full() ? geo_.all()
                                                               : blocks_.placed(page->index);
  return (can & need) == need ? MetadataState::kDirtyCapable : MetadataState::kNotDirtyCapable;
}

void XfsAdapter::check_invariants() {
  FutexLock l(&i_lock_);
  blocks_.Audit(mm_->oracle());
}

uint32_t XfsAdapter::mapped_mask(uint64_t index) const {
  FutexLock l(&i_lock_);
  return blocks_.mapped(index);
}

uint32_t XfsAdapter::delay_mask(uint64_t index) const {
  FutexLock l(&i_lock_);
  return blocks_.delay(index);
}

int64_t XfsAdapter::free_blocks() const {
  FutexLock l(&i_lock_);
  return blocks_.space().free();
}

void XfsAdapter::set_free_blocks(int64_t n) {
  FutexLock l(&i_lock_);
  blocks_.space().SetFree(n);
}

std::unique_ptr<StoreBackedOps> MakeXfsAdapter(const XfsOptions& options) {
  return std::make_unique<XfsAdapter>(options);
}

}  // namespace pagerace
