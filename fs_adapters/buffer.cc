#include "fs_adapters/buffer.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/truncate.h"
#include "harness/sched/sched.h"

namespace pagerace {
namespace {

// The journal commit copies a buffer while the page's ptes may be writable:
// a user store can change the bytes mid-copy, as a DMA read of a page being
// stored to would in the kernel (the next commit or writepage writes them
// again: the store dirtied the pte).  Kept out of TSan's instrumentation,
// byte by byte through a volatile pointer so that it is no (intercepted)
// memcpy, as MmContext's unlocked page copies are.
__attribute__((no_sanitize("thread"))) void CopyMappedBytes(uint8_t* dst, const uint8_t* src,
                                                            size_t n) {
  const volatile uint8_t* from = src;
  for (size_t i = 0; i < n; ++i) dst[i] = from[i];
}

}  // namespace

void BufferAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  geo_ = {.page_size = page_size_, .blocksize = blocksize_};
  FutexLock l(&i_lock_);
  bufs_.reset(new PageBuffers[mm->pages()]);
  blocks_.Init(mm->pages(), geo_);
}

bool BufferAdapter::InjectMkwriteFailures(uint32_t one_in) {
  if (options_.mkwrite == BufferMkwrite::kNone) return false;  // no ->page_mkwrite to fail
  // Fewer blocks than the file needs: allocation eventually fails.
  FutexLock l(&i_lock_);
  blocks_.RunShort(one_in);
  return true;
}

int64_t BufferAdapter::free_blocks() const {
  FutexLock l(&i_lock_);
  return blocks_.space().free();
}

void BufferAdapter::set_free_blocks(int64_t n) {
  FutexLock l(&i_lock_);
  blocks_.space().SetFree(n);
}

uint32_t BufferAdapter::buffers_in_isize(uint64_t index) const {
  return geo_.in(index, mm_->mapping().i_size());
}

// Models fs/buffer.c:create_empty_buffers() as of v2.6.30 (5.15's the same):
// under private_lock, the new buffers of a page that is already dirty are
// all dirty (and with them whatever the page holds inside i_size), so the
// next ->writepage writes every block of it.  A page is dirty without
// buffers when set_page_dirty found none: get_user_pages'
// set_page_dirty_lock after reclaim released the buffers of the page
// writeback had cleaned.
void BufferAdapter::attach_buffers(Page* page, PageBuffers& pb) {
  if (pb.attached) return;
  pb.attached = true;
  if (PageDirty(page)) {
    pb.dirty |= geo_.all();
    pb.data |= buffers_in_isize(page->index);
  }
  SetPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kMetadataAttach);
}

// Models fs/buffer.c:block_page_mkwrite() as of v2.6.30 and v5.15 (both map
// and dirty every buffer inside i_size, [0, end), then the page; 5.15 then
// calls wait_for_stable_page, which waits only with SB_I_STABLE_WRITES:
// mkwrite_wait_stable).  A page truncated since the fault found it, or
// lying past EOF, is a retry (VM_FAULT_NOPAGE) from 56a76f8275c3 (v2.6.30);
// v2.6.29's returned -EINVAL, which its VM turns into SIGBUS (read in both
// versions): that is the code under `legacy` and with --revert=56a76f8275c3.
// Differences: blocks are "allocated" by counting (no block numbers: a
// buffer's data goes to its own offset in the store); at page_offset ==
// i_size every version maps nothing and succeeds where the model returns
// NOPAGE.  Entered unlocked (locked under `naive`).
vm_fault_t BufferAdapter::block_page_mkwrite(VmFault& vmf) {
  Page* page = vmf.page;
  mkwrite_lock_page(vmf);
  const uint32_t want = buffers_in_isize(page->index);
  if (!mkwrite_page_ok(page) || want == 0) {
    mkwrite_unlock_page(vmf);
    const bool gone = page->mapping.load(std::memory_order_acquire) != &mm_->mapping() ||
                      static_cast<int64_t>(page->index * mm_->page_size()) > mm_->mapping().i_size();
    if (gone && !mm_->has_fix(Fix::k56a76f8275c3)) return kVmFaultSigbus;  // -EINVAL
    return kVmFaultNoPage;  // truncated, or wholly past EOF: retry the fault
  }
  bool mapped;
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    mapped = blocks_.Allocate(page->index, want);
    if (mapped) {
      attach_buffers(page, pb);
      pb.dirty |= want;  // block_commit_write
      pb.data |= want;
    }
  }
  if (!mapped) {
    mkwrite_unlock_page(vmf);
    return kVmFaultSigbus;  // ENOSPC
  }
  mm_->set_page_dirty(page);
  if (mm_->reverted(Fix::k1d1d1a767206)) {
    // v3.0-v3.8: block_page_mkwrite and ext4_page_mkwrite waited for
    // writeback on every device (wait_on_page_writeback, from d76ee18a8551);
    // 1d1d1a767206 (v3.9; its diff read in Jan Kara's review on linux-mm)
    // made both wait only where the device needs stable pages.
    wait_on_page_writeback(page);
  } else {
    mkwrite_wait_stable(page);  // 5.15: wait_for_stable_page
  }
  return 0;
}

// Models fs/ext4/inode.c:ext4_page_mkwrite() as of v2.6.30, ext4 without
// delalloc (ext4_write_begin / ext4_ordered_write_end).  With i_alloc_sem
// (not modeled) and no page lock it fails (SIGBUS) a page that lost its
// mapping, lies wholly past EOF or is not uptodate; returns 0, the page
// unlocked, when the page has buffers and every buffer inside i_size is
// mapped; otherwise ->write_begin(0, len) (journal start, then the page
// lock, blocks for the range) and ->write_end (the range dirty, page dirty,
// unlocked), returning 0 unlocked.  Differences: PageMappedToDisk is not
// modeled (the buffer walk answers the same question); write_begin locks
// the page the fault holds (v2.6.30's grab_cache_page_write_begin would find
// or create the page now at that index, which differs only after a
// truncate, when the VM's relock re-check retries anyway); no ENOSPC retry.
vm_fault_t BufferAdapter::ext4_page_mkwrite_v2630(VmFault& vmf) {
  Page* page = vmf.page;
  const uint32_t want = buffers_in_isize(page->index);
  if (page->mapping.load(std::memory_order_acquire) != &mm_->mapping() || want == 0 ||
      !PageUptodate(page)) {
    return kVmFaultSigbus;  // -EINVAL -> VM_FAULT_SIGBUS, as v2.6.30 does
  }
  {
    FutexLock l(&i_lock_);
    const PageBuffers& pb = bufs_[page->index];
    if (pb.attached && (blocks_.mapped(page->index) & want) == want) return 0;  // all mapped
  }
  journal_.Lock();  // ext4_write_begin: ext4_journal_start before the page
  mkwrite_lock_page(vmf);
  vm_fault_t ret = 0;
  if (page->mapping.load(std::memory_order_acquire) != &mm_->mapping()) {
    ret = 0;  // gone: the VM's relock re-check retries the fault
  } else {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    const uint32_t range = buffers_in_isize(page->index);  // [0, len) now
    if (!blocks_.Allocate(page->index, range)) {
      ret = kVmFaultSigbus;  // write_begin's -ENOSPC
    } else {
      attach_buffers(page, pb);
      pb.dirty |= range;  // write_end: block_commit_write over [0, len)
      pb.data |= range;
      __set_page_dirty_nobuffers(page);  // mark_buffer_dirty's __set_page_dirty
    }
  }
  if (ret == 0) mm_->mkwrite_unlocking(vmf);  // returns unlocked: the VM's window opens
  mkwrite_unlock_page(vmf);  // write_end unlocks
  journal_.Unlock();
  return ret;
}

// ->page_mkwrite, by options_.mkwrite (see buffer.h).
vm_fault_t BufferAdapter::page_mkwrite(VmFault& vmf) {
  switch (options_.mkwrite) {
    case BufferMkwrite::kNone:
      return 0;  // never called: has_page_mkwrite() is false
    case BufferMkwrite::kExt4V2630:
      return ext4_page_mkwrite_v2630(vmf);
    case BufferMkwrite::kBlockPageMkwrite: {
      const vm_fault_t ret = block_page_mkwrite(vmf);
      return ret ? ret : mkwrite_done(vmf, /*returns_locked=*/true);
    }
    case BufferMkwrite::kExt4Journal:
      break;
  }
  // Models fs/ext4/inode.c:ext4_page_mkwrite() as of v5.15, without delalloc
  // and without data journalling, its slow path: filemap_invalidate_lock_shared
  // (after sb_start_pagefault and file_update_time, before the journal),
  // ext4_journal_start (outside the page lock, lock_order.h),
  // block_page_mkwrite, ext4_journal_stop, the invalidate_lock dropped with
  // the page locked (VM_FAULT_LOCKED).  With ea3d7209ca01 reverted (v4.4,
  // which had no i_mmap_sem) no lock is taken before the journal.
  // Differences: the fast path (page already locked, every buffer mapped:
  // wait_for_stable_page and return locked without a journal handle) is not
  // taken; sb_start_pagefault and the ENOSPC retry are not modeled.
  return ext4_page_mkwrite_v515(vmf);
}

vm_fault_t BufferAdapter::ext4_page_mkwrite_v515(VmFault& vmf) ABSL_NO_THREAD_SAFETY_ANALYSIS {
  FutexRwSem& invalidate_lock = mm_->mapping().invalidate_lock();
  const bool shared = mm_->has_fix(Fix::kea3d7209ca01);
  if (shared) invalidate_lock.ReadLock();
  journal_.Lock();
  const vm_fault_t ret = block_page_mkwrite(vmf);
  journal_.Unlock();
  if (shared) invalidate_lock.ReadUnlock();
  return ret ? ret : mkwrite_done(vmf, /*returns_locked=*/true);
}

// Models fs/buffer.c:__set_page_dirty_buffers() as of v2.6.30 (5.15's the
// same): under private_lock, every buffer of the page dirty and then
// PG_dirty (TestSetPageDirty inside the lock since a8e7d49aa7be, v2.6.29,
// so create_empty_buffers, which looks at PG_dirty under the same lock,
// sees either the buffers or the page dirty); the dirty tag after the lock
// is dropped (__set_page_dirty).
//
// --revert=a8e7d49aa7be: as v2.6.28 has it (read in the v2.6.34 mirror):
// the buffers dirtied under private_lock, the lock dropped, and only then
// TestSetPageDirty (in __set_page_dirty).  A caller without the page lock
// (a write fault's set_page_dirty) that found no buffers can be overtaken
// there by create_empty_buffers under the page lock (a write(2)'s
// __block_prepare_write), which sees a clean page and attaches clean
// buffers: the page then goes dirty with clean buffers, and
// block_write_full_page writes only the dirty ones.  A store through the
// mapping into any other block is never written.
int BufferAdapter::set_page_dirty(Page* page) {
  SetPageDirtyScope scope(page);
  bool newly_dirty;
  if (!mm_->reverted(Fix::ka8e7d49aa7be)) {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    ++pb.dirtied;
    if (pb.attached) {
      pb.dirty |= geo_.all();
      pb.data |= buffers_in_isize(page->index);
    }
    newly_dirty = !TestSetPageFlag(page, PG_dirty);
  } else {
    bool had_buffers;
    {
      FutexLock l(&i_lock_);
      PageBuffers& pb = bufs_[page->index];
      ++pb.dirtied;
      had_buffers = pb.attached;
      if (pb.attached) {
        pb.dirty |= geo_.all();
        pb.data |= buffers_in_isize(page->index);
      }
    }
    SCHED_POINT(kSetPageDirtyBuffersAfterPrivateLock);
    newly_dirty = !TestSetPageFlag(page, PG_dirty);
    if (!had_buffers) {
      // The harness's look (not the kernel's): did buffers come meanwhile,
      // clean, for the page now dirty?  That is the race (whoever set
      // PG_dirty: a write(2)'s mark_buffer_dirty may have, for its own
      // buffer only).
      FutexLock l(&i_lock_);
      const PageBuffers& pb = bufs_[page->index];
      const uint32_t want = buffers_in_isize(page->index);
      if (pb.attached && (pb.dirty & want) != want) {
        mm_->transition(page->index, FaultPath::kSetPageDirtyBuffers,
                        FaultWindow::kDirtiedAfterPrivateLock);
      }
    }
  }
  if (!newly_dirty) return 0;
  if (AddressSpace* mapping = page->mapping.load(std::memory_order_acquire)) {
    mapping->tag_dirty(page);
  }
  return 1;
}

// Models fs/buffer.c:block_write_begin() -> __block_prepare_write() as of
// v2.6.30 (v2.6.28 the same here): a page without buffers gets them first
// (create_empty_buffers with no state bits: clean unless the page is
// dirty), then only the buffers overlapping the written range [offset,
// offset + len) get a block (get_block with create), so the rest of a
// sparse page stays a hole.  Differences: the model's pwrite never extends
// the file, so the part of the range past i_size gets none.  ENOSPC fails
// the write before anything is copied.
int BufferAdapter::write_begin(Page* page, uint32_t offset, uint32_t len) {
  const uint32_t want = geo_.in_range(offset, offset + len) & buffers_in_isize(page->index);
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  attach_buffers(page, pb);
  return blocks_.Allocate(page->index, want) ? 0 : -28;  // -ENOSPC
}

// Models fs/buffer.c:block_write_end() -> __block_commit_write() as of
// v2.6.30: the written buffers go dirty (mark_buffer_dirty), and with them
// the page through __set_page_dirty, not ->set_page_dirty, which would dirty
// every buffer, holes included.  Returns 1: the page is dirtied here.
int BufferAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[page->index];
    const uint32_t mask = geo_.in_range(offset, offset + len);
    attach_buffers(page, pb);  // write_begin did (a no-op, the page locked since)
    pb.dirty |= mask;
    if (options_.journal_data) pb.jdata |= mask;  // ext3_ordered_write_end: journal_dirty_data
    pb.data |= mask & buffers_in_isize(page->index);
  }
  __set_page_dirty_nobuffers(page);
  mm_->trace(page->index, Event::kSetPageDirty);
  return 1;
}

// Models fs/buffer.c:__block_write_full_page() as of v2.6.30 (5.15's is the
// same here, its recover: path included); differences: asynchronous
// completion through the I/O queue for the whole page.  For
// `buffer:ext4_v2.6.30`, first the check v2.6.30 ext4_normal_writepage makes
// (ext4_unmapped_dirty_bug).
int BufferAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  uint32_t send = 0;
  bool bug = false;
  // The length of the page writepage writes and zeroes past (5.15 ext4's
  // mpage_submit_page → ext4_bio_write_page), from i_size read after
  // clear_page_dirty_for_io write-protected the page (a056bdaae7a1).
  const uint32_t len = ext4_writepage_len(page, wbc);
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[index];
    const uint32_t in = geo_.in(index, static_cast<int64_t>(index * page_size_) + len);
    // The kernel oopses there (the writeback thread dies holding the page
    // lock); the model reports it and carries on as block_write_full_page
    // would, so the run can go on.
    bug = ext4_unmapped_dirty_bug(index, pb, in);
    if (!pb.attached && ext4_drops_page_without_buffers()) {
      // 5.15 ext4_writepage / mpage_prepare_extent_to_map: "page %lu does
      // not have buffers attached" (a warning), ClearPageDirty (already
      // clear: clear_page_dirty_for_io), unlock, nothing written: the data
      // is lost.  Only a dirty page that never went through ->page_mkwrite
      // gets here (get_user_pages' set_page_dirty_lock after reclaim
      // released the buffers of the page writeback had cleaned).
      ext4_no_buffers_.fetch_add(1, std::memory_order_relaxed);
    } else {
      if (!pb.attached) {
        // create_empty_buffers: every buffer dirty, block map from disk.
        pb.attached = true;
        pb.dirty = geo_.all();
        pb.data = in;
        SetPageFlag(page, PG_private);
      }
      send = write_buffers(page, pb, in, len);
    }
  }
  if (bug) {
    // Dirty buffers inside i_size without a block: set_page_dirty dirtied
    // the holes past EOF and the file grew over them.  The BUG itself is
    // the faulty step (c364b22c9580's), whatever stores came before.
    mm_->transition(index, FaultPath::kWriteback, FaultWindow::kUnmappedDirtyBufferBug);
    mm_->oracle().Report(RaceKind::kKernelBug, Invariant::kFs, index, 0, 0,
                         "BUG_ON(walk_page_buffers(..., ext4_bh_unmapped_or_delay)) in "
                         "ext4_normal_writepage (v2.6.29/30, before c364b22c9580): a dirty "
                         "buffer inside i_size has no block");
  }
  return finish_writepage(page, send != 0);
}

// __block_write_full_page's walks over the buffers of a page that has them:
// returns the buffers it sends.
uint32_t BufferAdapter::write_buffers(Page* page, PageBuffers& pb, uint32_t in, uint32_t len) {
  const uint64_t index = page->index;
  // Buffers past EOF are cleaned, not written; the page's bytes past EOF
  // are zeroed, as a page straddling i_size must be on every writepage
  // because it may be mmapped.
  const uint32_t dirty = pb.dirty & in;
  const uint32_t data = pb.data & in;
  pb.dirty = 0;
  pb.data = 0;
  if (const uint32_t keep = len; keep > 0 && keep < page_size_) {
    memset(mm_->mmu().kmap(index) + keep, 0, page_size_ - keep);
  }
  // First walk: get_block(create=1) for each dirty buffer without a block,
  // in order; the first failure (ENOSPC) jumps to recover: and the buffers
  // after it are not tried.
  bool failed = false;
  for (uint32_t b = 0; b < geo_.per_page() && !failed; ++b) {
    if ((dirty & (1u << b)) && !(blocks_.mapped(index) & (1u << b)) &&
        !blocks_.Allocate(index, 1u << b)) {
      failed = true;
    }
  }
  // Second walk (or recover:'s): the mapped dirty buffers are written.  On
  // recover: every other buffer has its dirty bit cleared — the data of an
  // unmapped one is dropped — the page gets PG_error and the mapping the
  // error (mapping_set_error), and the page is not redirtied: only a later
  // fsync's error tells anyone.
  const uint32_t mapped = blocks_.mapped(index);
  const uint32_t send = dirty & mapped;
  if (failed) {
    // ->page_mkwrite gives every buffer inside i_size a block, and the
    // blocks stay across writeback: data in a buffer without one is a store
    // that landed past the EOF the pte was made writable at, before the file
    // grew over it.  What is dropped here is lost to the growth.
    if (data & ~mapped) mm_->blame(index, FaultWindow::kGrowthPastWritableEofPage);
    dropped_.fetch_add(std::popcount(data & ~mapped), std::memory_order_relaxed);
    mapping_errors_.fetch_add(1, std::memory_order_relaxed);
  }
  if (send) {
    pb.in_flight = send;
    test_set_page_writeback(page);
    snapshot_blocks(index, send, blocksize_);
  }
  return send;
}

// --revert=a056bdaae7a1 (5.15's ext4 only: `buffer` and its block-size and
// device variants): mpage_submit_page as it was from cb20d5188366 until
// a056bdaae7a1 (read in a 4.9 stable backport's diff, 2026-12-05): i_size
// sampled before clear_page_dirty_for_io, so a file grown and a store landed
// through the still-writable pte in between are zeroed away with the tail
// past the old size.  The transition marks that zeroing.
uint32_t BufferAdapter::ext4_writepage_len(const Page* page, const WritebackControl& wbc) const {
  const uint32_t now = bytes_in_isize(page->index);
  if (options_.mkwrite != BufferMkwrite::kExt4Journal || !mm_->reverted(Fix::ka056bdaae7a1) ||
      wbc.isize_before_wrprotect < 0) {
    return now;
  }
  const int64_t start = static_cast<int64_t>(page->index * page_size_);
  const uint32_t sampled = static_cast<uint32_t>(std::clamp<int64_t>(
      wbc.isize_before_wrprotect - start, 0, static_cast<int64_t>(page_size_)));
  if (sampled < now) {
    mm_->transition(page->index, FaultPath::kWriteback, FaultWindow::kIsizeSampledBeforeWrprotect);
  }
  return sampled;
}

bool BufferAdapter::ext4_unmapped_dirty_bug(uint64_t index, const PageBuffers& pb,
                                            uint32_t in) const {
  // ext4_bh_unmapped_or_delay: (!buffer_mapped || buffer_delay) &&
  // buffer_dirty, over the buffers inside i_size, only when the page has
  // buffers (a page without them is written by block_write_full_page).
  // c364b22c9580 (v2.6.31; read in the v2.6.34 mirror) made the check
  // ext4_bh_delay_or_unwritten: an unmapped dirty buffer is a hole the next
  // store's ->page_mkwrite maps, not a BUG.  Its revert on 5.15's ext4
  // brings the pre-fix check back where 5.15's ext4_writepage walks the
  // buffers with ext4_bh_delay_or_unwritten.
  const bool pre_fix = options_.mkwrite == BufferMkwrite::kExt4V2630
                           ? !mm_->has_fix(Fix::kc364b22c9580)
                           : options_.mkwrite == BufferMkwrite::kExt4Journal &&
                                 mm_->reverted(Fix::kc364b22c9580);
  return pre_fix && pb.attached && (pb.dirty & in & ~blocks_.mapped(index)) != 0;
}

// Models the completion of fs/buffer.c:__block_write_full_page()'s I/O
// (end_buffer_async_write) as of v2.6.30: each written buffer's bytes are
// on its block.  A buffer whose block a punch freed under it (`stale`) was
// written to that freed block: the file reads a hole there, and the bytes
// are lost to it (in the kernel they land on whatever the block holds now).
void BufferAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[index];
  const uint32_t stale = blocks_.stale(index);
  const uint32_t lost = pb.in_flight & stale;
  write_blocks(index, pb.in_flight & ~stale, blocksize_);
  pb.in_flight = 0;
  if (lost) {
    freed_writes_.fetch_add(std::popcount(lost), std::memory_order_relaxed);
    mm_->blame(index, FaultWindow::kPagecacheTruncatedBeforeBlocksFreed);
    mm_->trace(index, Event::kWriteToFreedBlock);
  }
}

bool BufferAdapter::ext4_drops_page_without_buffers() const {
  return options_.mkwrite == BufferMkwrite::kExt4Journal && mm_->stable_page_era();
}

// Models fs/buffer.c:try_to_free_buffers() as of v2.6.29 (5.15 the same
// here; both read): under private_lock, drop_buffers (refused while a buffer
// is dirty or under I/O; the block map stays), then, the buffers gone,
// cancel_dirty_page: a page the filesystem wrote by hand (ext3's commit)
// is PG_dirty with clean buffers, and this is where the VM learns it is
// clean.  cancel_dirty_page clears PG_dirty only, not the dirty tag, so a
// writeback pass still visits the page and its page_mkclean still takes
// over a dirty pte.  Differences: no buffer_heads freed (a mask); ext3's
// journal_try_to_free_buffers around it is not modeled.
//
// --revert=87df7241bd54: as v2.6.19 had it (read at the fix's parent in the
// v2.6.34 mirror): private_lock dropped after drop_buffers, then
// cancel_dirty_page.  A set_page_dirty in between (a zap handing over a
// dirty pte, which finds no buffers and PG_dirty already set) is undone.
bool BufferAdapter::releasepage(Page* page, Gfp /*gfp*/) {
  const uint64_t index = page->index;
  uint32_t dirtied;
  {
    FutexLock l(&i_lock_);
    PageBuffers& pb = bufs_[index];
    if (pb.dirty || pb.in_flight) return false;
    if (!pb.attached) return true;
    pb.attached = false;
    pb.jdata = 0;
    blocks_.ForgetStale(index);
    ClearPageFlag(page, PG_private);
    mm_->trace(index, Event::kDropBuffers);
    if (!mm_->reverted(Fix::k87df7241bd54)) {
      if (TestClearPageFlag(page, PG_dirty)) mm_->account_page_cleaned(page);  // cancel_dirty_page
      return true;
    }
    dirtied = pb.dirtied;
  }
  SCHED_POINT(kTryToFreeBuffersAfterPrivateLock);
  FutexLock l(&i_lock_);
  if (bufs_[index].dirtied != dirtied) {
    // The harness's look (not the kernel's): a set_page_dirty ran between
    // the drop and the cancel, whose dirt the cancel now throws away.
    mm_->transition(index, FaultPath::kTryToFreeBuffers, FaultWindow::kCancelDirtyOutsidePrivateLock);
  }
  if (TestClearPageFlag(page, PG_dirty)) mm_->account_page_cleaned(page);  // cancel_dirty_page
  return true;
}

// Models fs/jbd/commit.c:journal_submit_data_buffers() as of v2.6.29 for one
// page (`buffer:ext3`, data=ordered): the commit writes each dirty buffer a
// write(2) filed with the transaction (journal_dirty_data), by hand:
// test_clear_buffer_dirty, the page's current bytes to disk, waited for
// (journal_wait_on_data... before the commit record).  PG_dirty, the dirty
// tag and the ptes are not touched: a page written this way is PG_dirty
// with clean buffers until try_to_free_buffers or writeback finds it.
// Differences: synchronous; no page lock (the kernel takes none, only the
// buffer locks); a buffer under I/O is left for the next commit instead of
// waited for; buffers dirtied through the mapping are not on the list (as
// in the kernel, until ->writepage files them).
void BufferAdapter::commit() {
  if (!options_.journal_data) return;
  for (uint64_t i = 0; i < mm_->pages(); ++i) fs_flush(i);
}

void BufferAdapter::fs_flush(uint64_t index) {
  if (!options_.journal_data) return;
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[index];
  // A buffer under a writepage's I/O is locked: the commit waits for it
  // and then writes the newer bytes; the model leaves it dirty and filed
  // for the next commit (or writepage), which writes the same bytes later.
  const uint32_t send = pb.dirty & pb.jdata & blocks_.mapped(index) & ~pb.in_flight;
  pb.jdata &= ~send;
  if (!send) return;
  pb.dirty &= ~send;
  pb.data &= ~send;
  const uint8_t* mem = mm_->mmu().kmap(index);
  uint8_t* copy = snapshot(index);  // unused while no writepage is in flight on these buffers
  for (uint32_t b = 0; b < geo_.per_page(); ++b) {
    if (!(send & (1u << b))) continue;
    CopyMappedBytes(copy + b * blocksize_, mem + b * blocksize_, blocksize_);
    store().Write(index, b * blocksize_, blocksize_, copy + b * blocksize_);
  }
  mm_->trace(index, Event::kJournalCommitData);
}

void BufferAdapter::invalidatepage(Page* page) {
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  pb.attached = false;
  pb.dirty = 0;
  pb.data = 0;
  blocks_.ForgetStale(page->index);
  ClearPageFlag(page, PG_private);
  mm_->trace(page->index, Event::kInvalidatepage);
}

// Models fs/buffer.c:block_invalidatepage() with an offset as of v2.6.30:
// buffers wholly past the new EOF are discarded (no longer dirty).
void BufferAdapter::invalidate_partial(Page* page, uint32_t offset) {
  FutexLock l(&i_lock_);
  PageBuffers& pb = bufs_[page->index];
  const uint32_t keep = geo_.in(0, offset);
  pb.dirty &= keep;
  pb.data &= keep;
}

// The ->setattr of a buffer.c filesystem on growth: from v3.18,
// truncate_setsize (ext4_setattr inline) calls pagecache_isize_extended.
// Before v3.18 there is nothing to call: under v2.6.29/30 schemes the VM
// passes no page and `buffer` behaves as `buffer:no_isize_extended`.
void BufferAdapter::setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) {
  if (options_.isize_extended && HasPagecacheIsizeExtended(mm_->scheme().era()) &&
      !mm_->reverted(Fix::k90a8020278c1)) {
    pagecache_isize_extended(*mm_, eof_page, old_size, new_size, blocksize_);
  }
}

bool BufferAdapter::FillDisk() {
  FutexLock l(&i_lock_);
  blocks_.Fill(mm_->mapping().i_size());
  return true;
}

uint32_t BufferAdapter::mapped_mask(uint64_t index) const {
  FutexLock l(&i_lock_);
  return blocks_.mapped(index);
}

uint32_t BufferAdapter::stale_mask(uint64_t index) const {
  FutexLock l(&i_lock_);
  return blocks_.stale(index);
}

// Models the block freeing of fs/ext4/inode.c:ext4_punch_hole() as of v5.15
// (ext4_journal_start, then under i_data_sem ext4_es_remove_extent and
// ext4_ext_remove_space for the whole blocks of the range), in the block
// map: every block of the pages goes back to the allocator (or, on a full
// disk, to other files) and the disk reads zeros there.  A page with buffer
// heads attached now is one a fault brought back after
// truncate_pagecache_range (only without the invalidate_lock): its buffers
// stay mapped to the freed blocks, as the kernel's buffer heads keep
// BH_Mapped and b_blocknr (nothing walks the page cache here).
// Differences: whole pages only; the journal is the adapter's one
// fs-level lock (the handle's credits, the orphan list and the inode's
// disksize are not modeled).
void BufferAdapter::punch_store(uint64_t first, uint64_t npages) {
  journal_.Lock();
  {
    FutexLock l(&i_lock_);
    for (uint64_t i = first; i < first + npages && i < mm_->pages(); ++i) {
      const bool attached = bufs_[i].attached;
      const uint32_t owned = blocks_.mapped(i) & ~blocks_.stale(i);
      blocks_.Punch(i, /*keep_cached=*/attached);
      if (attached && owned) {
        mm_->transition(i, FaultPath::kPunch, FaultWindow::kPagecacheTruncatedBeforeBlocksFreed);
      }
    }
  }
  StoreBackedOps::punch_store(first, npages);
  journal_.Unlock();
}

// ->truncate: blocks wholly past the new end — in the page it falls inside
// too — go back to the allocator (or, on a full disk, to other files).
void BufferAdapter::truncate_store(int64_t size) {
  {
    FutexLock l(&i_lock_);
    blocks_.Truncate(size);
  }
  StoreBackedOps::truncate_store(size);
}

MetadataState BufferAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  const PageBuffers& pb = bufs_[page->index];
  // Whatever may carry the user's data must have a block: the buffers
  // dirtied inside i_size, and, while a pte is writable, every buffer inside
  // i_size (a store can land in any of them).  A page whose buffer heads
  // reclaim released (try_to_release_page) is judged by the block map: its
  // next writepage creates them again (create_empty_buffers) and finds the
  // blocks with get_block, as v2.6.30's __block_write_full_page does, so a
  // page wholly on allocated blocks loses nothing; with a hole it must
  // allocate there, which is what ->page_mkwrite exists to have done.
  if (!pb.attached && ext4_drops_page_without_buffers()) {
    // 5.15 ext4 writes nothing for a dirty page without buffers (writepage).
    return MetadataState::kAbsent;
  }
  if (options_.mkwrite == BufferMkwrite::kNone) {
    // No ->page_mkwrite (ext2): blocks come at writepage, which gives every
    // dirty buffer one, so what must hold is that whatever may carry the
    // user's data is dirty: every buffer inside i_size while a pte is
    // writable, the ones dirtied inside it otherwise.  A page without
    // buffers gets them all dirty at writepage (create_empty_buffers).
    if (!pb.attached || writable) return MetadataState::kDirtyCapable;
    const uint32_t want = buffers_in_isize(page->index);
    const uint32_t need = pb.data & want;
    return (pb.dirty & need) == need ? MetadataState::kDirtyCapable
                                     : MetadataState::kNotDirtyCapable;
  }
  if (!pb.attached) {
    const uint32_t want = buffers_in_isize(page->index);
    return (blocks_.mapped(page->index) & want) == want ? MetadataState::kDirtyCapable
                                      : MetadataState::kNotDirtyCapable;
  }
  const uint32_t want = buffers_in_isize(page->index);
  const uint32_t need = writable ? want : (pb.data & want);
  // A buffer on a block a punch freed is mapped, but not to the file.
  const uint32_t owned = blocks_.mapped(page->index) & ~blocks_.stale(page->index);
  return (owned & need) == need ? MetadataState::kDirtyCapable : MetadataState::kNotDirtyCapable;
}

std::unique_ptr<StoreBackedOps> MakeBufferAdapter(const BufferOptions& options) {
  return std::make_unique<BufferAdapter>(options);
}

}  // namespace pagerace
