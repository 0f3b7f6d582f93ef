#include "fs_adapters/ceph.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "fs_adapters/adapters.h"
#include "harness/mm/mm_context.h"
#include "harness/mm/writeback.h"
#include "harness/sched/sched.h"

namespace pagerace {

void CephAdapter::Attach(MmContext* mm) {
  StoreBackedOps::Attach(mm);
  FutexLock l(&i_lock_);
  snapc_.reset(new uint64_t[mm->pages()]());
  len_.reset(new uint32_t[mm->pages()]());
}

const char* CephAdapter::name() const {
  if (!options_.flush_older_snapc) return "ceph:no_snap_flush";
  return options_.mkwrite_returns_locked ? "ceph" : "ceph:unlocked";
}

// I4 (harness/check/invariants.h): wrbuffer_ref counts the pages holding a
// snap context, and never goes negative.
void CephAdapter::check_counters(uint64_t index) {
  i4_.Check(mm_->oracle(), index, wrbuffer_ref_, nr_snapc_pages_, wrbuffer_ref_,
            [ref = wrbuffer_ref_, pages = nr_snapc_pages_](char* detail, size_t len) {
              snprintf(detail, len, "wrbuffer_ref %lld, pages holding a snap context %lld",
                       static_cast<long long>(ref), static_cast<long long>(pages));
            });
}

// Models fs/ceph/addr.c:ceph_set_page_dirty() as of v2.6.34; differences:
// none for a newly dirty page still holding a context — v2.6.34 overwrites
// page->private as the model replaces the context and counts the reference
// (5.15 has BUG_ON(PagePrivate(page)) there instead).
//
// 5.15 (modern) adds BUG_ON(ci->i_wr_ref == 0) for a newly dirty page: the
// caller must hold an Fw cap reference, as ceph_page_mkwrite and the write
// path do.  set_page_dirty_lock after get_user_pages (the GUP race: a page
// writeback cleaned while the device wrote into it) holds none: with no other
// writer holding Fw at that moment the kernel BUGs (reported, data-losing as
// every modeled BUG: dirty data unwritten); with one, the page is dirtied
// into the head snap context and nothing is lost.  v2.6.34 has no such check.
int CephAdapter::set_page_dirty(Page* page) {
  if (!__set_page_dirty_nobuffers(page)) return 0;  // already dirty: nothing attached
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  if (wr_ref_ == 0 && mm_->scheme().era() >= KernelEra::kV5_15) {
    mm_->oracle().Report(RaceKind::kKernelBug, Invariant::kFs, index, 0, 0,
                         "BUG_ON(ci->i_wr_ref == 0) in ceph_set_page_dirty (5.15): a clean "
                         "page dirtied without an Fw cap reference");
  }
  ++wrbuffer_ref_;
  if (snapc_[index] == 0) ++nr_snapc_pages_;
  snapc_[index] = realm_seq_.load(std::memory_order_acquire);
  SetPageFlag(page, PG_private);
  mm_->trace(index, Event::kMetadataAttach);
  check_counters(index);
  return 1;
}

// Models fs/ceph/addr.c:ceph_update_writeable_page() as of v2.6.34;
// differences: the older context is always the oldest (one snapshot
// pending at a time), so it is written out at once, by the synchronous
// writepage_nounlock.  Its wait_on_page_writeback has nothing to wait for
// on a page locked by the caller ("writepages currently holds page lock").
//
// Lock order as in v2.6.34: the caller holds the page lock
// (ceph_page_mkwrite's lock_page, ceph_write_begin's
// grab_cache_page_write_begin), and snap_rwsem is taken under it
// (down_read(&mdsc->snap_rwsem) after wait_on_page_writeback), then i_lock
// under snap_rwsem (get_oldest_context).  snap_rwsem is dropped (up_read)
// before the older context's page is cleaned and written, which takes ptls.
void CephAdapter::update_writeable_page(Page* page) {
  const uint64_t index = page->index;
  for (;;) {
    wait_on_page_writeback(page);
    snap_rwsem_.Lock();
    uint64_t held;
    {
      FutexLock l(&i_lock_);
      held = snapc_[index];
    }
    if (held == 0 || held == realm_seq_.load(std::memory_order_acquire) ||
        !options_.flush_older_snapc) {
      return;  // writeable in the current context; snap_rwsem held
    }
    snap_rwsem_.Unlock();
    // Dirty in an older snap context: write it out now, keeping the page
    // lock, then look again once the write is done.
    mm_->trace(index, Event::kSnapcFlush);
    if (!clear_page_dirty_for_io(*mm_, page)) {
      snap_rwsem_.Lock();
      return;  // not dirty: nothing of the older context to write
    }
    writepage_starts(*mm_, page);
    const bool written = writepage_nounlock(page);
    writepage_done(*mm_, page);
    if (!written) {
      mm_->trace(index, Event::kWritepageNoMetadata);
      snap_rwsem_.Lock();
      return;
    }
    // Written, completed and the context dropped, all under our page lock:
    // retry_locked finds the page clean and without a context.
  }
}

// The tail of ceph_page_mkwrite / ceph_write_end as of v2.6.34:
// set_page_dirty, then up_read(&mdsc->snap_rwsem) with the page still locked.
void CephAdapter::finish_dirty(Page* page) {
  mm_->set_page_dirty(page);
  const uint64_t head = realm_seq_.load(std::memory_order_acquire);
  uint64_t held;
  {
    FutexLock l(&i_lock_);
    held = snapc_[page->index];
  }
  if (held != 0 && held != head) {
    // New data goes into a page whose dirty data belongs to an earlier
    // snapshot: the snapshot will contain writes made after it was taken.
    char detail[96];
    snprintf(detail, sizeof(detail), "dirtied in snap context %llu while holding %llu",
             static_cast<unsigned long long>(head), static_cast<unsigned long long>(held));
    mm_->oracle().Report(RaceKind::kSnapcOrder, Invariant::kFs, page->index, 0, 0,
                         detail);
  }
  snap_rwsem_.Unlock();
}

// Models fs/ceph/addr.c:ceph_page_mkwrite() as of v2.6.34, which returns
// VM_FAULT_LOCKED from its first version (1d3576fd10f0, v2.6.34), after the
// seed.  `ceph:unlocked` returns unlocked, as no released ceph did.  Under
// `legacy` every ceph variant is a combination that never shipped (v2.6.29's
// ->page_mkwrite took (vma, page); ceph's takes v2.6.30's (vma, vmf)): kept
// as the model of an fs whose writeback keeps per-page context.
void CephAdapter::get_wr_ref() {
  FutexLock l(&i_lock_);
  ++wr_ref_;
}

void CephAdapter::put_wr_ref() {
  FutexLock l(&i_lock_);
  --wr_ref_;
}

// The Fw cap reference (ceph_get_caps before the page lock,
// ceph_put_cap_refs after) is held throughout, as in 5.15; v2.6.34's takes
// none here (the model's count then matters to no check).
vm_fault_t CephAdapter::page_mkwrite(VmFault& vmf) {
  if (mm_->reverted(Fix::k4af6b2257ee0)) return page_mkwrite_v2634rc1(vmf);
  Page* page = vmf.page;
  get_wr_ref();
  mkwrite_lock_page(vmf);
  if (!mkwrite_page_ok(page)) {
    mkwrite_unlock_page(vmf);
    put_wr_ref();
    return kVmFaultNoPage;  // truncated, or wholly past EOF
  }
  // Injected failure: ceph_write_begin failing (-ENOSPC, -EDQUOT from the
  // cap or quota checks) turns into VM_FAULT_SIGBUS before anything is dirtied.
  if (inject_mkwrite_failure()) {
    mkwrite_unlock_page(vmf);
    put_wr_ref();
    return kVmFaultSigbus;
  }
  update_writeable_page(page);
  finish_dirty(page);
  const vm_fault_t ret = mkwrite_done(vmf, options_.mkwrite_returns_locked);
  put_wr_ref();
  return ret;
}

// --revert=4af6b2257ee0: ceph_page_mkwrite as v2.6.34-rc1 had it (read at
// the fix's parent in the v2.6.34 mirror).  It never locked the faulting
// page itself: it called ceph_write_begin for the page's range, whose
// grab_cache_page_write_begin finds (or creates) and locks the page the
// index holds *now*, ran ceph_update_writeable_page on that page, then
// set_page_dirty on the faulting page, up_read(snap_rwsem),
// page_cache_release on the faulting page, and returned VM_FAULT_LOCKED (a
// WARN_ON(page != locked_page) in between).  With the faulting page
// truncated while ceph_page_mkwrite ran unlocked, the page it locked is
// another one: the VM is told the faulting page is locked when it is not
// (5.15's do_page_mkwrite: VM_BUG_ON_PAGE, fault_helpers.cc), the other page
// stays locked for good, and the faulting page loses a reference it never
// gave (set_page_dirty on it, detached, sets only PG_dirty).
// Differences: the model drops write_begin's reference from the page it
// was taken on, and unlocks the other page once it has traced the WARN_ON
// (v2.6.34-rc1 leaves it locked: the next lock_page of the index sleeps
// forever), so the run goes on to the VM's side; len is not derived from
// i_size (the model's update_writeable_page reads nothing in); the Fw
// reference is held as in the fixed path.
vm_fault_t CephAdapter::page_mkwrite_v2634rc1(VmFault& vmf) {
  Page* page = vmf.page;
  const uint64_t index = vmf.pgoff;
  get_wr_ref();
  SCHED_POINT(kPageMkwriteBeforeLockPage);
  bool created = false;
  Page* locked = mm_->mapping().find_or_create_page(index, &created);
  if (locked != page) {
    // The faulty step itself (the truncate may have come before
    // ->page_mkwrite was even called): a transition, no intruder.
    mm_->trace(index, Event::kWriteBeginOtherPage);
    mm_->transition(index, FaultPath::kPageMkwrite, FaultWindow::kWriteBeginLockedAnotherPage);
  }
  update_writeable_page(locked);
  mm_->set_page_dirty(page);
  snap_rwsem_.Unlock();
  if (locked != page) unlock_page(locked);  // the model's, not the kernel's (above)
  put_page(locked);
  put_wr_ref();
  return kVmFaultLocked;
}

// Models fs/ceph/addr.c:ceph_write_begin() / ceph_write_end() as of v2.6.34:
// the pwrite path waits and flushes as mkwrite does.  snap_rwsem is held from
// write_begin to write_end, as in v2.6.34.
// The write path's Fw reference (ceph_write_iter's ceph_get_caps ..
// ceph_put_cap_refs) is modeled from write_begin to write_end.
int CephAdapter::write_begin(Page* page, uint32_t offset, uint32_t len) {
  get_wr_ref();
  update_writeable_page(page);
  return 0;
}

int CephAdapter::write_end(Page* page, uint32_t offset, uint32_t len) {
  finish_dirty(page);
  put_wr_ref();
  return 0;
}

// Models fs/ceph/addr.c:writepage_nounlock() as of v2.6.34: synchronous, on
// a page the caller keeps locked throughout (ceph_update_writeable_page's
// flush of an older context; ceph_writepage, v2.6.34's single-page
// ->writepage, is this plus unlock_page).  It sets PG_writeback, waits for
// the OSD's acknowledgement (ceph_osdc_writepages with nofail), then clears
// page->private, ends writeback and drops the wrbuffer reference itself.
// Differences: the write cannot fail; the kswapd-only "not writeable - noop"
// case (context newer than the oldest) cannot arise with one pending
// snapshot.  Returns false, writing nothing, for a page with no context
// ("not dirty?"): the page stays clean, so whatever it held is lost
// silently.
bool CephAdapter::writepage_nounlock(Page* page) {
  const uint64_t index = page->index;
  {
    FutexLock l(&i_lock_);
    if (snapc_[index] == 0) return false;  // "not dirty?": nothing to write
    test_set_page_writeback(page);
    mm_->trace(index, Event::kSetPageWriteback);
    // The OSD write, waited for: the page's bytes as they are now.
    store().Write(index, 0, bytes_in_isize(index), mm_->mmu().kmap(index));
    retire_context(page);
  }
  end_page_writeback(*mm_, page);
  return true;
}

// Models the per-page body of fs/ceph/addr.c:ceph_writepages_start() as of
// v2.6.34, which is what background writeback and fsync reach (do_writepages
// calls ->writepages; the model's write_cache_pages has already locked the
// page and run clear_page_dirty_for_io).  The write is asynchronous and the
// page stays locked until its completion (writepages_finish) has dropped the
// context and ended writeback: the lock goes with the write
// (IoQueue::SubmitLocked).
//
// A dirty page with no snap context: v2.6.34 reads the page's context
// (`pgsnapc->seq`) without checking it for NULL and oopses in the flusher,
// leaving the page locked and its data unwritten.  The model reports that
// oops (`kernel_bug`) but does not crash the writeback thread; it writes
// nothing and unlocks, as the single-page path (writepage_nounlock's "not
// dirty?") would: the data is lost either way, and I3 (writepage_starts) and
// the ledger report it too.  Differences: the
// context check runs after clear_page_dirty_for_io here (before it there);
// one page per OSD request.
//
// Reclaim's pageout() calls ->writepage itself, which in v2.6.34 is
// ceph_writepage: writepage_nounlock (synchronous; "not dirty?" and nothing
// written without a context), then unlock_page.
int CephAdapter::writepage(Page* page, WritebackControl& wbc) {
  const uint64_t index = page->index;
  if (wbc.for_reclaim) {
    if (!writepage_nounlock(page)) mm_->trace(index, Event::kWritepageNoMetadata);
    unlock_page(page);
    return 0;
  }
  bool has_snapc;
  {
    FutexLock l(&i_lock_);
    has_snapc = snapc_[index] != 0;
    if (has_snapc) {
      len_[index] = bytes_in_isize(index);
      test_set_page_writeback(page);
      memcpy(snapshot(index), mm_->mmu().kmap(index), len_[index]);
    }
  }
  if (!has_snapc) {
    mm_->trace(index, Event::kWritepageNoMetadata);
    mm_->oracle().Report(RaceKind::kKernelBug, Invariant::kFs, index, 0, 0,
                         "NULL snap context dereferenced in ceph_writepages_start (v2.6.34: "
                         "pgsnapc->seq of a dirty page without page->private)");
    unlock_page(page);
    return 0;
  }
  mm_->trace(index, Event::kSetPageWriteback);
  mm_->io().SubmitLocked(page);  // writepages_finish unlocks
  return 0;
}

// Models fs/ceph/addr.c:writepages_finish() as of v2.6.34 up to
// end_page_writeback: the OSD acknowledged the write; the page's snap
// context (whichever it holds now) and its wrbuffer reference go.  The page
// is still locked by the write; the queue then ends writeback and unlocks
// it (IoQueue::Complete), in writepages_finish's order.  Since the lock is
// held from submit to here, only a set_page_dirty without the page lock
// (legacy's __do_fault, and do_wp_page after wait_on_page_locked) can attach
// a context this drops.
void CephAdapter::end_io(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  store().Write(index, 0, len_[index], snapshot(index));
  retire_context(page);
}

// The write's end as writepages_finish / writepage_nounlock have it (v2.6.34):
// the page's snap context, if it still holds one, and the write's wrbuffer
// reference go.
void CephAdapter::retire_context(Page* page) {
  const uint64_t index = page->index;
  if (snapc_[index] != 0) {
    snapc_[index] = 0;
    --nr_snapc_pages_;
    ClearPageFlag(page, PG_private);
    mm_->trace(index, Event::kMetadataRetire);
  }
  --wrbuffer_ref_;
  check_counters(index);
}

// Models fs/ceph/addr.c:ceph_releasepage() as of v2.6.34: a page holding a
// snap context stays.
bool CephAdapter::releasepage(Page* page, Gfp /*gfp*/) {
  FutexLock l(&i_lock_);
  return snapc_[page->index] == 0;
}

// Models fs/ceph/addr.c:ceph_invalidatepage() as of v2.6.34: the truncated
// page's context and reference are dropped with its data.
void CephAdapter::invalidatepage(Page* page) {
  const uint64_t index = page->index;
  FutexLock l(&i_lock_);
  if (snapc_[index] == 0) return;
  snapc_[index] = 0;
  --nr_snapc_pages_;
  --wrbuffer_ref_;
  ClearPageFlag(page, PG_private);
  mm_->trace(index, Event::kInvalidatepage);
  check_counters(index);
}

MetadataState CephAdapter::metadata_state(const Page* page, bool writable) const {
  FutexLock l(&i_lock_);
  if (snapc_[page->index] == 0) return MetadataState::kAbsent;
  // A context on a page under writeback belongs to that write: the
  // completion drops it.
  return PageWriteback(page) ? MetadataState::kNotDirtyCapable : MetadataState::kDirtyCapable;
}

// Models the snapshot side of fs/ceph/snap.c:ceph_handle_snap() as of
// v2.6.34: a new snap context for the realm, under snap_rwsem held for write
// (and, as there, no page lock under it).
void CephAdapter::background_step() {
  snap_rwsem_.Lock();  // ceph_handle_snap: down_write(&mdsc->snap_rwsem)
  realm_seq_.fetch_add(1, std::memory_order_acq_rel);
  snap_rwsem_.Unlock();
}

void CephAdapter::check_invariants() {
  FutexLock l(&i_lock_);
  check_counters(0);
}

uint64_t CephAdapter::page_snapc(uint64_t index) const {
  FutexLock l(&i_lock_);
  return snapc_[index];
}

int64_t CephAdapter::wrbuffer_ref() const {
  FutexLock l(&i_lock_);
  return wrbuffer_ref_;
}

std::unique_ptr<StoreBackedOps> MakeCephAdapter(bool mkwrite_returns_locked,
                                                bool flush_older_snapc) {
  CephAdapter::Options o;
  o.mkwrite_returns_locked = mkwrite_returns_locked;
  o.flush_older_snapc = flush_older_snapc;
  return std::make_unique<CephAdapter>(o);
}

}  // namespace pagerace
