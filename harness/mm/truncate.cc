#include "harness/mm/truncate.h"

#include <cstring>

#include "harness/check/root_cause.h"
#include "harness/mm/mm_context.h"
#include "harness/sched/sched.h"

namespace pagerace {

void pagecache_isize_extended(MmContext& mm, Page* eof_page, int64_t from, int64_t to,
                              uint32_t blocksize) {
  const int64_t ps = static_cast<int64_t>(mm.page_size());
  if (!eof_page || blocksize >= ps || to <= from) return;
  const int64_t rounded_from = (from + blocksize - 1) / blocksize * blocksize;
  // Nothing to do if the old EOF block still covers the new size, or the
  // old size was page-aligned (no page straddles it).
  if (to <= rounded_from || rounded_from % ps == 0) return;
  if (mm.mmu().page_mkclean(eof_page)) {
    mm.trace(eof_page->index, Event::kPageMkclean);
    mm.set_page_dirty(eof_page);
  }
}

void truncate_inode_page(MmContext& mm, Page* page) {
  const uint64_t i = page->index;
  wait_on_page_writeback(page);
  mm.mmu().zap_index(i);
  if (PagePrivate(page)) mm.a_ops().invalidatepage(page);
  // cancel_dirty_page: the data is being thrown away; the page leaves
  // NR_FILE_DIRTY (v2.6.29 dec_zone_page_state, 5.15 account_page_cleaned).
  if (TestClearPageFlag(page, PG_dirty)) mm.account_page_cleaned(page);
  mm.trace(i, Event::kTruncate);
  mm.mapping().remove_from_page_cache(page);
}

namespace {

// The filesystem's ->setattr holding mapping->invalidate_lock for writing
// across the whole size change (AddressSpaceOps::setattr_holds_invalidate_lock:
// 5.15 ext4_setattr's filemap_invalidate_lock ... filemap_invalidate_unlock),
// where the run's kernel has the lock (ea3d7209ca01 not reverted).  A fault
// in ->page_mkwrite, which holds it shared, and the truncation exclude each
// other, as they do there.
class SetattrInvalidateLock {
 public:
  explicit SetattrInvalidateLock(MmContext& mm) ABSL_NO_THREAD_SAFETY_ANALYSIS
      : lock_(mm.a_ops().setattr_holds_invalidate_lock() && mm.has_fix(Fix::kea3d7209ca01)
                  ? &mm.mapping().invalidate_lock()
                  : nullptr) {
    if (lock_) lock_->WriteLock();
  }
  ~SetattrInvalidateLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (lock_) lock_->WriteUnlock();
  }
  SetattrInvalidateLock(const SetattrInvalidateLock&) = delete;
  SetattrInvalidateLock& operator=(const SetattrInvalidateLock&) = delete;

 private:
  FutexRwSem* const lock_;
};

}  // namespace

void vmtruncate(MmContext& mm, int64_t new_size) {
  AddressSpace& mapping = mm.mapping();
  SCHED_POINT(kTruncateBegin);
  const SetattrInvalidateLock setattr_lock(mm);
  const int64_t old_size = mapping.i_size();
  const int64_t ps = static_cast<int64_t>(mm.page_size());
  if (new_size >= old_size &&
      !mm.a_ops().setattr_calls_pagecache_isize_extended(mm.scheme().era())) {
    // v2.6.29/30 (every fs), and 5.15 for a filesystem whose ->setattr does
    // not call pagecache_isize_extended (NFS): the fs's ->setattr work on
    // growth (nfs_setattr's flush) comes before the size change, which then
    // only checks the limits and writes i_size (vmtruncate, nfs_vmtruncate,
    // whose truncate_pagecache does not write-protect the old EOF page on
    // growth): no page lock, no zeroing.
    mm.a_ops().setattr_extend(nullptr, old_size, new_size);
    SCHED_POINT(kTruncateGrowAfterSetattr);
    SCHED_POINT(kTruncateGrowBeforeISize);
    mapping.set_i_size(new_size);
    // What an mmap store left past the old EOF stays in the page and is now
    // inside i_size, where the store has zeros: unspecified bytes, not lost
    // ones (MmContext::mark_stale_tail).  Recorded after the size change,
    // without the page lock (this growth takes none): a store landing
    // before the record is at worst not checked by I0 (the ledger still
    // checks it).
    if (old_size % ps) {
      if (Page* eof = mapping.find_get_page(static_cast<uint64_t>(old_size / ps))) {
        // Writable now, or about to be (a fault between ->page_mkwrite,
        // which read the old size, and pte_mkwrite): either way stores past
        // the old EOF land where ->page_mkwrite prepared nothing.
        mm.transition(eof->index, FaultPath::kTruncate,
                               FaultWindow::kGrowthPastWritableEofPage);
        mm.mark_stale_tail(eof, static_cast<uint32_t>(old_size % ps));
        put_page(eof);
      }
    }
    SCHED_POINT(kTruncateEnd);
    return;
  }
  if (new_size >= old_size && old_size % ps && !mm.a_ops().growth_locks_eof_page()) {
    // 5.15 ext4 with a block a page (ext4_setattr: i_size_write under
    // i_data_sem, then pagecache_isize_extended, which has nothing to do):
    // no page lock, no zeroing; a writeback holding the EOF page locked
    // does not hold the growth off.
    mm.a_ops().setattr_extend(nullptr, old_size, new_size);
    mapping.set_i_size(new_size);
    if (Page* eof = mapping.find_get_page(static_cast<uint64_t>(old_size / ps))) {
      mm.trace(eof->index, Event::kGrowWithoutPageLock);
      mm.mark_stale_tail(eof, static_cast<uint32_t>(old_size % ps));
      put_page(eof);
    }
    SCHED_POINT(kTruncateEnd);
    return;
  }
  if (new_size >= old_size) {
    Page* eof = old_size % ps ? mapping.find_lock_page(static_cast<uint64_t>(old_size / ps))
                              : nullptr;
    mm.a_ops().setattr_extend(eof, old_size, new_size);
    if (eof && mm.reverted(Fix::k90a8020278c1)) {
      // Without pagecache_isize_extended the EOF page's pte stays writable
      // across the growth, as before v3.18.
      mm.transition(eof->index, FaultPath::kTruncate, FaultWindow::kGrowthPastWritableEofPage);
    }
    if (eof) {
      // The grown part must read as zeros: whatever an mmap store left past
      // the old EOF goes (iomap_zero_range / the fs zeroing its old EOF
      // block on extension).
      const size_t off = static_cast<size_t>(old_size % ps);
      memset(mm.mmu().kmap(eof->index) + off, 0, static_cast<size_t>(ps) - off);
    }
    mapping.set_i_size(new_size);
    if (eof) {
      unlock_page(eof);
      put_page(eof);
    }
    SCHED_POINT(kTruncateEnd);
    return;
  }
  // i_size first: from here on a fault past the new end gets SIGBUS, and a
  // fault that looked the page up earlier finds it past EOF once it has the
  // page lock (filemap_fault re-checks) or finds it detached (!mapping).
  mapping.set_i_size(new_size);
  SCHED_POINT(kTruncateAfterISize);
  SCHED_POINT(kTruncateBeforeUnmap);
  const uint64_t first = static_cast<uint64_t>((new_size + ps - 1) / ps);
  // unmap_mapping_range: zap every pte past the new end.
  for (uint64_t i = first; i < mm.pages(); ++i) mm.mmu().zap_index(i);
  // truncate_inode_pages: each page locked, waited for, re-zapped (a fault
  // may have mapped it again before it saw the new i_size), its fs metadata
  // invalidated, and removed from the page cache.
  for (uint64_t i = first; i < mm.pages(); ++i) {
    Page* page = mapping.find_lock_page(i);
    if (!page) continue;
    truncate_inode_page(mm, page);
    unlock_page(page);
    put_page(page);
  }
  // truncate_partial_page: the page the new end falls inside keeps its ptes;
  // its tail is zeroed and the metadata past the end dropped.
  if (new_size % ps) {
    if (Page* page = mapping.find_lock_page(static_cast<uint64_t>(new_size / ps))) {
      wait_on_page_writeback(page);
      const uint32_t offset = static_cast<uint32_t>(new_size % ps);
      memset(mm.mmu().kmap(page->index) + offset, 0, static_cast<size_t>(ps) - offset);
      if (PagePrivate(page)) mm.a_ops().invalidate_partial(page, offset);
      unlock_page(page);
      put_page(page);
    }
  }
  mm.a_ops().truncate_store(new_size);
  SCHED_POINT(kTruncateEnd);
}

}  // namespace pagerace
