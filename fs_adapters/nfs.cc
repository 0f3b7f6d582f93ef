#include "fs_adapters/nfs.h"

#include <algorithm>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "harness/sched/sched.h"

namespace pagerace {

void NfsAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  FutexLock l(&i_lock_);
  reqs_.reset(new Request[mm->pages()]);
}

// Models fs/nfs/write.c:nfs_updatepage() -> nfs_writepage_setup() as of
// v2.6.29; differences: a request that is not contiguous with the new range
// is widened to the hull instead of being flushed first (nfs_flush_incompatible)
// — the hull's bytes are the page's own, so nothing extra is lost or kept.
void NfsAdapter::nfs_updatepage(Page* page, uint32_t offset, uint32_t len) {
  const uint64_t index = page->index;
  for (;;) {
    i_lock_.Lock();
    if (reqs_[index].state != ReqState::kInFlight) break;
    // The request is being written (PG_writeback): wait for the RPC, as
    // nfs_wait_on_request does, then look again.
    i_lock_.Unlock();
    wait_on_page_writeback(page);
  }
  Request& req = reqs_[index];
  if (req.state == ReqState::kNone) {
    req.state = ReqState::kDirty;
    req.start = offset;
    req.end = offset + len;
    req.page = page;
    get_page(page);
    SetPageFlag(page, PG_private);
    ++nr_requests_;
    mm_->trace(index, Event::kMetadataAttach);
  } else {
    // A commit-pending request must be written again (nfs_clear_request_commit).
    req.state = ReqState::kDirty;
    req.start = std::min(req.start, offset);
    req.end = std::max(req.end, offset + len);
  }
  i_lock_.Unlock();
  // nfs_mark_request_dirty -> __set_page_dirty_nobuffers.
  mm_->set_page_dirty(page);
}

// Models fs/nfs/file.c:nfs_vm_page_mkwrite() as of v2.6.30 (`nfs`) and
// v2.6.29 (`nfs:unlocked`: the same checks, returning unlocked, with a
// negative errno for failure that v2.6.29's do_wp_page()/__do_fault() turn
// into VM_FAULT_SIGBUS); differences: none beyond nfs_updatepage's, and no
// fscache wait (v2.6.30's nfs_fscache_wait_on_page_write).  Under a
// 5.15-era scheme, `nfs` also waits on writeback after the mapping check, as
// 5.15's nfs_vm_page_mkwrite does (mkwrite_wait_stable); v2.6.30 did not.
//
// Entered with the page referenced and unlocked (locked under `naive`);
// returns it locked on success when mkwrite_returns_locked_, unless
// 7fdf52306766 ("NFS: close page_mkwrite() races", v2.6.30) is reverted:
// before it, nfs_vm_page_mkwrite unlocked the page before returning.
bool NfsAdapter::returns_locked() const {
  return mkwrite_returns_locked_ && !mm_->reverted(Fix::k7fdf52306766);
}

vm_fault_t NfsAdapter::page_mkwrite(VmFault& vmf) {
  Page* page = vmf.page;
  mkwrite_lock_page(vmf);
  // The page may have been truncated since the fault looked it up (and it
  // stays detached even if the file has grown back since).  v2.6.29 and
  // v2.6.30 fail with -EINVAL: v2.6.30 maps every error to VM_FAULT_SIGBUS,
  // v2.6.29's VM treats any negative return as SIGBUS: the store is refused
  // even when the file covers it again (56a76f8275c3 fixed block_page_mkwrite
  // and btrfs, not NFS).  5.15 returns VM_FAULT_NOPAGE: a retry (read).
  const bool v515 = mm_->era() >= KernelEra::kV5_15;
  if (page->mapping.load(std::memory_order_acquire) != &mm_->mapping()) {
    mkwrite_unlock_page(vmf);
    return v515 ? kVmFaultNoPage : kVmFaultSigbus;
  }
  mkwrite_wait_stable(page);  // 5.15: wait_on_page_writeback
  // nfs_page_length(): 0 when the page lies wholly past EOF, which a shrinking
  // truncate that has set i_size but not yet removed the page leaves.
  // v2.6.29/30 return success here without a request, so the VM makes the
  // pte writable and dirties a page NFS will never send; only bytes past EOF
  // can land in it, and the truncate drops the page (tests/regression_test.cc,
  // NfsPastEofTest).  5.15 unlocks the page and returns VM_FAULT_NOPAGE: the
  // fault retries until the truncate has unmapped the page (read; the
  // serial scheduler lets the truncate run meanwhile: sched::SpinRetry).
  const uint32_t pagelen = bytes_in_isize(page->index);
  if (pagelen == 0) {
    if (!v515) return mkwrite_done(vmf, returns_locked());
    mkwrite_unlock_page(vmf);
    return kVmFaultNoPage;
  }
  // Injected failure: nfs_updatepage failing (e.g. -ENOSPC/-EDQUOT from
  // nfs_flush_incompatible) turns into VM_FAULT_SIGBUS, with no request made.
  if (inject_mkwrite_failure()) {
    mkwrite_unlock_page(vmf);
    return kVmFaultSigbus;
  }
  nfs_updatepage(page, 0, pagelen);
  return mkwrite_done(vmf, returns_locked());
}

int NfsAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  nfs_updatepage(page, offset, len);
  return 0;
}

// Models fs/nfs/write.c:nfs_writepage_locked() -> nfs_page_async_flush() as of
// v2.6.29; differences: one page per RPC, sent at once.
bool NfsAdapter::send_request(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  Request& req = reqs_[index];
  // No request to send (or one that will not carry new data): nothing goes
  // to the server.
  if (req.state != ReqState::kDirty || req.page != page) return false;
  // A request from ->page_mkwrite covers the page up to the i_size it saw
  // (nfs_page_length); one that ends short of today's i_size was sized
  // before the file grew, and the bytes a store put past it are not sent.
  if (req.start == 0 && req.end < bytes_in_isize(index)) {
    mm_->blame(index, FaultWindow::kGrowthPastWritableEofPage);
  }
  req.state = ReqState::kInFlight;
  test_set_page_writeback(page);
  memcpy(snapshot(index) + req.start, mm_->mmu().kmap(index) + req.start, req.end - req.start);
  return true;
}

// Models fs/nfs/file.c:nfs_writepage() as of v2.6.29: nfs_writepage_locked,
// then unlock_page.  A page without a request to send, no longer PG_dirty,
// counts as clean.
int NfsAdapter::writepage(Page* page, WritebackControl& wbc) {
  return finish_writepage(page, send_request(page));
}

// Models fs/nfs/file.c:nfs_launder_page() -> fs/nfs/write.c:nfs_wb_page() as
// of v2.6.29 (nfs_wb_page_priority, FLUSH_STABLE) and 5.15 (its loop: wait
// on writeback, clear_page_dirty_for_io and nfs_writepage_locked, else
// COMMIT until PagePrivate is gone), both read in the mirrors; the page
// lock is held throughout.  Differences: the WRITE is unstable and followed
// by the COMMIT (FLUSH_STABLE would make it stable at once: the same end
// state); a request left dirty with the page clean (the seed's state) is
// sent as nfs_sync_mapping_wait's flush of the inode's dirty requests would;
// the loop is bounded (the kernel's ends when PagePrivate does).
int NfsAdapter::launder_page(Page* page) {
  for (int round = 0; round < 8; ++round) {
    wait_on_page_writeback(page);
    // clear_page_dirty_for_io and nfs_writepage_locked; a request left dirty
    // on a clean page goes out through the inode's flush instead (no
    // ->writepage: nfs_sync_mapping_wait's).
    const bool was_dirty = clear_page_dirty_for_io(*mm_, page);
    if (was_dirty || request_state(page->index) == ReqState::kDirty) {
      if (was_dirty) writepage_starts(*mm_, page);
      if (send_request(page)) {
        mm_->trace(page->index, Event::kSetPageWriteback);
        mm_->io().Submit(page);
      } else {
        mm_->trace(page->index, Event::kWritepageNoMetadata);
      }
      if (was_dirty) writepage_done(*mm_, page);
      continue;
    }
    if (!PagePrivate(page)) return 0;
    commit();
  }
  return PagePrivate(page) || PageDirty(page) ? -5 /* -EIO */ : 0;
}

// WRITE completion (nfs_writeback_done, unstable): the data is on the
// server; the request waits for COMMIT.
void NfsAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  Request& req = reqs_[index];
  store().Write(index, req.start, req.end - req.start, snapshot(index) + req.start);
  req.state = ReqState::kCommitPending;
  mm_->trace(index, Event::kCommitPending);
}

// Models fs/nfs/write.c:nfs_commit_inode() as of v2.6.29: COMMIT every commit-pending request and retire
// it (nfs_inode_remove_request), without the page lock.
void NfsAdapter::commit() {
  SCHED_POINT(kCommitBegin);
  {
    FutexLock l(&i_lock_);
    for (uint64_t i = 0; i < mm_->pages(); ++i) {
      Request& req = reqs_[i];
      if (req.state != ReqState::kCommitPending) continue;
      ClearPageFlag(req.page, PG_private);
      put_page(req.page);
      req = Request{};
      --nr_requests_;
      mm_->trace(i, Event::kMetadataRetire);
    }
  }
  SCHED_POINT(kCommitEnd);
}

// Models fs/nfs/file.c:nfs_invalidate_page() -> nfs_wb_page_cancel() as of
// v2.6.29: the page is being truncated (locked, its writeback waited for), so
// its request is cancelled and its data never sent.
void NfsAdapter::invalidatepage(Page* page) {
  FutexLock l(&i_lock_);
  Request& req = reqs_[page->index];
  if (req.state == ReqState::kNone || req.page != page) return;
  ClearPageFlag(page, PG_private);
  put_page(req.page);
  req = Request{};
  --nr_requests_;
  mm_->trace(page->index, Event::kInvalidatepage);
}

// Models the effect of fs/nfs/inode.c:nfs_setattr() on a shrink as of
// v2.6.29: the file now ends `offset` bytes into the page, and no request may
// carry bytes past it to the server; differences: nfs_setattr flushes them
// before the size change, the model cuts the request instead.
void NfsAdapter::invalidate_partial(Page* page, uint32_t offset) {
  FutexLock l(&i_lock_);
  Request& req = reqs_[page->index];
  if (req.state == ReqState::kNone || req.page != page) return;
  req.end = std::min(req.end, offset);
  if (req.start < req.end) return;
  ClearPageFlag(page, PG_private);
  put_page(req.page);
  req = Request{};
  --nr_requests_;
  mm_->trace(page->index, Event::kInvalidatepage);
}

// Models fs/nfs/inode.c:nfs_setattr() on growth as of v2.6.29 and v5.15: it
// writes dirty data out before it changes the size (v2.6.29 nfs_wb_all, 5.15
// nfs_sync_inode), which write-protects the pages, then makes the SETATTR
// call, and only then writes i_size (nfs_setattr_update_inode ->
// nfs_vmtruncate, whose truncate_pagecache does not write-protect the old
// EOF page on growth; there is no pagecache_isize_extended in fs/nfs).
// Differences:
// the model write-protects the EOF page, the one whose request the old size
// bounded, whether or not it is dirty (the flush write-protects only dirty
// pages), so the next store faults into ->page_mkwrite and the request grows
// with the file.  No page comes locked (setattr_calls_pagecache_isize_extended
// is false): the EOF page is locked here, as the flush locks each page it
// writes.  A fault between this and the size change still sizes its request
// by nfs_page_length at the old size (tests/regression_test.cc,
// NfsGrowthTest).
void NfsAdapter::setattr_extend(Page* eof_page, int64_t old_size, int64_t new_size) {
  const int64_t ps = static_cast<int64_t>(page_size_);
  if (old_size % ps == 0) return;  // eof_page: always nullptr here
  Page* page = mm_->mapping().find_lock_page(static_cast<uint64_t>(old_size / ps));
  if (!page) return;
  if (mm_->mmu().page_mkclean(page)) {
    mm_->trace(page->index, Event::kPageMkclean);
    mm_->set_page_dirty(page);
  }
  unlock_page(page);
  put_page(page);
}

// Models fs/nfs/file.c:nfs_release_page() as of v2.6.29 (5.15 the same for a
// page with a request): a page with a request stays.
//
// --revert=e3db7691e9f3: as the fix's parent had it (fa8d8c5b77a, v2.6.20-rc1,
// "Hack... Force nfs_wb_page() to write out the page"; read in the v2.6.34
// mirror): a caller that may enter the fs gets the page written:
// SetPageDirty by hand -- the bare flag, no account_page_dirtied and no
// dirty tag -- then nfs_wb_page, and the page goes if that succeeded.
// nfs_wb_page's clear_page_dirty_for_io finds PG_dirty and un-counts a page
// NR_FILE_DIRTY never counted when the page was clean, as a page whose
// request waits for its COMMIT is (I10); nfs_writepage_locked's
// nfs_page_mark_flush then marks that request for writing again, and the
// WRITE and COMMIT follow.  The fix's other failure, nfs_wb_page sleeping
// under a page lock reclaim holds with no reference on the inode (a
// deadlock), is not modeled: the model's reclaim holds no inode.
bool NfsAdapter::releasepage(Page* page, Gfp gfp) {
  if (request_state(page->index) == ReqState::kNone) return true;
  if (!mm_->reverted(Fix::ke3db7691e9f3)) return false;
  if (gfp != Gfp::kFs) return false;  // "Avoid deadlock on nfs_wait_on_request()"
  if (!TestSetPageFlag(page, PG_dirty)) {
    mm_->transition(page->index, FaultPath::kReleasePage, FaultWindow::kBareSetPageDirty);
  }
  {
    // nfs_page_mark_flush: a request waiting for its COMMIT is written again.
    FutexLock l(&i_lock_);
    Request& req = reqs_[page->index];
    if (req.state == ReqState::kCommitPending) req.state = ReqState::kDirty;
  }
  return launder_page(page) == 0;  // nfs_wb_page
}

MetadataState NfsAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  const Request& req = reqs_[page->index];
  if (req.state == ReqState::kNone || req.page != page) return MetadataState::kAbsent;
  return req.state == ReqState::kDirty ? MetadataState::kDirtyCapable
                                       : MetadataState::kNotDirtyCapable;
}

NfsAdapter::ReqState NfsAdapter::request_state(uint64_t index) const {
  FutexLock l(&i_lock_);
  return reqs_[index].state;
}

int NfsAdapter::nr_requests() const {
  FutexLock l(&i_lock_);
  return nr_requests_;
}

std::unique_ptr<StoreBackedOps> MakeNfsAdapter(bool mkwrite_returns_locked) {
  return std::make_unique<NfsAdapter>(mkwrite_returns_locked);
}

}  // namespace pagerace
